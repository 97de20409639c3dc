"""The OpenAPI document (litestar's, plus what litestar cannot see: the bodies of routes that read their body
themselves, the admin writes' decoded with the config file's structs; each operation's error replies in the
gateway's envelope; tags; examples) and the interactive reference at `/docs`, whose Swagger UI assets the gateway
serves itself from an installed package, so the page works offline."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import openapi_ui_bundles.swagger_ui
from litestar import Litestar, Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    PathItem,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
    Tag,
)
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import JSONBody
from litestar.static_files import create_static_files_router

from gateway.config_reference import field_descriptions
from gateway.control.keys import KeyCreate
from gateway.errors import (
    Conflict,
    ContentPolicy,
    ErrorEnvelope,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NoProviderAvailable,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    QuotaExceeded,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    UnsupportedRequest,
    UpstreamFailed,
    UpstreamTimedOut,
)
from gateway.schema.wire import (
    CreateVideoBody,
    EditVideoBody,
    ExtendVideoBody,
    Health,
    PromptEnhanceBody,
    RemixVideoBody,
    Video,
    VideoDeleted,
    VideoList,
)
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from routing.rules import ProviderRule, RoutingRules

DOCS_ASSETS = "/docs/assets"

_Errors = tuple[type[GatewayError], ...]
# What any operation can answer: a 400 for an unknown query parameter, a repeated header or a malformed value.
_ANY: _Errors = (InvalidRequest,)
# ... and one that takes a key: a missing or unknown key, a key without the route's scope.
_KEYED: _Errors = (*_ANY, Unauthorized, Forbidden)
# ... and one that reads a body (413 past `[server] max_body_bytes`).
_BODY: _Errors = (*_KEYED, PayloadTooLarge)
# A job is made: the body's media type, the idempotency key, quotas, routing and the providers' submit answers.
_CREATES: _Errors = (
    *_BODY,
    UnsupportedMediaType,
    UnsupportedRequest,
    ContentPolicy,
    Conflict,
    RateLimited,
    QuotaExceeded,
    NoProviderAvailable,
    UpstreamFailed,
    UpstreamTimedOut,
    StoreUnavailable,
)

# The control plane's reads and its versioned writes (`If-Match`: 428 without it, 412 on a stale version).
_ADMIN_READ: _Errors = (*_KEYED, StoreUnavailable)
_ADMIN_WRITE: _Errors = (*_BODY, PreconditionFailed, PreconditionRequired, StoreUnavailable)

# The error replies of each operation, by operation id: what its handler and everything it calls can raise (see
# gateway/errors.py). A new route adds one line; tests/gateway/api/test_openapi.py fails for an operation missing
# here, and the schemathesis run in `make test` fails for a status the live route answers that is not listed.
OPERATION_ERRORS: dict[str, _Errors] = {
    "createVideo": _CREATES,
    "remixVideo": (*_CREATES, NotFound),
    "editVideo": (*_CREATES, NotFound),
    "extendVideo": (*_CREATES, NotFound),
    "listVideos": (*_KEYED, StoreUnavailable),
    "getVideo": (*_KEYED, NotFound, StoreUnavailable),
    "deleteVideo": (*_KEYED, NotFound, StoreUnavailable),
    "getVideoContent": (*_KEYED, NotFound, Conflict, UpstreamFailed, UpstreamTimedOut, StoreUnavailable),
    "streamVideoEvents": (*_KEYED, NotFound, StoreUnavailable),
    "getVideoWebhook": (*_KEYED, NotFound, StoreUnavailable),
    "createCharacter": _KEYED,
    "getCharacter": (*_KEYED, NotFound),
    "enhancePrompt": (*_BODY, UnsupportedRequest, NoProviderAvailable, UpstreamFailed, UpstreamTimedOut),
    "listModels": _KEYED,
    "getUsage": (*_KEYED, StoreUnavailable),
    "getUsageRecords": (*_KEYED, StoreUnavailable),
    "getBudgets": (*_KEYED, StoreUnavailable),
    "explain": (*_BODY, UnsupportedMediaType, StoreUnavailable),
    "providers": (*_KEYED, StoreUnavailable),
    "getRoutingRules": _KEYED,
    "reloadRoutingRules": (*_KEYED, Conflict),
    "healthz": _ANY,
    "readyz": (*_ANY, StoreUnavailable),
    # The control plane (gateway/api/admin.py declares its own statuses next to each route; these add the rest).
    "adminGetRouting": _ADMIN_READ,
    "adminRoutingHistory": _ADMIN_READ,
    "adminGetProvider": (*_ADMIN_READ, NotFound),
    "adminGetQuotas": _ADMIN_READ,
    "adminQuotasHistory": _ADMIN_READ,
    "adminGetTeam": _ADMIN_READ,
    "adminListKeys": _ADMIN_READ,
    "adminAudit": _ADMIN_READ,
    "adminReplicas": _ADMIN_READ,
    "adminPreviewRouting": (*_BODY, StoreUnavailable),
    "adminPutRouting": _ADMIN_WRITE,
    "adminRollbackRouting": (*_ADMIN_WRITE, NotFound),
    "adminPutProvider": (*_ADMIN_WRITE, NotFound),
    "adminPutQuotas": _ADMIN_WRITE,
    "adminRollbackQuotas": (*_ADMIN_WRITE, NotFound),
    "adminPutTeam": _ADMIN_WRITE,
    "adminCreateKey": (*_BODY, Conflict, StoreUnavailable),
    "adminRevokeKey": (*_ADMIN_READ, NotFound, Conflict),
    "adminRotateKey": (*_BODY, NotFound, Conflict, StoreUnavailable),
}

TAGS = {
    "videos": "Create, follow, download and delete video jobs (`videos` scope).",
    "models": "The canonical models, their providers and prices.",
    "usage": "Finance: usage, the ledger and budgets (`usage` scope).",
    "admin": "Operators: routing rules and plans, provider state (`admin` scope).",
    "ops": "Liveness and readiness, for load balancers and orchestrators (no key).",
}
# Tags by path prefix, first match wins: a new route under a known prefix is tagged with no edit here.
_TAG_BY_PREFIX = (
    ("/v1/videos", "videos"),
    ("/v1/prompts", "videos"),
    ("/v1/models", "models"),
    ("/v1/usage", "usage"),
    ("/v1/", "admin"),
    ("/", "ops"),
)


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="video-gateway",
        version="1",
        description="One /v1/videos API in front of several AI video-generation providers.",
        path="/docs",
        render_plugins=[swagger],
        use_handler_docstrings=True,
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="A gateway key: `Authorization: Bearer vgk_...`"
                )
            }
        ),
        security=[{"bearer": []}],
        tags=[Tag(name=name, description=description) for name, description in TAGS.items()],
    )


def docs_assets() -> Router:
    """Swagger UI's files from the installed `openapi-ui-bundles` package, cached a day by browsers."""
    return create_static_files_router(
        path=DOCS_ASSETS,
        directories=[openapi_ui_bundles.swagger_ui.static_path],
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86_400, public=True),
        name="docs_assets",
    )


@get("/error", sync_to_thread=False)
def _documented_error() -> ErrorEnvelope:
    """Only puts the envelope's schema in the components."""
    raise NotImplementedError


def _documented_body(operation_id: str, body: type[msgspec.Struct]) -> HTTPRouteHandler:
    """A route that only documents `body`, for an operation whose handler reads its body itself."""

    def handler(data: Any) -> None:
        return None

    handler.__annotations__ = {"data": JSONBody[body], "return": None}  # type: ignore[misc,valid-type]
    return post(f"/{operation_id}", sync_to_thread=False, name=operation_id)(handler)


_CREATE_FORM = (
    "The OpenAI SDK's form: every field of the JSON body, nested objects as bracketed keys (`metadata[project]`,"
    " `routing[strategy]`), list items repeated with `[]` (`routing[providers][]`, `scenes[][prompt]`), every value"
    " a string; plus an optional `input_reference` image file."
)
_SOURCE_FORM = (
    "The OpenAI SDK's form: `prompt`, `model`, `seconds` as text fields, and the source as `video[id]` (a completed"
    " video) or a `video` MP4 file."
)
# Operations whose handler reads its body itself (JSON, or a multipart form where the form's description is given):
# the JSON body's schema comes from the struct, the form's from its description and file part.
BODIES: dict[str, tuple[type[msgspec.Struct], str | None, str | None]] = {
    "createVideo": (CreateVideoBody, _CREATE_FORM, "input_reference"),
    "explain": (CreateVideoBody, _CREATE_FORM, "input_reference"),
    "remixVideo": (RemixVideoBody, "The OpenAI SDK's form: `prompt`, `model`, `seconds` as text fields.", None),
    "editVideo": (EditVideoBody, _SOURCE_FORM, "video"),
    "extendVideo": (ExtendVideoBody, _SOURCE_FORM, "video"),
    "enhancePrompt": (PromptEnhanceBody, None, None),
}


_VIDEO_ID = "video_01a24a4a75ae4e56dd13a259faf5"
_FOX = "a red fox running through fresh snow at golden hour -people"
# Example bodies, by operation id (what the docs page's "Try it out" starts from).
REQUEST_EXAMPLES: dict[str, dict[str, object]] = {
    "createVideo": {"model": "scenex", "prompt": _FOX, "seconds": 5, "size": "832x480", "metadata": {"project": "x"}},
    "explain": {"model": "auto", "prompt": _FOX, "seconds": 5, "routing": {"strategy": "cheapest"}},
    "remixVideo": {"prompt": "the same fox, now at night under the northern lights"},
    "editVideo": {"video": {"id": _VIDEO_ID}, "prompt": "make the snow fall harder"},
    "extendVideo": {"video": {"id": _VIDEO_ID}, "prompt": "the fox stops and looks back", "seconds": 4},
    "enhancePrompt": {"prompt": "fox in snow"},
}
_QUEUED_VIDEO: dict[str, object] = {
    "id": _VIDEO_ID,
    "object": "video",
    "status": "queued",
    "progress": 0,
    "model": "scenex",
    "provider": "vidgen",
    "created_at": 1767225600,
    "completed_at": None,
    "expires_at": None,
    "prompt": _FOX,
    "seconds": "5",
    "size": "832x480",
    "output": None,
    "error": None,
    "usage": None,
    "routing": {"strategy": "balanced", "attempts": [{"provider": "vidgen", "outcome": "accepted"}]},
    "warnings": [],
    "metadata": {"project": "x"},
}
_COMPLETED_VIDEO: dict[str, object] = {
    **_QUEUED_VIDEO,
    "status": "completed",
    "progress": 100,
    "completed_at": 1767225671,
    "expires_at": 1767829671,
    "output": {
        "video_url": f"https://gateway.example.com/v1/videos/{_VIDEO_ID}/content",
        "thumbnail_url": f"https://gateway.example.com/v1/videos/{_VIDEO_ID}/content?variant=thumbnail",
        "provenance": {"c2pa": "true", "watermark": "true"},
    },
    "usage": {"video_seconds": 5, "cost_usd": 0.1, "cost_source": "price_table"},
}
# Example replies, by operation id: (status, the reply's struct). Structs, not dicts: decoding checks each example
# against its type, and litestar keeps a struct's null fields, where it drops a dict's.
REPLY_EXAMPLES: dict[str, tuple[str, msgspec.Struct]] = {
    "createVideo": ("202", msgspec.convert(_QUEUED_VIDEO, Video)),
    "remixVideo": (
        "202",
        msgspec.convert({**_QUEUED_VIDEO, "remixed_from_video_id": _VIDEO_ID, "operation": "remix"}, Video),
    ),
    "getVideo": ("200", msgspec.convert(_COMPLETED_VIDEO, Video)),
    "listVideos": (
        "200",
        msgspec.convert(
            {"data": [_COMPLETED_VIDEO], "first_id": _VIDEO_ID, "last_id": _VIDEO_ID, "has_more": False}, VideoList
        ),
    ),
    "deleteVideo": ("200", VideoDeleted(id=_VIDEO_ID)),
    "healthz": ("200", Health(status="ok")),
    "readyz": ("200", Health(status="ok", checks={"store": "ok", "config": "loaded"})),
}


def _add_examples(operation: Operation) -> None:
    operation_id = operation.operation_id or ""
    body = operation.request_body
    if operation_id in REQUEST_EXAMPLES and isinstance(body, RequestBody):
        body.content["application/json"].example = REQUEST_EXAMPLES[operation_id]
    if operation_id in REPLY_EXAMPLES:
        status, example = REPLY_EXAMPLES[operation_id]
        reply = (operation.responses or {})[status]
        assert isinstance(reply, OpenAPIResponse)
        assert reply.content is not None
        reply.content["application/json"].example = example


class _RollbackDoc(msgspec.Struct, kw_only=True):
    version: int
    """The earlier version to restore, as a new version."""


class _PreviewDoc(msgspec.Struct, kw_only=True):
    routing: RoutingRules
    """The proposed `[routing]` table, as `PUT /v1/admin/routing` takes it."""
    request: CreateVideoBody
    """A create body, as `POST /v1/videos` takes it."""
    team: str | None = None
    """Evaluate the rules as this team (default: the caller's)."""


# Each admin write's body, documented from msgspec's JSON schema (litestar's generator cannot hash the dict
# defaults of the config structs).
_ADMIN_BODIES: tuple[tuple[str, str, type[msgspec.Struct]], ...] = (
    ("/v1/admin/routing", "put", RoutingRules),
    ("/v1/admin/routing/rollback", "post", _RollbackDoc),
    ("/v1/admin/quotas/rollback", "post", _RollbackDoc),
    ("/v1/admin/routing/preview", "post", _PreviewDoc),
    ("/v1/admin/providers/{slug}", "put", ProviderRule),
    ("/v1/admin/quotas", "put", QuotaSettings),
    ("/v1/admin/teams/{team}", "put", QuotaLimits),
    ("/v1/admin/keys", "post", KeyCreate),
)


def render_openapi(app: Litestar) -> str:
    """The document as committed in openapi/openapi.json: indented, sorted keys, sets as sorted lists."""

    def sets_as_lists(value: object) -> object:
        if isinstance(value, set | frozenset):
            return sorted(value)
        if isinstance(value, msgspec.Struct):  # an example reply
            return msgspec.to_builtins(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, default=sets_as_lists) + "\n"


def patch_openapi(app: Litestar) -> None:
    """Add what litestar cannot see: the bodies routes read themselves, error replies in the envelope, tags."""
    documented = [_documented_body(operation_id, body) for operation_id, (body, _, _) in BODIES.items()]
    phantom = Litestar(route_handlers=[*documented, _documented_error], openapi_config=openapi_config()).openapi_schema
    schema = app.openapi_schema
    components = schema.components
    for name, component in (phantom.components.schemas or {}).items():
        components.schemas.setdefault(name, component)
    for struct in _strict_structs([body for body, _, _ in BODIES.values()]):
        components.schemas[struct.__name__].additional_properties = False
    _document_admin_bodies(schema.paths or {}, components.schemas)
    _describe_fields(components.schemas)
    for path, item in (schema.paths or {}).items():
        for operation in _operations(item):
            operation.tags = [next(tag for prefix, tag in _TAG_BY_PREFIX if path.startswith(prefix))]
            _document_errors(operation)
            if operation.operation_id in BODIES:
                phantom_item = (phantom.paths or {})[f"/{operation.operation_id}"]
                assert phantom_item.post is not None
                assert isinstance(phantom_item.post.request_body, RequestBody)
                operation.request_body = _body(phantom_item.post.request_body, *BODIES[operation.operation_id][1:])
            if operation.operation_id in _CSV_REPLIES:
                _add_csv(operation)
            _document_redirects(operation)
            _add_examples(operation)


def _describe_fields(schemas: dict[str, Any]) -> None:
    """A field with no `Meta(description=...)` takes its attribute docstring (the string under the field, as the
    configuration reference reads it), so structs shared with the config file are described once, in the code."""
    structs = _our_structs()
    for name, schema in schemas.items():
        struct = structs.get(name)
        if struct is None:
            continue
        described = field_descriptions(struct)
        wire_names = dict(zip(struct.__struct_encode_fields__, struct.__struct_fields__, strict=True))
        # litestar's Schema objects, or the plain JSON Schema dicts msgspec makes for the admin bodies.
        properties = schema.properties if isinstance(schema, Schema) else schema.get("properties")
        for wire_name, field in (properties or {}).items():
            text = described.get(wire_names.get(wire_name, wire_name))
            if not text:
                continue
            if isinstance(field, dict):
                field.setdefault("description", text)
            elif not field.description:
                field.description = text


def _our_structs() -> dict[str, type[msgspec.Struct]]:
    """Every msgspec struct of the gateway, routing and providers packages by class name (litestar's component
    names); a name two classes share is left out rather than guessed."""
    found: dict[str, type[msgspec.Struct]] = {}
    shared: set[str] = set()
    pending: list[type[msgspec.Struct]] = list(msgspec.Struct.__subclasses__())
    while pending:
        struct = pending.pop()
        pending.extend(struct.__subclasses__())
        if not struct.__module__.startswith(("gateway.", "routing.", "providers.")):
            continue
        if struct.__name__ in found and found[struct.__name__] is not struct:
            shared.add(struct.__name__)
        found[struct.__name__] = struct
    return {name: struct for name, struct in found.items() if name not in shared}


def _strict_structs(roots: list[type[msgspec.Struct]]) -> set[type[msgspec.Struct]]:
    """The structs reachable from `roots` that refuse unknown fields (a 400 `unknown_field`): their schemas say
    `additionalProperties: false`, which litestar leaves out."""
    found: set[type[msgspec.Struct]] = set()
    pending: list[object] = list(msgspec.inspect.multi_type_info(roots))
    while pending:
        node = pending.pop()
        if isinstance(node, msgspec.inspect.StructType):
            if node.cls in found:
                continue
            if node.forbid_unknown_fields:
                found.add(node.cls)
            pending.extend(field.type for field in node.fields)
        elif isinstance(node, msgspec.inspect.Type):  # a list, union, dict, constrained type...: its parts
            for value in (getattr(node, name) for name in node.__struct_fields__):
                pending.extend(value if isinstance(value, tuple) else [value])
    return found


def _document_redirects(operation: Operation) -> None:
    """A redirect has an empty body and says where in `Location` (litestar would document a JSON body)."""
    for status, response in (operation.responses or {}).items():
        if status.startswith("3") and isinstance(response, OpenAPIResponse):
            response.content = None
            response.description = "A redirect: the target URL is in `Location`; the body is empty"
            response.headers = {
                "Location": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI))
            }


def _body(json_body: RequestBody, form: str | None, file_part: str | None) -> RequestBody:
    content = dict(json_body.content)
    if form is not None:
        files = {} if file_part is None else {file_part: Schema(type=OpenAPIType.STRING, format="binary")}  # type: ignore[arg-type]
        content["multipart/form-data"] = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.OBJECT, description=form, properties=files)  # type: ignore[arg-type]
        )
    return RequestBody(required=True, content=content)


def _document_admin_bodies(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    refs, definitions = msgspec.json.schema_components(
        [body for _, _, body in _ADMIN_BODIES], ref_template="#/components/schemas/{name}"
    )
    for name, definition in definitions.items():
        schemas.setdefault(name, definition)  # plain JSON Schema; the renderer passes dicts through
    for (path, method, _), ref in zip(_ADMIN_BODIES, refs, strict=True):
        served = getattr(paths[path], method, None)
        if served is None:
            raise RuntimeError(f"could not document {method.upper()} {path}")
        media = OpenAPIMediaType(schema=Reference(ref=ref["$ref"]))
        served.request_body = RequestBody(required=True, content={"application/json": media})


def _operations(item: PathItem) -> list[Operation]:
    methods = (item.get, item.put, item.post, item.delete, item.patch)
    return [operation for operation in methods if operation is not None]


def _document_errors(operation: Operation) -> None:
    """Every error status the operation can answer, in the gateway's envelope (never litestar's default shape)."""
    public = operation.security == [{}]
    errors = OPERATION_ERRORS.get(operation.operation_id or "", _ANY if public else _KEYED)
    responses = operation.responses or {}
    for status in sorted({error.status_code for error in errors}):
        classes = [error for error in errors if error.status_code == status]
        declared = responses.get(str(status))
        # A route that declares a status in the envelope next to its handler keeps its own description.
        kept = declared.description if isinstance(declared, OpenAPIResponse) and _is_envelope(declared) else None
        responses[str(status)] = OpenAPIResponse(
            description=kept or _describe(classes),
            content={
                "application/json": OpenAPIMediaType(
                    schema=Reference(ref="#/components/schemas/ErrorEnvelope"),
                    example=_example(classes[0]),
                )
            },
        )
    operation.responses = responses


def _is_envelope(response: OpenAPIResponse) -> bool:
    media = (response.content or {}).get("application/json")
    return media is not None and isinstance(media.schema, Reference) and media.schema.ref.endswith("/ErrorEnvelope")


def _describe(classes: list[type[GatewayError]]) -> str:
    types = sorted({f"`{error.type}`" for error in classes})
    retryable = {error.retryable for error in classes}
    retry = " (retryable)" if retryable == {True} else " (some retryable)" if True in retryable else ""
    return f"{', '.join(types)}{retry}: `error.code` and `error.message` say which and why"


def _example(error: type[GatewayError]) -> dict[str, object]:
    body = error(_EXAMPLE_MESSAGES.get(error.type, "see `error.code`")).body("2f1c0a9b3e4d0000000001")
    example: dict[str, object] = msgspec.to_builtins(body)
    return example


_EXAMPLE_MESSAGES = {
    "invalid_request": "unknown query parameter `limt`",
    "unauthorized": "missing Authorization header; send `Authorization: Bearer <key>`",
    "forbidden": "this key lacks the `usage` scope",
    "not_found": "no video vid_0123456789abcdef",
}

# Operations whose 200 is also `text/csv` with `format=csv`.
_CSV_REPLIES = ("getUsage", "getUsageRecords", "getBudgets")


def _add_csv(operation: Operation) -> None:
    ok = (operation.responses or {}).get("200")
    if isinstance(ok, OpenAPIResponse) and ok.content:
        ok.content["text/csv"] = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.STRING, description="One header row, then one row per record")
        )

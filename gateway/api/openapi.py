"""The OpenAPI document: litestar's, plus the create body, which the route reads itself (JSON or multipart)."""

from __future__ import annotations

import json

from litestar import Litestar, post
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import JSONBody

from gateway.schema.wire import CreateVideoBody


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="video-gateway",
        version="1",
        description="One /v1/videos API in front of several AI video-generation providers.",
        path="/docs",
        render_plugins=[ScalarRenderPlugin()],
    )


@post("/v1/videos", sync_to_thread=False)
def _documented_create(data: JSONBody[CreateVideoBody]) -> None:
    """Only documents the body; the served route is gateway.api.videos.create_video."""


def render_openapi(app: Litestar) -> str:
    """The document as committed in openapi/openapi.json: indented, sorted keys, sets as sorted lists."""

    def sets_as_lists(value: object) -> object:
        if isinstance(value, set | frozenset):
            return sorted(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, default=sets_as_lists) + "\n"


def patch_openapi(app: Litestar) -> None:
    """Give `POST /v1/videos` its real request body (generated from the struct) and both media types."""
    phantom = Litestar(route_handlers=[_documented_create], openapi_config=openapi_config()).openapi_schema
    schema = app.openapi_schema
    phantom_op = phantom.paths["/v1/videos"].post if phantom.paths else None
    target = schema.paths["/v1/videos"].post if schema.paths else None
    if phantom_op is None or target is None or phantom_op.request_body is None:
        raise RuntimeError("could not document POST /v1/videos")
    json_body = phantom_op.request_body
    assert isinstance(json_body, RequestBody)
    form = Schema(
        type=OpenAPIType.OBJECT,
        description="OpenAI SDK form: prompt, model, seconds, size and other scalar fields; input_reference file.",
        properties={"input_reference": Schema(type=OpenAPIType.STRING, format="binary")},  # type: ignore[arg-type]
    )
    target.request_body = RequestBody(
        required=True,
        content={**json_body.content, "multipart/form-data": OpenAPIMediaType(schema=form)},
    )
    components = schema.components
    for name, component in (phantom.components.schemas or {}).items():
        components.schemas.setdefault(name, component)

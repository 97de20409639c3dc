"""The OpenAPI document (litestar's, plus the create body, which the route reads itself: JSON or multipart) and the
interactive reference at `/docs`, whose Swagger UI assets the gateway serves itself from an installed package, so
the page works with no internet."""

from __future__ import annotations

import json

import openapi_ui_bundles.swagger_ui
from litestar import Litestar, Router, post
from litestar.datastructures import CacheControlHeader
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, OpenAPIMediaType, RequestBody, Schema, SecurityScheme
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import JSONBody
from litestar.static_files import create_static_files_router

from gateway.schema.wire import CreateVideoBody

DOCS_ASSETS = "/docs/assets"


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
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="A gateway key: `Authorization: Bearer vgk_...`"
                )
            }
        ),
        security=[{"bearer": []}],
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
        description=(
            "The OpenAI SDK's form: every field of the JSON body, nested objects as bracketed keys"
            " (`metadata[project]`, `routing[strategy]`), list items repeated with `[]` (`routing[providers][]`,"
            " `scenes[][prompt]`), every value a string; plus an optional `input_reference` image file."
        ),
        properties={"input_reference": Schema(type=OpenAPIType.STRING, format="binary")},  # type: ignore[arg-type]
    )
    target.request_body = RequestBody(
        required=True,
        content={**json_body.content, "multipart/form-data": OpenAPIMediaType(schema=form)},
    )
    components = schema.components
    for name, component in (phantom.components.schemas or {}).items():
        components.schemas.setdefault(name, component)

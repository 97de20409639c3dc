"""The OpenAPI document: the committed `openapi/openapi.json` matches the app, covers the built routes, and
documents both create bodies; the interactive docs page is served."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.api.openapi import render_openapi
from gateway.app import create_app
from gateway.auth import KeyRing
from gateway.config import load_settings
from tests.conftest import GatewayFactory, gateway_settings

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "openapi" / "openapi.json"
EXAMPLE_CONFIG = ROOT / "deploy" / "gateway.example.toml"


def _generated() -> dict[str, Any]:
    """What `video-gateway openapi --config deploy/gateway.example.toml` prints, as parsed JSON."""
    app = create_app(load_settings(EXAMPLE_CONFIG), keyring=KeyRing({}), run_poller=False)
    document: dict[str, Any] = json.loads(render_openapi(app))
    return document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _generated()


def test_committed_openapi_matches_the_app(document: dict[str, Any]) -> None:
    """`openapi/openapi.json` is exactly what the app generates now."""
    committed = json.loads(COMMITTED.read_text())
    assert committed == document, (
        "openapi/openapi.json is stale: regenerate it with `make openapi` "
        "(video-gateway openapi --config deploy/gateway.example.toml > openapi/openapi.json) and commit it"
    )


def test_committed_openapi_is_formatted_as_the_cli_prints_it(document: dict[str, Any]) -> None:
    """The committed file is the CLI's exact output (indented, sorted keys), so a regenerate gives no diff."""
    expected = json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert COMMITTED.read_text() == expected, "regenerate openapi/openapi.json with `make openapi`"


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/videos", {"post", "get"}),
        ("/v1/videos/{video_id}", {"get", "delete"}),
        ("/v1/videos/{video_id}/content", {"get"}),
        ("/healthz", {"get"}),
        ("/readyz", {"get"}),
    ],
)
def test_document_has_every_built_route(document: dict[str, Any], path: str, methods: set[str]) -> None:
    """Each DESIGN §3 route built so far is in the document with its methods."""
    assert path in document["paths"], sorted(document["paths"])
    assert methods <= set(document["paths"][path])


def test_create_body_documents_json_and_multipart(document: dict[str, Any]) -> None:
    """`POST /v1/videos` takes the CreateVideoBody JSON schema and the SDK's multipart form."""
    body = document["paths"]["/v1/videos"]["post"]["requestBody"]
    assert body["required"] is True
    json_schema = body["content"]["application/json"]["schema"]
    assert json_schema == {"$ref": "#/components/schemas/CreateVideoBody"}
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["input_reference"]["format"] == "binary"


def test_create_body_schema_is_in_components_with_its_fields(document: dict[str, Any]) -> None:
    """The referenced CreateVideoBody component exists with the canonical fields and its nested schemas."""
    schemas = document["components"]["schemas"]
    create = schemas["CreateVideoBody"]
    assert {"model", "prompt", "scenes", "image", "seconds", "size", "routing", "metadata"} <= set(create["properties"])
    for name in ("SceneBody", "ImageBody", "RoutingBody"):
        assert name in schemas


def test_list_documents_its_query_parameters(document: dict[str, Any]) -> None:
    """`GET /v1/videos` documents `limit`, `after`, `order` and `status`, and no internal dependency."""
    parameters = document["paths"]["/v1/videos"]["get"]["parameters"]
    names = {p["name"] for p in parameters}
    assert names == {"limit", "after", "order", "status"}


@pytest.fixture
async def gateway(vidgen_key: str, serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_gateway(gateway_settings("http://127.0.0.1:9")) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        yield client


async def test_docs_page_is_served_as_html(gateway: httpx.AsyncClient) -> None:
    """`GET /docs` answers 200 with an HTML page, without a key."""
    reply = await gateway.get("/docs")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/html")
    assert "<html" in reply.text.lower()


async def test_docs_page_loads_only_assets_the_gateway_serves(gateway: httpx.AsyncClient) -> None:
    """Every script, stylesheet and icon `/docs` references is a same-origin path the gateway answers 200 for,
    with the right type and a real Swagger UI body: the page works with no internet."""
    page = (await gateway.get("/docs")).text
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page)
    assert sorted(referenced) == [
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui-standalone-preset.js",
        "/docs/assets/swagger-ui.css",
    ]
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for path in referenced:
        reply = await gateway.get(path)
        assert reply.status_code == 200, path
        assert kinds[path[path.rindex(".") :]] in reply.headers["content-type"], path
        assert len(reply.content) > 500, path
    bundle = (await gateway.get("/docs/assets/swagger-ui-bundle.js")).text
    assert "SwaggerUIBundle" in bundle


async def test_the_document_offers_bearer_auth(document: dict[str, Any]) -> None:
    """The document declares a bearer scheme every operation uses unless it is public (health checks)."""
    assert document["components"]["securitySchemes"]["bearer"] == {
        "description": "A gateway key: `Authorization: Bearer vgk_...`",
        "scheme": "bearer",
        "type": "http",
    }
    assert document["security"] == [{"bearer": []}]
    assert document["paths"]["/healthz"]["get"]["security"] == [{}]


async def test_served_document_lists_the_create_route(gateway: httpx.AsyncClient) -> None:
    """The served `/docs/openapi.json` is the patched document (multipart create included)."""
    reply = await gateway.get("/docs/openapi.json")
    assert reply.status_code == 200
    content = reply.json()["paths"]["/v1/videos"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)

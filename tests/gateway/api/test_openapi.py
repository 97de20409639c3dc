"""The OpenAPI document: the committed `openapi/openapi.json` matches the app, covers the built routes, and
documents both create bodies; the interactive docs page is served."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from gateway.api.openapi import OPERATION_ERRORS, render_openapi
from gateway.app import create_app
from gateway.auth import KeyRing
from gateway.config import load_settings
from gateway.schema.wire import CreateVideoBody, ExtendVideoBody, RemixVideoBody, Video
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


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [operation for item in document["paths"].values() for operation in item.values()]


def test_every_operation_is_in_the_error_table(document: dict[str, Any]) -> None:
    """A route whose operation id has no line in `OPERATION_ERRORS` fails here, so its errors get documented."""
    missing = sorted({op["operationId"] for op in _operations(document)} - set(OPERATION_ERRORS))
    assert missing == [], f"add a line for {missing} to OPERATION_ERRORS in gateway/api/openapi.py"


def test_no_reply_is_documented_in_litestars_default_error_shape(document: dict[str, Any]) -> None:
    """Every 4xx and 5xx reply of every operation is the `{"error": {...}}` envelope, never `{status_code, detail}`."""
    for operation in _operations(document):
        for status, reply in operation["responses"].items():
            if status[0] in "45":
                schema = reply["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (operation["operationId"], status)
    text = json.dumps(document)
    assert "Validation Exception" not in text
    assert "Bad request syntax or unsupported method" not in text


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("createVideo", {"202", "400", "401", "403", "409", "413", "415", "429", "502", "503", "504"}),
        ("getVideo", {"200", "400", "401", "403", "404", "503"}),
        ("getVideoContent", {"200", "302", "400", "401", "403", "404", "409", "502", "503", "504"}),
        ("getUsage", {"200", "400", "401", "403", "503"}),
        ("reloadRoutingRules", {"200", "400", "401", "403", "409"}),
        ("healthz", {"200", "400"}),
        ("readyz", {"200", "400", "503"}),
    ],
)
def test_operations_document_the_statuses_they_answer(
    document: dict[str, Any], operation_id: str, statuses: set[str]
) -> None:
    """Each operation lists exactly the statuses its handler can answer (gateway/errors.py classes it raises)."""
    (operation,) = [op for op in _operations(document) if op["operationId"] == operation_id]
    assert set(operation["responses"]) == statuses


def test_the_error_envelope_is_the_gateways(document: dict[str, Any]) -> None:
    """The envelope component is gateway/errors.py's ErrorBody, every field described, with an example per status."""
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"type", "code", "message", "param", "provider", "retryable", "request_id"}
    assert set(body["required"]) == {"type", "code", "message"}
    assert all(field.get("description") for field in body["properties"].values())
    (create,) = [op for op in _operations(document) if op["operationId"] == "createVideo"]
    example = create["responses"]["429"]["content"]["application/json"]["example"]
    assert example["error"]["type"] == "rate_limited"


def test_every_operation_has_a_summary_description_and_one_known_tag(document: dict[str, Any]) -> None:
    """Operations carry a summary, a description and one of the five tags the document declares."""
    assert [tag["name"] for tag in document["tags"]] == ["videos", "models", "usage", "admin", "ops"]
    for operation in _operations(document):
        assert operation.get("summary"), operation["operationId"]
        assert operation.get("description"), operation["operationId"]
        assert len(operation["tags"]) == 1, operation["operationId"]
        assert operation["tags"][0] in {"videos", "models", "usage", "admin", "ops"}, operation["operationId"]


@pytest.mark.parametrize("operation_id", ["remixVideo", "editVideo", "extendVideo", "enhancePrompt", "explain"])
def test_routes_reading_their_own_body_document_it(document: dict[str, Any], operation_id: str) -> None:
    """Routes that decode their body themselves still document its JSON schema."""
    (operation,) = [op for op in _operations(document) if op["operationId"] == operation_id]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].startswith("#/components/schemas/")
    assert schema["$ref"].rsplit("/", 1)[1] in document["components"]["schemas"]


def test_redirects_document_no_body(document: dict[str, Any]) -> None:
    """The content route's 302 has `Location` and no body (litestar alone would document a JSON one)."""
    (operation,) = [op for op in _operations(document) if op["operationId"] == "getVideoContent"]
    redirect = operation["responses"]["302"]
    assert "content" not in redirect
    assert set(redirect["headers"]) == {"Location"}


def test_usage_reports_document_csv(document: dict[str, Any]) -> None:
    """`format=csv` answers text/csv, so the reports' 200 lists it beside JSON."""
    for operation in _operations(document):
        if operation["operationId"] in ("getUsage", "getUsageRecords"):
            assert set(operation["responses"]["200"]["content"]) == {"application/json", "text/csv"}


@pytest.mark.parametrize(
    ("operation_id", "body_type"),
    [("createVideo", CreateVideoBody), ("remixVideo", RemixVideoBody), ("extendVideo", ExtendVideoBody)],
)
def test_request_examples_decode_as_their_body(document: dict[str, Any], operation_id: str, body_type: type) -> None:
    """Each documented request example is a body the route accepts (strict decode: no unknown field)."""
    (operation,) = [op for op in _operations(document) if op["operationId"] == operation_id]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    assert msgspec.convert(example, body_type).prompt  # type: ignore[attr-defined]


@pytest.mark.parametrize(("operation_id", "status"), [("createVideo", "202"), ("getVideo", "200")])
def test_reply_examples_are_whole_videos(document: dict[str, Any], operation_id: str, status: str) -> None:
    """The Video examples keep their null fields (litestar drops a dict's), so they match the required fields."""
    (operation,) = [op for op in _operations(document) if op["operationId"] == operation_id]
    example = operation["responses"][status]["content"]["application/json"]["example"]
    required = set(document["components"]["schemas"]["Video"]["required"])
    assert required <= set(example)
    assert msgspec.convert(example, Video).id == "video_01a24a4a75ae4e56dd13a259faf5"


def test_every_field_of_every_schema_is_described(document: dict[str, Any]) -> None:
    """Each field of every component (bodies, replies, the error envelope, the control plane's documents) carries a
    description: its `Meta(description=...)` or, for structs shared with the config file, its attribute docstring."""
    undescribed = [
        f"{component}.{name}"
        for component, schema in document["components"]["schemas"].items()
        for name, field in schema.get("properties", {}).items()
        if not field.get("description")
    ]
    assert undescribed == []
    assert len(document["components"]["schemas"]["Capabilities"]["properties"]) > 20  # the shared structs are in

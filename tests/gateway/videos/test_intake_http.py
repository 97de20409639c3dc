"""Intake over HTTP: every client mistake in a create body, a multipart form, a list query or a path reaches
the client as a named 4xx error envelope, never a 500. What normalize builds is tested without HTTP elsewhere."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import VIDGEN_KEY_ENV, auth, gateway_settings
from tests.conftest import test_keyring as keyring_for_tests
from tests.gateway.videos.conftest import MAX_IMAGE_BYTES, PNG, data_uri

BODY_LIMIT = 8192


# One gateway (and emulator) serves every HTTP test here: malformed requests leave no state behind, and
# starting and stopping a pair costs ~0.4 s.
on_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    vidgen_key = "sbx_" + secrets.token_hex(12)
    extra = f"[server]\nmax_body_bytes = {BODY_LIMIT}\n[limits]\nmax_image_bytes = {MAX_IMAGE_BYTES}\n"
    emulator = create_vidgen_emulator(VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.25))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(VIDGEN_KEY_ENV, vidgen_key)
        async with serve_app(emulator) as vidgen_url:
            app = create_app(gateway_settings(vidgen_url, extra=extra), keyring=keyring_for_tests())
            async with serve_app(app) as url, httpx.AsyncClient(base_url=url, headers=auth()) as client:
                yield client


def _envelope(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["request_id"] == reply.headers["x-request-id"]
    assert "Traceback" not in reply.text
    return error


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"prompt": 5}, "invalid_value", "prompt"),
        ({"prompt": "a", "seed": -1}, "invalid_value", "seed"),
        ({"prompt": "a", "seconds": "9"}, "invalid_value", "seconds"),
        ({"prompt": "a", "enhance_prompt": "yes"}, "invalid_value", "enhance_prompt"),
        ({"prompt": "a", "routing": {"strategy": "random"}}, "invalid_value", "routing.strategy"),
        ({"prompt": "a", "colour": "red"}, "unknown_field", "colour"),
        ({"scenes": [{"prompt": "a", "foo": 1}]}, "unknown_field", "scenes[0].foo"),
        ({"scenes": [{"prompt": "a", "image": {"uri": "x"}}]}, "unknown_field", "scenes[0].image.uri"),
        ({"scenes": []}, "invalid_value", "scenes"),
        ({"scenes": [{}]}, "missing_field", "scenes[0]"),
        ({"prompt": ""}, "invalid_value", "prompt"),
        (
            {"prompt": "a", "image": {"data_uri": "data:image/png;base64,!!"}},
            "invalid_value",
            "image.data_uri",
        ),
        ({"prompt": "a", "size": "big"}, "invalid_value", "size"),
        ({"prompt": "a", "size": "1280x720", "resolution": "720p"}, "conflicting_fields", "size"),
    ],
)
@on_module_loop
async def test_malformed_json_body_is_a_400_naming_the_param(
    gateway: httpx.AsyncClient, body: dict[str, Any], code: str, param: str
) -> None:
    """Wrong types, out-of-range values, unknown (nested) fields and conflicts are 400s naming the param."""
    error = _envelope(await gateway.post("/v1/videos", json=body), 400)
    assert (error["type"], error["code"], error["param"]) == ("invalid_request", code, param)


@pytest.mark.parametrize("content", [b"{nope", b"", b'{"prompt": "a"', b"\xff\xfe", b"[1, 2]", b"null"])
@on_module_loop
async def test_invalid_json_is_a_400(gateway: httpx.AsyncClient, content: bytes) -> None:
    """A body that is not a JSON object is a 400 envelope, never a 500."""
    reply = await gateway.post("/v1/videos", content=content, headers={"content-type": "application/json"})
    error = _envelope(reply, 400)
    assert error["code"] in ("invalid_json", "invalid_value")


@on_module_loop
async def test_oversized_body_is_a_413(gateway: httpx.AsyncClient) -> None:
    """A body over `server.max_body_bytes` is a 413 envelope, with or without a Content-Length."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "' + b"x" * BODY_LIMIT + b'"}'

    sized = await gateway.post("/v1/videos", json={"prompt": "x" * BODY_LIMIT})
    chunked = await gateway.post("/v1/videos", content=chunks(), headers={"content-type": "application/json"})
    for reply in (sized, chunked):
        assert _envelope(reply, 413)["type"] == "payload_too_large"


@on_module_loop
async def test_oversized_image_is_a_413_naming_it(gateway: httpx.AsyncClient) -> None:
    """An inline image over `limits.max_image_bytes` (but inside the body limit) is a 413 naming the image."""
    body = {"prompt": "a", "image": {"data_uri": data_uri(b"z" * (MAX_IMAGE_BYTES * 2))}}
    error = _envelope(await gateway.post("/v1/videos", json=body), 413)
    assert error["param"] == "image.data_uri"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
@on_module_loop
async def test_unsupported_content_type_is_a_415(gateway: httpx.AsyncClient, content_type: str) -> None:
    """A create body that is neither JSON nor multipart is a 415 that says what to send."""
    reply = await gateway.post("/v1/videos", content=b"prompt=a", headers={"content-type": content_type})
    error = _envelope(reply, 415)
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    ("files", "param"),
    [
        ({"prompt": (None, "a"), "colour": (None, "red")}, "colour"),
        ({"prompt": (None, "a"), "scenes": (None, "[]")}, "scenes"),
        ({"prompt": (None, "a"), "thing": ("a.png", PNG, "image/png")}, "thing"),
        ({"prompt": (None, "a"), "input_reference": (None, "https://example.com/a.png")}, "input_reference"),
        ({"prompt": (None, "a"), "input_reference": ("a.txt", b"hello", "text/plain")}, "input_reference"),
        ({"prompt": (None, "a"), "seed": (None, "abc")}, "seed"),
        ([("prompt", (None, "a")), ("prompt", (None, "b"))], "prompt"),
    ],
)
@on_module_loop
async def test_malformed_multipart_is_a_400_naming_the_field(
    gateway: httpx.AsyncClient, files: Any, param: str
) -> None:
    """Unknown, structured, repeated or mistyped form fields and non-image files are 400s naming the field."""
    error = _envelope(await gateway.post("/v1/videos", files=files), 400)
    assert error["param"] == param


@on_module_loop
async def test_multipart_image_over_the_limit_is_a_413(gateway: httpx.AsyncClient) -> None:
    """An uploaded `input_reference` over `max_image_bytes` is a 413 naming it."""
    files = {"prompt": (None, "a"), "input_reference": ("a.png", PNG * 64, "image/png")}
    error = _envelope(await gateway.post("/v1/videos", files=files), 413)
    assert error["param"] == "input_reference"


@on_module_loop
async def test_broken_multipart_is_a_400(gateway: httpx.AsyncClient) -> None:
    """A multipart body that does not parse is a 400 envelope, not a 500."""
    for content_type in ("multipart/form-data; boundary=zz", "multipart/form-data"):
        reply = await gateway.post("/v1/videos", content=b"--zz\r\nbroken", headers={"content-type": content_type})
        _envelope(reply, 400)


@on_module_loop
async def test_multipart_scalars_are_converted(gateway: httpx.AsyncClient) -> None:
    """Form strings for seconds, size and booleans become typed fields and the job is accepted."""
    files = {"prompt": (None, "a kite"), "seconds": (None, "5"), "size": (None, "640x480")}
    reply = await gateway.post("/v1/videos", files={**files, "enhance_prompt": (None, "true")})
    assert reply.status_code == 202, reply.text
    assert (reply.json()["seconds"], reply.json()["size"]) == ("5", "640x480")


@on_module_loop
async def test_multipart_bracketed_fields_build_the_same_request_as_json(gateway: httpx.AsyncClient) -> None:
    """Two scenes, metadata and a routing strategy in bracketed form keys make the job the JSON body would."""
    files = [
        ("scenes[][prompt]", (None, "dawn")),
        ("scenes[][prompt]", (None, "dusk")),
        ("metadata[project]", (None, "x")),
        ("routing[strategy]", (None, "priority")),
        ("music[bpm]", (None, "90")),
    ]
    reply = await gateway.post("/v1/videos", files=files)
    assert reply.status_code == 202, reply.text
    video = reply.json()
    assert (video["seconds"], video["metadata"], video["routing"]["strategy"]) == ("10", {"project": "x"}, "priority")


@on_module_loop
async def test_multipart_nested_value_out_of_range_names_its_bracketed_key(gateway: httpx.AsyncClient) -> None:
    """`music[bpm]=5` breaks the same bound as in JSON and the 400 names the field as the form spelled it."""
    error = _envelope(await gateway.post("/v1/videos", files={"prompt": (None, "a"), "music[bpm]": (None, "5")}), 400)
    assert (error["code"], error["param"]) == ("invalid_value", "music[bpm]")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=101", "limit"),
        ("order=sideways", "order"),
        ("status=done", "status"),
        ("after=" + "x" * 65, "after"),
    ],
)
@on_module_loop
async def test_bad_list_query_is_a_400_naming_the_parameter(gateway: httpx.AsyncClient, query: str, name: str) -> None:
    """An out-of-range or mistyped list parameter is a 400 whose message names the parameter."""
    error = _envelope(await gateway.get(f"/v1/videos?{query}"), 400)
    assert error["type"] == "invalid_request"
    assert f"{name}:" in error["message"]


@on_module_loop
async def test_bad_list_query_sets_param(gateway: httpx.AsyncClient) -> None:
    """The envelope's `param` names the bad query parameter, as it does for body fields."""
    error = _envelope(await gateway.get("/v1/videos?limit=0"), 400)
    assert error["param"] == "limit"


@on_module_loop
async def test_bad_content_variant_and_long_id_are_400s(gateway: httpx.AsyncClient) -> None:
    """An unknown download variant or an over-long video id is a 400, not a 404 or 500."""
    variant = await gateway.get("/v1/videos/video_x/content?variant=gif")
    long_id = await gateway.get("/v1/videos/" + "x" * 65)
    assert "variant" in _envelope(variant, 400)["message"]
    assert "video_id" in _envelope(long_id, 400)["message"]


@on_module_loop
async def test_unknown_route_and_method_are_envelopes(gateway: httpx.AsyncClient) -> None:
    """An unknown path is a 404 and a wrong method a 405, both as error envelopes."""
    missing = await gateway.get("/v1/nowhere")
    wrong_method = await gateway.put("/v1/videos")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request"


@on_module_loop
async def test_a_wrong_method_names_the_allowed_ones(gateway: httpx.AsyncClient) -> None:
    """A 405 carries `Allow` with the route's methods (RFC 9110 §15.5.6), as schemathesis' method check requires."""
    reply = await gateway.request("TRACE", "/v1/videos/video_x")
    assert reply.status_code == 405
    assert set(reply.headers["allow"].replace(" ", "").split(",")) == {"GET", "DELETE", "OPTIONS"}


@on_module_loop
async def test_unknown_route_reply_carries_a_request_id(gateway: httpx.AsyncClient) -> None:
    """Even a reply for a path no route matches carries the request id, in the header and the envelope."""
    reply = await gateway.get("/v1/nowhere")
    _envelope(reply, 404)

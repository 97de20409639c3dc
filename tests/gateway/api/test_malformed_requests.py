"""Malformed requests get a canonical 4xx naming the problem, never a 500: invalid UTF-8 in a JSON body or a
multipart field, a header that must be single sent twice, a chunked body with broken framing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest

from tests.conftest import TEAM_A_KEY, VIDGEN_KEY_ENV, GatewayFactory, gateway_settings, gateway_settings_text
from tests.e2e.processes import gateway_process


async def _raw(url: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (no client would) and read the status code and body."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    body = await reader.readexactly(length) if length else b""
    writer.close()
    return int(head.split(b" ")[1]), body


def _post(body: bytes, *, content_type: bytes = b"application/json", extra: bytes = b"") -> bytes:
    return (
        b"POST /v1/videos HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + TEAM_A_KEY.encode() + b"\r\n"
        b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n"
    ) + body


MULTIPART = b'--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi \xff there\r\n--B--\r\n'
CASES = {
    "utf8-prompt": (_post(b'{"prompt": "a \xff\xfe lighthouse"}'), "invalid_utf8"),
    "utf8-metadata-key": (_post(b'{"prompt": "x", "metadata": {"\xc3\x28": "v"}}'), "invalid_utf8"),
    "utf8-multipart-field": (_post(MULTIPART, content_type=b"multipart/form-data; boundary=B"), "invalid_utf8"),
    "two-authorization": (_post(b'{"prompt": "x"}', extra=b"Authorization: Bearer another\r\n"), "duplicate_header"),
    "two-idempotency-keys": (
        _post(b'{"prompt": "x"}', extra=b"Idempotency-Key: a\r\nIdempotency-Key: b\r\n"),
        "duplicate_header",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_malformed_create_is_a_400_envelope_naming_the_problem(
    case: str, vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """Each malformed create answers 400 in the error envelope with a code for what is wrong."""
    request, code = CASES[case]
    async with serve_gateway(gateway_settings(vidgen_url)) as url:
        status, body = await _raw(url, request)
    assert status == 400, body
    error = msgspec.json.decode(body)["error"]
    assert (error["type"], error["code"]) == ("invalid_request", code)


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
async def test_a_broken_chunked_body_is_a_400_not_a_500(
    server: str, vidgen_url: str, vidgen_key: str, tmp_path: Path
) -> None:
    """A chunk size that is not hex: uvicorn refuses it itself with a 400 before the app sees a request (an empty
    body from h11, a line of text from httptools, which uvicorn prefers when installed); granian ends the body early,
    which the gateway answers with its 400 `incomplete_body` (and logs at info level, not as a crash)."""
    request = (
        b"POST /v1/videos HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer " + TEAM_A_KEY.encode() + b"\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    )
    text = gateway_settings_text(vidgen_url)
    env = {VIDGEN_KEY_ENV: vidgen_key}
    async with gateway_process(text, workdir=tmp_path, env=env, server=server) as gateway:
        status, body = await _raw(gateway.url, request)
        log = gateway.log()
    assert status == 400, body
    if server == "granian":
        assert msgspec.json.decode(body)["error"]["code"] == "incomplete_body"
    assert '"level": "error"' not in log

"""The video-to-video routes refuse what they cannot take with a canonical 4xx naming it, before any source is
looked up or any provider called: a missing or doubled source, a remix given a file, bad seconds, unknown fields,
another content type, an unknown source id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sandbox.assets import sample_video_lasting
from tests.conftest import VIDGEN_KEY_ENV, GatewayFactory, auth, gateway_settings

MP4 = ("clip.mp4", sample_video_lasting(2), "video/mp4")
UNKNOWN = "video_0000000000000000000000000000"
CASES: dict[str, tuple[str, dict[str, Any], tuple[int, str, str | None]]] = {
    "edit-without-video": ("/v1/videos/edits", {"json": {"prompt": "x"}}, (400, "missing_field", "video")),
    "edit-video-twice": (
        "/v1/videos/edits",
        {"data": {"prompt": "x", "video[id]": UNKNOWN}, "files": {"video": MP4}},
        (400, "conflicting_fields", "video"),
    ),
    "remix-with-a-file": (
        f"/v1/videos/{UNKNOWN}/remix",
        {"data": {"prompt": "x"}, "files": {"video": MP4}},
        (400, "invalid_request", "video"),
    ),
    "extension-of-121-s": (
        "/v1/videos/extensions",
        {"json": {"prompt": "x", "seconds": "121", "video": {"id": UNKNOWN}}},
        (400, "invalid_value", "seconds"),
    ),
    "extension-without-seconds": (
        "/v1/videos/extensions",
        {"json": {"prompt": "x", "video": {"id": UNKNOWN}}},
        (400, "missing_field", None),
    ),
    "unknown-json-field": (
        "/v1/videos/edits",
        {"json": {"prompt": "x", "video": {"id": UNKNOWN}, "size": "1280x720"}},
        (400, "unknown_field", "size"),
    ),
    "unknown-form-field": (
        "/v1/videos/edits",
        {"data": {"prompt": "x", "size": "1280x720"}, "files": {"video": MP4}},
        (400, "unknown_field", "size"),
    ),
    "unknown-file-part": (
        "/v1/videos/edits",
        {"data": {"prompt": "x"}, "files": {"input_reference": MP4}},
        (400, "unknown_field", "input_reference"),
    ),
    "bad-bracketed-form-value": (
        "/v1/videos/edits",
        {"data": {"prompt": "x", "metadata[project]": "p", "routing[max_cost_usd]": "cheap"}, "files": {"video": MP4}},
        (400, "invalid_value", "routing[max_cost_usd]"),
    ),
    "extension-form-webhook-without-secret": (
        "/v1/videos/extensions",
        {
            "data": {"prompt": "x", "seconds": "5", "webhook[url]": "https://hooks.example.com/v"},
            "files": {"video": MP4},
        },
        (400, "webhook_not_configured", "webhook"),
    ),
    "text-body": (
        "/v1/videos/edits",
        {"content": b"x", "headers": {"Content-Type": "text/plain"}},
        (415, "invalid_request", None),
    ),
    "unknown-source": (
        "/v1/videos/edits",
        {"json": {"prompt": "x", "video": {"id": UNKNOWN}}},
        (404, "not_found", "video_id"),
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_a_bad_video_to_video_request_is_a_canonical_4xx(
    serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """Each malformed request gets the error envelope with its status, code and the parameter at fault."""
    monkeypatch.setenv(VIDGEN_KEY_ENV, "sbx_unused")  # no provider is called
    path, sent, (status_code, code, param) = CASES[case]
    headers = auth() | sent.pop("headers", {})
    async with serve_gateway(gateway_settings("http://127.0.0.1:9")) as url, httpx.AsyncClient(base_url=url) as client:
        reply = await client.post(path, headers=headers, **sent)
    error = reply.json()["error"]
    assert (reply.status_code, error["code"], error["param"]) == (status_code, code, param), error

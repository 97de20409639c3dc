"""`GET /v1/videos/{id}/content` for a provider that serves videos only with its own credential (Google Veo, through
the Gemini API or Vertex AI): the gateway downloads with the credential and streams the bytes, so the client never
gets a redirect it cannot follow and the credential never leaves the gateway. Over real sockets to the emulator."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.config import Settings, parse_settings
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app
from sandbox.veo.app import sandbox_app
from tests.conftest import GatewayFactory, auth, mp4_boxes, wait_terminal

KEY_ENV = "TEST_VEO_API_KEY"


def veo_settings(url: str, api: str) -> Settings:
    options = (
        ""
        if api == "gemini"
        else f"""
[providers.veo.options]
api = "vertex"
project = "p1"
location = "us-central1"
storage_uri = "gs://bkt/veo"
storage_url = "{url}"
"""
    )
    return parse_settings(
        f"""
default_model = "veo-3-fast"
[poller]
tick_s = 0.02
lease_s = 3.0
max_backoff_s = 0.2
[providers.veo]
base_url = "{url}"
api_key_env = "{KEY_ENV}"
timeout_s = 2.0
poll_interval_s = 0.05
{options}
[models.veo-3-fast]
[[models.veo-3-fast.offerings]]
provider = "veo"
upstream_model = "veo-3.0-fast-generate-001"
price = {{ per_second_usd = 0.15 }}
[models.veo-3-fast.offerings.capabilities]
modes = ["t2v"]
seconds = [4, 6, 8]
default_seconds = 8
sizes = ["1280x720"]
default_size = "1280x720"
audio = true
image_transports = ["data_uri"]
""",
        source="test",
    )


@pytest.fixture
async def veo(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, str]]:
    key = "AIza-" + secrets.token_hex(8)
    monkeypatch.setenv(KEY_ENV, key)
    async with serve_app(sandbox_app(key, 0.02)) as url:
        yield url, key


@pytest.mark.parametrize("api", ["gemini", "vertex"])
async def test_content_is_streamed_with_the_credential_never_redirected(
    veo: tuple[str, str], serve_gateway: GatewayFactory, api: str
) -> None:
    """The finished video comes back as a 200 MP4 from the gateway itself: no Location, and the key appears in
    neither the Video object nor the content reply."""
    emulator_url, key = veo
    async with (
        serve_gateway(veo_settings(emulator_url, api)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post("/v1/videos", json={"prompt": "a paper boat on a pond"}, headers=auth())
        assert created.status_code == 202, created.text
        done = await wait_terminal(client, created.json()["id"])
        assert done["status"] == "completed", done
        content = await client.get(f"/v1/videos/{done['id']}/content", headers=auth())
    assert content.status_code == 200
    assert "location" not in content.headers
    assert mp4_boxes(content.content)[0] == b"ftyp"
    assert key not in str(done)
    assert key not in str(content.headers)


async def test_a_failed_download_is_a_502_envelope(veo: tuple[str, str], serve_gateway: GatewayFactory) -> None:
    """When Google refuses the download, the client gets a 502 `asset_download_failed`, not a broken stream."""
    emulator_url, _ = veo
    async with (
        serve_gateway(veo_settings(emulator_url, "gemini")) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post("/v1/videos", json={"prompt": "a paper boat on a pond"}, headers=auth())
        done = await wait_terminal(client, created.json()["id"])
        await SandboxControl(client, emulator_url).arm(FaultSpec(action="file", status_code=503))
        content = await client.get(f"/v1/videos/{done['id']}/content", headers=auth())
    assert content.status_code == 502
    assert content.json()["error"]["code"] == "asset_download_failed"

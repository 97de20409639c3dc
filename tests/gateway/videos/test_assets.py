"""`GET /v1/videos/{id}/content` never redirects to a dead link: an expired or expiring asset URL (VideoGen's
`downloadUrlExpiresAt`, Vidgen's presigned `X-Amz-Expires`) is renewed with one status call first, and a renewal
that fails is a clear 502/504 envelope. Over real sockets against the emulators, whose storage refuses stale URLs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from gateway.config import Settings, parse_settings
from gateway.store.memory import MemoryStore
from providers.vidgen.translate import presigned_expiry
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app
from sandbox.videogen.app import VideoGenEmulatorConfig, create_videogen_emulator
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import GatewayFactory, auth, gateway_settings, mp4_boxes, wait_terminal

VIDEOGEN_KEY_ENV = "TEST_VIDEOGEN_API_KEY"


def videogen_settings(url: str, *, timeout_s: float = 2.0, margin_s: float = 300.0) -> Settings:
    return parse_settings(f"""
default_model = "videogen-clip"
[poller]
tick_s = 0.02
lease_s = 3.0
max_backoff_s = 0.2
asset_refresh_margin_s = {margin_s}
[providers.videogen]
base_url = "{url}"
api_key_env = "{VIDEOGEN_KEY_ENV}"
timeout_s = {timeout_s}
poll_interval_s = 0.05
[models.videogen-clip]
[[models.videogen-clip.offerings]]
provider = "videogen"
upstream_model = "auto"
price = {{ per_second_usd = 0.05 }}
[models.videogen-clip.offerings.capabilities]
modes = ["t2v"]
seconds = [8]
default_seconds = 8
sizes = ["1280x720"]
default_size = "1280x720"
""")


@contextlib.asynccontextmanager
async def videogen(monkeypatch: pytest.MonkeyPatch, *, ttl_s: int) -> AsyncIterator[httpx.AsyncClient]:
    """A VideoGen emulator whose download links live `ttl_s` seconds; the client is its control channel."""
    key = "sbx_" + secrets.token_hex(8)
    monkeypatch.setenv(VIDEOGEN_KEY_ENV, key)
    config = VideoGenEmulatorConfig(api_keys=frozenset({key}), queue_s=0.05, run_s=0.2, download_ttl_s=ttl_s)
    async with serve_app(create_videogen_emulator(config)) as url, httpx.AsyncClient(base_url=url) as control:
        yield control


async def status_calls(control: httpx.AsyncClient) -> int:
    return (await SandboxControl(control).stats()).calls.get("status", 0)


async def completed_video(client: httpx.AsyncClient, prompt: str = "a lantern") -> str:
    reply = await client.post("/v1/videos", json={"prompt": prompt}, headers=auth())
    assert reply.status_code == 202, reply.text
    video = await wait_terminal(client, reply.json()["id"])
    assert video["status"] == "completed", video
    video_id: str = video["id"]
    return video_id


async def until_dead(url: str) -> None:
    """Wait (bounded) until the provider's storage refuses a link: it has expired."""
    async with httpx.AsyncClient() as storage:
        for _ in range(100):
            if (await storage.get(url)).status_code == 403:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never expired")


async def test_an_expired_videogen_link_is_renewed_before_the_redirect(
    monkeypatch: pytest.MonkeyPatch, serve_gateway: GatewayFactory
) -> None:
    """A one-second VideoGen link has died by the time the client asks: the gateway polls once more, stores the
    fresh link and redirects to it, and the download is a real MP4."""
    store = MemoryStore()
    async with videogen(monkeypatch, ttl_s=1) as control:
        settings = videogen_settings(str(control.base_url))
        async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url) as client:
            video_id = await completed_video(client)
            before = await store.get(video_id)
            assert before is not None
            assert before.output is not None
            await until_dead(before.output.video_url)
            calls = await status_calls(control)
            reply = await client.get(f"/v1/videos/{video_id}/content", headers=auth())
            renewed_calls = await status_calls(control) - calls
        async with httpx.AsyncClient() as storage:
            download = await storage.get(reply.headers["location"])
    after = await store.get(video_id)

    assert reply.status_code == 302, reply.text
    assert reply.headers["location"] != before.output.video_url
    assert renewed_calls == 1
    assert download.status_code == 200
    assert b"ftyp" in mp4_boxes(download.content)
    assert after is not None
    assert after.output is not None
    assert after.output.video_url == reply.headers["location"]
    assert (after.output.expires_at or 0) >= (before.output.expires_at or 0)


async def test_a_link_far_from_expiry_is_served_without_an_upstream_call(
    monkeypatch: pytest.MonkeyPatch, serve_gateway: GatewayFactory
) -> None:
    """VideoGen's hour-long link is outside the renewal margin: `content` redirects to it and calls nobody."""
    async with videogen(monkeypatch, ttl_s=3600) as control:
        settings = videogen_settings(str(control.base_url))
        async with serve_gateway(settings, store=MemoryStore()) as url, httpx.AsyncClient(base_url=url) as client:
            video_id = await completed_video(client)
            calls = await status_calls(control)
            replies = [await client.get(f"/v1/videos/{video_id}/content", headers=auth()) for _ in range(5)]
            extra = await status_calls(control) - calls

    assert [r.status_code for r in replies] == [302] * 5
    assert extra == 0


@pytest.mark.parametrize(
    ("fault", "timeout_s", "status", "code"),
    [
        ({"status_code": 503}, 2.0, 502, "asset_refresh_failed"),
        # The timeout leaves room for a loaded machine's slow generate reply; the status delay is well past it.
        ({"delay_s": 2.5}, 1.0, 504, "asset_refresh_timeout"),
    ],
)
async def test_a_renewal_that_fails_is_an_upstream_error_not_a_dead_link(
    monkeypatch: pytest.MonkeyPatch,
    serve_gateway: GatewayFactory,
    fault: dict[str, Any],
    timeout_s: float,
    status: int,
    code: str,
) -> None:
    """A link inside the margin whose renewal meets a 503 is a 502, and one that times out a 504, each in the
    canonical envelope naming the provider; no redirect to the stale link is given."""
    async with videogen(monkeypatch, ttl_s=60) as control:
        settings = videogen_settings(str(control.base_url), timeout_s=timeout_s)
        async with serve_gateway(settings, store=MemoryStore()) as url, httpx.AsyncClient(base_url=url) as client:
            video_id = await completed_video(client)
            await SandboxControl(control).arm(FaultSpec(action="status", times=-1, **fault))  # raises unless 201
            reply = await client.get(f"/v1/videos/{video_id}/content", headers=auth())

    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["provider"], error["retryable"]) == (code, "videogen", True)
    assert "location" not in reply.headers


async def test_an_expired_vidgen_presigned_link_is_renewed(vidgen_key: str, serve_gateway: GatewayFactory) -> None:
    """Vidgen's presigned URL states its life in `X-Amz-Date` + `X-Amz-Expires`; once dead, `content` renews it and
    the thumbnail variant redirects to a live link too."""
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.2, asset_ttl_s=1)
    async with serve_app(create_vidgen_emulator(config)) as emulator_url:
        settings = gateway_settings(emulator_url)
        settings = msgspec.structs.replace(
            settings, poller=msgspec.structs.replace(settings.poller, asset_refresh_margin_s=0.0)
        )
        store = MemoryStore()
        async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url) as client:
            video_id = await completed_video(client)
            before = await store.get(video_id)
            assert before is not None
            assert before.output is not None
            assert before.output.expires_at is not None
            await until_dead(before.output.video_url)
            video = await client.get(f"/v1/videos/{video_id}/content", headers=auth())
            thumbnail = await client.get(f"/v1/videos/{video_id}/content?variant=thumbnail", headers=auth())
        async with httpx.AsyncClient() as storage:
            downloads = [await storage.get(r.headers["location"]) for r in (video, thumbnail)]

    assert [video.status_code, thumbnail.status_code] == [302, 302]
    assert [d.status_code for d in downloads] == [200, 200]


def test_a_presigned_url_expiry_is_its_signing_time_plus_its_lifetime() -> None:
    """`X-Amz-Date=20261122T000000Z&X-Amz-Expires=3600` expires at that instant plus an hour; a URL that does not
    say (or says it badly) has no known expiry."""
    url = "https://bucket.s3.amazonaws.com/a.mp4?X-Amz-Date=20261122T000000Z&X-Amz-Expires=3600&X-Amz-Signature=f"

    assert presigned_expiry(url) == 1795305600 + 3600
    assert presigned_expiry("https://s3.../video.mp4?...") is None
    assert presigned_expiry(url.replace("20261122T000000Z", "yesterday")) is None
    assert presigned_expiry(url.replace("3600", "soon")) is None

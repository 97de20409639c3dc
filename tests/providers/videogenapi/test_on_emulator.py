"""The videogenapi adapter against its emulator over real sockets: t2v, i2v from a public image URL and Veo 3.1
first-last frame complete and download; failures, limits and switches surface as their error classes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple

import httpx
import pytest
import pytest_asyncio

from providers.contract import (
    CapacityReport,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    ImageUrl,
    ProviderSettings,
    QuotaExhausted,
    Scene,
    UpstreamAuthError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.videogenapi import VideoGenApiProvider
from sandbox.control import SandboxControl
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox, add_fault
from tests.sandbox.videogenapi.conftest import KEY, OTHER_KEY, running

DAY, NIGHT = ImageUrl(url="https://example.com/day.jpg"), ImageUrl(url="https://example.com/night.jpg")

pytestmark = pytest.mark.asyncio(loop_scope="module")


class Adapter(NamedTuple):
    provider: VideoGenApiProvider
    headroom: list[CapacityReport]
    sandbox: Sandbox


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def adapter(sandbox: Sandbox) -> AsyncIterator[Adapter]:
    seen: list[CapacityReport] = []
    settings = ProviderSettings(base_url=sandbox.base_url, api_key=KEY, timeout_s=2.0)
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield Adapter(VideoGenApiProvider(client, settings, capacity=seen.append), seen, sandbox)
    await SandboxControl(sandbox.client).clear_faults()


async def run_to_completion(adapter: Adapter, request: GenerationRequest) -> bytes:
    """Submit, see it queued, move the clock past the run, see it complete, and download the video."""
    job = await adapter.provider.submit(request)
    assert (await adapter.provider.poll(job)).status == "queued"
    adapter.sandbox.clock.advance(1_000)
    done = await adapter.provider.poll(job)
    assert done.status == "completed", done
    assert done.output is not None
    assert done.output.video_url.endswith(f"/api/v1/video/{job.upstream_id}")
    download = await adapter.sandbox.client.get(done.output.video_url)
    assert download.status_code == 200
    return download.content


def request_for(model: str) -> GenerationRequest:
    return GenerationRequest(upstream_model=model, scenes=(Scene(prompt="a paper boat"),))


def clock_of(adapter: Adapter) -> FakeClock:
    return adapter.sandbox.clock


async def test_t2v_with_size_seconds_seed_and_audio_completes(adapter: Adapter) -> None:
    """A t2v request the adapter translates is accepted, completes and downloads a real MP4."""
    request = GenerationRequest(
        upstream_model="kling_25",
        scenes=(Scene(prompt="A cat playing with a ball"),),
        seconds=10,
        dimensions=Dimensions(width=1080, height=1080),
        seed=42,
    )
    assert (await run_to_completion(adapter, request))[4:8] == b"ftyp"
    assert [h.scope for h in adapter.headroom] == ["month"]


async def test_i2v_from_a_public_image_url_completes(adapter: Adapter) -> None:
    """An i2v request with a public URL becomes image_url upstream and completes."""
    request = GenerationRequest(upstream_model="wan-25", scenes=(Scene(prompt="The dog runs", image=DAY),), seconds=5)
    assert (await run_to_completion(adapter, request))[4:8] == b"ftyp"


async def test_first_last_frame_on_veo_31_completes(adapter: Adapter) -> None:
    """A first-last request on veo-31 (two reference URLs, 8 s) is accepted by the emulator and completes."""
    scene = Scene(prompt="The scene transitions from day to night", image=DAY, end_image=NIGHT)
    request = GenerationRequest(upstream_model="veo-31", scenes=(scene,), seconds=8)
    assert (await run_to_completion(adapter, request))[4:8] == b"ftyp"


async def test_failed_generation_is_an_internal_failure_with_the_vendor_reason(adapter: Adapter) -> None:
    """A [sandbox:fail] job polls as failed/internal carrying the emulator's `error` text."""
    job = await adapter.provider.submit(
        GenerationRequest(upstream_model="seedance", scenes=(Scene(prompt="x [sandbox:fail]"),))
    )
    clock_of(adapter).advance(1_000)
    failure = (await adapter.provider.poll(job)).failure
    assert failure is not None
    assert (failure.error_class, failure.message) == (ErrorClass.INTERNAL, "Video generation failed. Please try again.")


async def test_forced_502_and_malformed_json_surface_as_their_classes(adapter: Adapter) -> None:
    """A 502 switch is upstream_unavailable; a 200 with broken JSON is a protocol error."""
    job = await adapter.provider.submit(request_for("ltxv-2"))
    await add_fault(adapter.sandbox.client, action="status", status_code=502)
    with pytest.raises(UpstreamUnavailable):
        await adapter.provider.poll(job)
    await add_fault(adapter.sandbox.client, action="status", body='{"status": "compl')
    with pytest.raises(UpstreamProtocolError):
        await adapter.provider.poll(job)


async def test_limits_surface_as_quota_and_rate_limit_with_headroom() -> None:
    """Against real counters the monthly 429 is quota-exhausted and the Sora-2 429 rate-limited with its wait."""
    config = VideoGenApiEmulatorConfig(
        api_keys=frozenset({KEY, OTHER_KEY}), monthly_limit=2, hourly_limits={"sora-2": 1}
    )
    seen: list[CapacityReport] = []
    async with running(config) as sandbox, httpx.AsyncClient() as client:
        monthly = VideoGenApiProvider(
            client, ProviderSettings(base_url=sandbox.base_url, api_key=KEY), capacity=seen.append
        )
        hourly = VideoGenApiProvider(client, ProviderSettings(base_url=sandbox.base_url, api_key=OTHER_KEY))
        for _ in range(2):
            await monthly.submit(request_for("kling_25"))
        with pytest.raises(QuotaExhausted):
            await monthly.submit(request_for("kling_25"))
        await hourly.submit(request_for("sora-2"))
        sandbox.clock.advance(600)
        with pytest.raises(UpstreamRateLimited) as caught:
            await hourly.submit(request_for("sora-2"))
    assert [(h.scope, h.used, h.remaining) for h in seen] == [("month", 1, 1), ("month", 2, 0), ("month", 2, 0)]
    assert caught.value.retry_after_s == 3000


async def test_check_account_reads_the_month_usage_from_user(adapter: Adapter) -> None:
    """`check_account` is a read-only `GET /v1/user`: the key works and the month's usage is reported."""
    report = await adapter.provider.check_account()
    assert (report.provider, report.scope) == ("videogenapi", "month")
    assert report.limit is not None
    assert report.used is not None
    assert report in adapter.headroom


async def test_check_account_with_a_rejected_key_is_the_auth_class(sandbox: Sandbox) -> None:
    """A key the emulator does not know fails the account check as the auth error class."""
    async with httpx.AsyncClient() as client:
        provider = VideoGenApiProvider(client, ProviderSettings(base_url=sandbox.base_url, api_key="lt_unknown"))
        with pytest.raises(UpstreamAuthError):
            await provider.check_account()


@pytest.mark.parametrize("model", ["kling-3", "veo3", "seedance-2", "veo2"])
async def test_seed_004_model_keys_are_accepted(adapter: Adapter, model: str) -> None:
    """Seed 004's model keys (the example catalogue offers them next to seed 002's) are accepted as asked."""
    request = GenerationRequest(upstream_model=model, scenes=(Scene(prompt="a fox in the snow"),))
    job = await adapter.provider.submit(request)
    assert (job.upstream_model, job.requested_model) == (model, None)

"""The NanoGPT adapter against its emulator over real sockets: jobs run to the end, costs and balances agree,
every offering in the example catalogue is expressible, and errors surface as their classes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import NamedTuple

import pytest
import pytest_asyncio

from providers.contract import (
    CapacityReport,
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    Image,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    ProviderSettings,
    QuotaExhausted,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from providers.nanogpt import NanoGptProvider
from sandbox.control import SandboxControl
from sandbox.nanogpt.app import NanoGptEmulatorConfig
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox, add_fault
from tests.sandbox.nanogpt.conftest import KEY, OTHER_KEY, SHARED, running

# A shared emulator serves tests that need no special account; fixtures move its clock an hour per test.
pytestmark = pytest.mark.asyncio(loop_scope="module")
PNG = ImageData(mime_type="image/png", data=b"\x89PNG\r\n\x1a\n" + b"\0" * 64, digest="0" * 64)


class Offering(NamedTuple):
    """One `[[models.<canonical>.offerings]]` entry of the example catalogue, as the report proposes it."""

    upstream_model: str
    per_video_usd: float
    per_second_usd: float
    seconds: tuple[int, ...]
    sizes: tuple[str, ...]

    def price_micros(self, seconds: int) -> int:
        return round(self.per_video_usd * 1e6) + round(self.per_second_usd * 1e6) * seconds


OFFERINGS = {
    "sora-2": Offering("sora-2", 0.0, 0.10, (4, 8, 12), ("1280x720", "720x1280")),
    "veo-3.1-fast": Offering("veo3-1-video", 0.0, 0.15, (4, 6, 8), ("1280x720", "720x1280", "1920x1080", "1080x1920")),
    "kling-2.5": Offering("kling-v25-turbo-pro", 0.0, 0.07, (5, 10), ("1920x1080", "1080x1920", "1080x1080")),
    "wan-2.5": Offering("wan-wavespeed-25", 0.0, 0.05, (5, 10), ("832x480", "1280x720", "1920x1080")),
    "seedance": Offering(
        "seedance-video",
        0.24,
        0.0,
        (5, 10),
        (
            *("832x480", "480x832", "480x480", "480x640", "1120x480"),
            *("1280x720", "720x1280", "720x720", "720x960", "1680x720"),
        ),
    ),
    "ltx-2": Offering("lightricks-ltx-2-fast", 0.0, 0.04, (6, 8, 10, 12, 14, 16, 18, 20), ("1920x1080",)),
}


class Adapter(NamedTuple):
    provider: NanoGptProvider
    sandbox: Sandbox
    headroom: list[CapacityReport]


@contextlib.asynccontextmanager
async def adapter(
    config: NanoGptEmulatorConfig = SHARED, *, key: str = KEY, timeout_s: float = 5.0
) -> AsyncIterator[Adapter]:
    async with running(config) as sandbox:
        yield await _over(sandbox, key=key, timeout_s=timeout_s)


async def _over(sandbox: Sandbox, *, key: str = KEY, timeout_s: float = 5.0) -> Adapter:
    seen: list[CapacityReport] = []
    settings = ProviderSettings(base_url=sandbox.base_url, api_key=key, timeout_s=timeout_s)
    return Adapter(NanoGptProvider(sandbox.client, settings, capacity=seen.append), sandbox, seen)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def shared(shared_sandbox: Sandbox) -> AsyncIterator[Adapter]:
    shared_sandbox.clock.advance(3_600)
    yield await _over(shared_sandbox)
    await SandboxControl(shared_sandbox.client).clear_faults()


def request(
    model: str = "veo3-1-video", image: Image | None = None, end: Image | None = None, **fields: object
) -> GenerationRequest:
    scene = Scene(prompt=str(fields.pop("prompt", "ocean waves")), image=image, end_image=end)
    return GenerationRequest(upstream_model=model, scenes=(scene,), **fields)  # type: ignore[arg-type]


async def run_to_end(provider: NanoGptProvider, clock: FakeClock, job: UpstreamJob) -> UpstreamStatus:
    """Poll with the emulator clock moving a second per poll; bounded so a stuck job fails the test."""
    for _ in range(30):
        status = await provider.poll(job)
        if status.status in ("completed", "failed", "cancelled"):
            return status
        clock.advance(1.0)
    raise AssertionError(f"{job.upstream_id} did not finish: {status}")


async def test_t2v_completes_with_the_emulator_price_and_balance() -> None:
    """A t2v job completes; the final cost equals the price charged, and the balance headroom is what is left."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({KEY}), starting_balance_usd=10.0)
    async with adapter(config) as a:
        job = await a.provider.submit(request("sora-2", seconds=8, dimensions=Dimensions(width=720, height=1280)))
        status = await run_to_end(a.provider, a.sandbox.clock, job)
        assert status.output is not None
        video = await a.sandbox.client.get(status.output.video_url)
    assert (status.status, job.reported_cost_micros, status.reported_cost_micros) == ("completed", 800_000, 800_000)
    assert a.headroom == [CapacityReport(provider="nanogpt", scope="balance", balance_micros=9_200_000)]
    assert video.content[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("image", "end", "model"),
    [
        (PNG, None, "veo3-1-video"),
        (ImageUrl(url="https://images.example.com/start.png"), None, "wan-wavespeed-25"),
        (PNG, ImageUrl(url="https://images.example.com/end.png"), "kling-v25-turbo-pro"),
    ],
    ids=["i2v-data-url", "i2v-https-url", "first-last-kling"],
)
async def test_image_jobs_complete(shared: Adapter, image: Image, end: Image | None, model: str) -> None:
    """i2v with a data URL or an HTTPS URL, and Kling's first/last frame, all run to completion."""
    job = await shared.provider.submit(request(model, image=image, end=end, prompt="slow pan"))
    status = await run_to_end(shared.provider, shared.sandbox.clock, job)
    assert status.status == "completed"
    assert status.reported_cost_micros == job.reported_cost_micros


async def test_flat_status_shape_completes_too() -> None:
    """Against Shape B the adapter follows queued → processing → completed and reads `videoUrl`."""
    async with adapter(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), status_shape="flat")) as a:
        job = await a.provider.submit(request())
        first = await a.provider.poll(job)
        status = await run_to_end(a.provider, a.sandbox.clock, job)
    assert first.status == "queued"
    assert status.output is not None
    assert status.output.video_url.endswith(f"/storage/videos/{job.upstream_id}.mp4")


@pytest.mark.parametrize("canonical", list(OFFERINGS))
async def test_every_catalogue_offering_is_accepted_at_its_price(shared: Adapter, canonical: str) -> None:
    """Each proposed offering's sizes x seconds submit cleanly, pre-charged exactly at the catalogue price."""
    offering = OFFERINGS[canonical]
    charged = {}
    for size in offering.sizes:
        width, _, height = size.partition("x")
        for seconds in offering.seconds:
            dims = Dimensions(width=int(width), height=int(height))
            job = await shared.provider.submit(request(offering.upstream_model, seconds=seconds, dimensions=dims))
            charged[(size, seconds)] = job.reported_cost_micros
    assert charged == {(s, n): offering.price_micros(n) for s in offering.sizes for n in offering.seconds}


@pytest.mark.parametrize(
    ("marker", "status", "error_class"),
    [
        ("[sandbox:unsafe]", "failed", ErrorClass.CONTENT_POLICY),
        ("[sandbox:fail]", "failed", ErrorClass.INTERNAL),
        ("[sandbox:cancel]", "cancelled", None),
    ],
)
async def test_marker_outcomes_reach_the_adapter(
    shared: Adapter, marker: str, status: str, error_class: ErrorClass | None
) -> None:
    """NSFW failures are content policy, other failures internal, CANCELED is cancelled."""
    job = await shared.provider.submit(request(prompt=f"waves {marker}"))
    final = await run_to_end(shared.provider, shared.sandbox.clock, job)
    assert final.status == status
    assert (final.failure.error_class if final.failure else None) == error_class


async def test_blocked_prompt_raises_content_policy(shared: Adapter) -> None:
    """The pre-generation block is a ContentPolicyError at submit."""
    with pytest.raises(ContentPolicyError):
        await shared.provider.submit(request(prompt="x [sandbox:block]"))


async def test_empty_balance_raises_quota_exhausted_and_reports_it() -> None:
    """The emulator's real 402 becomes QuotaExhausted and an empty-balance headroom signal."""
    async with adapter(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), starting_balance_usd=0.5)) as a:
        with pytest.raises(QuotaExhausted):
            await a.provider.submit(request(seconds=8))
    assert a.headroom == [CapacityReport(provider="nanogpt", scope="balance", remaining=0)]


async def test_full_submit_window_raises_rate_limited_with_retry_after() -> None:
    """The emulator's RATE_LIMITED 429 becomes UpstreamRateLimited with its Retry-After."""
    async with adapter(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), submit_limit_per_minute=1)) as a:
        await a.provider.submit(request())
        a.sandbox.clock.advance(15)
        with pytest.raises(UpstreamRateLimited) as caught:
            await a.provider.submit(request())
    assert caught.value.retry_after_s == 45.0


async def test_polling_another_keys_job_is_an_invalid_request(shared: Adapter) -> None:
    """The status route's 403 for someone else's job surfaces as InvalidUpstreamRequest."""
    job = await shared.provider.submit(request())
    other = await _over(shared.sandbox, key=OTHER_KEY)
    with pytest.raises(InvalidUpstreamRequest):
        await other.provider.poll(job)


async def test_forced_faults_surface_as_their_classes(shared: Adapter) -> None:
    """A forced 503 is unavailable, a malformed 200 a protocol error, a long delay a timeout of unknown outcome."""
    job = await shared.provider.submit(request())
    await add_fault(shared.sandbox.client, action="status", status_code=503)
    with pytest.raises(UpstreamUnavailable):
        await shared.provider.poll(job)
    await add_fault(shared.sandbox.client, action="status", body='{"data": {"status": ')
    with pytest.raises(UpstreamProtocolError):
        await shared.provider.poll(job)
    await add_fault(shared.sandbox.client, action="generate", delay_s=0.3)
    impatient = await _over(shared.sandbox, timeout_s=0.05)
    with pytest.raises(UpstreamTimeout) as caught:
        await impatient.provider.submit(request())
    assert caught.value.outcome_unknown is True

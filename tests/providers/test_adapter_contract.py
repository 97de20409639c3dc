"""One contract suite over every adapter against its own emulator, over real HTTP: the same request shapes,
the same faults, and the error class each provider's documents say (providers.md §6.2)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import msgspec
import pytest

from providers.contract import (
    TERMINAL_STATUSES,
    AssetSource,
    ErrorClass,
    GenerationRequest,
    Image,
    ImageUrl,
    ProviderSettings,
    Scene,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
    VideoData,
    VideoInput,
    VideoOperation,
    VideoProvider,
    VideoUrl,
)
from providers.mp4 import duration_s
from providers.registry import PROVIDERS
from sandbox.assets import sample_video_lasting
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.registry import EMULATORS
from sandbox.serving import serve_app
from tests.conftest import mp4_boxes, tiny_png

PNG = tiny_png()
_REJECTED = {
    400: ErrorClass.INVALID_REQUEST,
    401: ErrorClass.AUTH,
    429: ErrorClass.RATE_LIMITED,
    500: ErrorClass.INTERNAL,
    502: ErrorClass.UPSTREAM_UNAVAILABLE,
    503: ErrorClass.UPSTREAM_UNAVAILABLE,
}


@dataclass(frozen=True)
class Case:
    """What differs per provider: its model id, how it takes an image, and where §6.2 departs from the norm."""

    provider: str
    upstream_model: str
    image: Image
    classes: dict[int, ErrorClass]
    bodies: dict[int, str] = field(default_factory=dict)
    policy_at_submit: bool = True
    policy_class: ErrorClass = ErrorClass.CONTENT_POLICY
    video_models: dict[VideoOperation, str] = field(default_factory=dict)  # the model each operation runs on
    seconds: int = 5
    base_path: str = ""  # where the API sits under the emulator's address
    cancel_removes: bool = False  # the cancel call deletes the job: later polls are a 404, not `cancelled`


def _data_image() -> Image:
    import hashlib

    from providers.contract import ImageData

    return ImageData(mime_type="image/png", data=PNG, digest=hashlib.sha256(PNG).hexdigest())


CASES = {
    # Vidgen: a 400 without the pre-generation block string is validation; 402 is undocumented (other 4xx).
    "vidgen": Case(
        provider="vidgen",
        upstream_model="scenex",
        image=_data_image(),
        classes={**_REJECTED, 402: ErrorClass.INVALID_REQUEST},
        bodies={400: '{"error": "Each scene requires a prompt"}'},
    ),
    # VideoGen: 402 is credits (quota); content policy shows up as a failed execution, not at submit.
    "videogen": Case(
        provider="videogen",
        upstream_model="auto",
        image=_data_image(),
        classes={**_REJECTED, 402: ErrorClass.QUOTA_EXHAUSTED},
        policy_at_submit=False,
        video_models={"edit": "auto", "remix": "auto"},
    ),
    # videogenapi: images by URL only; a content refusal is an undifferentiated 400 (§6.2: undocumented).
    "videogenapi": Case(
        provider="videogenapi",
        upstream_model="kling_25",
        image=ImageUrl(url="https://images.example.com/frame.png"),
        classes={**_REJECTED, 402: ErrorClass.INVALID_REQUEST},
        policy_class=ErrorClass.INVALID_REQUEST,
    ),
    # NanoGPT: 402 is insufficient balance (quota); content policy is a 400 at submit with its own code.
    "nanogpt": Case(
        provider="nanogpt",
        upstream_model="kling-v25-turbo-pro",
        image=_data_image(),
        classes={**_REJECTED, 402: ErrorClass.QUOTA_EXHAUSTED},
        video_models={
            "extend": "wan-wavespeed-25-extend",
            "edit": "runwayml-gen4-aleph",
            "remix": "runwayml-gen4-aleph",
        },
    ),
    # Veo (Gemini API): Google's canonical statuses (402 is none: other 4xx); RAI filtering fails the finished
    # operation. Veo 2 takes the suite's 5 s request (Veo 3 takes 4, 6 or 8).
    "veo": Case(
        provider="veo",
        upstream_model="veo-2.0-generate-001",
        image=_data_image(),
        classes={**_REJECTED, 402: ErrorClass.INVALID_REQUEST},
        policy_at_submit=False,
    ),
    # fal: the queue takes any body; a blocked prompt is the model's 422 in the result, so the job fails.
    "fal": Case(
        provider="fal",
        upstream_model="fal-ai/kling-video/v2.5-turbo/pro/text-to-video",
        image=ImageUrl(url="https://images.example.com/frame.png"),
        classes={**_REJECTED, 402: ErrorClass.QUOTA_EXHAUSTED},
        policy_at_submit=False,
    ),
    # OpenAI-compatible: `seconds` is "4", "8" or "12"; moderation refuses at submit; DELETE removes the video;
    # 402 is not OpenAI's, read as another gateway's quota refusal.
    "openai": Case(
        provider="openai",
        upstream_model="sora-2",
        image=_data_image(),
        classes={**_REJECTED, 402: ErrorClass.QUOTA_EXHAUSTED},
        seconds=4,
        base_path="/v1",
        cancel_removes=True,
    ),
}
PROVIDER_CASES = [pytest.param(provider, id=provider) for provider in CASES if provider in PROVIDERS]
VIDEO_CASES = [
    pytest.param(provider, operation, id=f"{provider}-{operation}")
    for provider, case in CASES.items()
    if provider in PROVIDERS
    for operation in case.video_models
]


@dataclass
class Harness:
    case: Case
    adapter: VideoProvider
    emulator: httpx.AsyncClient
    http: httpx.AsyncClient

    def request(self, prompt: str = "a paper boat on a pond", *, image: bool = False) -> GenerationRequest:
        scene = Scene(prompt=prompt, image=self.case.image if image else None)
        return GenerationRequest(upstream_model=self.case.upstream_model, scenes=(scene,), seconds=self.case.seconds)

    async def arm(self, **fault: object) -> None:
        spec = FaultSpec(**{"action": "generate", "times": 1, **fault})
        await SandboxControl(self.emulator).arm(spec)  # raises unless 201

    async def until_terminal(self, request: GenerationRequest) -> UpstreamStatus:
        job = await self.adapter.submit(request)
        for _ in range(400):
            status = await self.adapter.poll(job)
            if status.status in TERMINAL_STATUSES:
                return status
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.case.provider} job {job.upstream_id} never finished")


@pytest.fixture(params=PROVIDER_CASES)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    case = CASES[request.param]
    key = "sbx_" + secrets.token_hex(8)
    async with serve_app(EMULATORS[case.provider](key, 0.02)) as url, httpx.AsyncClient(timeout=5) as http:
        # Below the slow-submit test's 1.5 s delay, with room for a loopback connect on a loaded machine (0.5 s
        # was once too short for one under the parallel suite).
        settings = ProviderSettings(base_url=url + case.base_path, api_key=key, timeout_s=1.0)
        adapter = PROVIDERS[case.provider](http, settings)
        async with httpx.AsyncClient(base_url=url, timeout=5) as emulator:
            yield Harness(case=case, adapter=adapter, emulator=emulator, http=http)


async def test_text_to_video_completes_with_a_downloadable_asset(harness: Harness) -> None:
    """t2v reaches completed and its video URL serves a real MP4."""
    status = await harness.until_terminal(harness.request())
    assert status.status == "completed", status
    assert status.output is not None
    # A provider that serves its videos only with its credential (AssetSource) is downloaded the way the gateway does.
    source = harness.adapter if isinstance(harness.adapter, AssetSource) else None
    headers = source.asset_call(status.output.video_url).headers if source else None
    video = await harness.http.get(status.output.video_url, headers=headers)
    assert video.status_code == 200
    assert mp4_boxes(video.content)[0] == b"ftyp"


async def test_image_to_video_completes(harness: Harness) -> None:
    """i2v, with the image in the transport this provider takes, reaches completed."""
    status = await harness.until_terminal(harness.request(image=True))
    assert status.status == "completed", status


@pytest.mark.parametrize(("provider", "operation"), VIDEO_CASES)
async def test_video_operations_complete_with_the_right_length(provider: str, operation: VideoOperation) -> None:
    """Each offered operation on a link to the emulator's own output (fetched and passed on as the provider takes
    it) completes: an extension by 5 s is 5 s longer than its source, an edit or remix as long."""
    case = CASES[provider]
    key = "sbx_" + secrets.token_hex(8)
    async with serve_app(EMULATORS[provider](key, 0.02)) as url, httpx.AsyncClient(timeout=5) as http:
        adapter = PROVIDERS[provider](http, ProviderSettings(base_url=url, api_key=key, timeout_s=2.0))
        harness = Harness(case=case, adapter=adapter, emulator=http, http=http)
        source = await harness.until_terminal(harness.request())
        assert source.output is not None
        video = VideoInput(operation=operation, video=VideoUrl(url=source.output.video_url), source_seconds=5)
        scene = Scene(prompt="the same pond, at night")
        model = case.video_models[operation]
        request = GenerationRequest(upstream_model=model, scenes=(scene,), seconds=5, video_input=video)
        made = await harness.until_terminal(request)
        assert made.status == "completed", made
        assert made.output is not None
        source_mp4, made_mp4 = [(await http.get(o.video_url)).content for o in (source.output, made.output)]
    added_s = 5 if operation == "extend" else 0
    assert duration_s(made_mp4) == (duration_s(source_mp4) or 0) + added_s


async def test_a_source_video_where_the_operation_is_not_offered_is_an_invalid_request(harness: Harness) -> None:
    """An extension sent to the t2v model of the case (or a provider with no video input) is refused as invalid,
    by the adapter or by the provider, never turned into a text-to-video job."""
    data = sample_video_lasting(2)
    video = VideoData(mime_type="video/mp4", data=data, digest=hashlib.sha256(data).hexdigest())
    request = msgspec.structs.replace(
        harness.request(), video_input=VideoInput(operation="extend", video=video, source_seconds=2)
    )
    with pytest.raises(UpstreamError) as raised:
        await harness.adapter.submit(request)
    assert raised.value.error_class == ErrorClass.INVALID_REQUEST


@pytest.mark.parametrize("status_code", [400, 401, 402, 429, 500, 502, 503])
async def test_submit_errors_map_to_their_documented_class(harness: Harness, status_code: int) -> None:
    """An HTTP error at submit becomes the error class providers.md §6.2 gives for this provider."""
    body = harness.case.bodies.get(status_code)
    await harness.arm(status_code=status_code, **({"body": body} if body else {}))
    with pytest.raises(UpstreamError) as raised:
        await harness.adapter.submit(harness.request())
    assert raised.value.error_class == harness.case.classes[status_code]
    assert raised.value.provider == harness.case.provider


async def test_a_slow_submit_is_a_timeout_whose_outcome_is_unknown(harness: Harness) -> None:
    """A reply slower than the client timeout is UpstreamTimeout, flagged as possibly accepted upstream."""
    await harness.arm(delay_s=1.5)
    with pytest.raises(UpstreamTimeout) as raised:
        await harness.adapter.submit(harness.request())
    assert raised.value.outcome_unknown


async def test_malformed_json_at_submit_is_a_protocol_or_classified_error(harness: Harness) -> None:
    """A 200 whose body is not JSON never passes as an accepted job."""
    await harness.arm(status_code=200, body="{not json")
    with pytest.raises(UpstreamError) as raised:
        await harness.adapter.submit(harness.request())
    assert raised.value.error_class == ErrorClass.PROTOCOL


async def test_content_policy_maps_to_its_class(harness: Harness) -> None:
    """A blocked prompt is refused at submit or fails the job, with the class §6.2 gives this provider."""
    request = harness.request("a scene [sandbox:block]")
    if harness.case.policy_at_submit:
        with pytest.raises(UpstreamError) as raised:
            await harness.adapter.submit(request)
        assert raised.value.error_class == harness.case.policy_class
        return
    status = await harness.until_terminal(request)
    assert status.status == "failed"
    assert status.failure is not None
    assert status.failure.error_class == harness.case.policy_class


async def test_cancel_where_the_provider_can(harness: Harness) -> None:
    """A provider with a cancel API cancels a running job; one without says so and makes no call."""
    job = await harness.adapter.submit(harness.request("slow [sandbox:stuck]"))
    cancelled = await harness.adapter.cancel(job)
    assert cancelled == harness.adapter.traits.can_cancel
    if cancelled and harness.case.cancel_removes:
        with pytest.raises(UpstreamError) as raised:
            await harness.adapter.poll(job)
        assert raised.value.status_code == 404
        return
    if cancelled:
        for _ in range(100):
            if (await harness.adapter.poll(job)).status == "cancelled":
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the cancelled job never showed as cancelled")


@pytest.mark.parametrize("provider", PROVIDER_CASES)
async def test_moving_the_emulator_clock_forward_finishes_a_long_job(provider: str) -> None:
    """Through the typed control client: a job the emulator would run for hours (time scale 100) is still running,
    and completes once the emulator's clock is moved six hours on."""
    case = CASES[provider]
    key = "sbx_" + secrets.token_hex(8)
    async with serve_app(EMULATORS[provider](key, 100.0)) as url, httpx.AsyncClient(timeout=5) as http:
        settings = ProviderSettings(base_url=url + case.base_path, api_key=key, timeout_s=2.0)
        adapter = PROVIDERS[provider](http, settings)
        scene = Scene(prompt="a paper boat on a pond")
        request = GenerationRequest(upstream_model=case.upstream_model, scenes=(scene,), seconds=case.seconds)
        job = await adapter.submit(request)
        before = await adapter.poll(job)
        skew_s = await SandboxControl(http, url).advance_clock(6 * 3600)
        after = await adapter.poll(job)
    assert before.status in ("queued", "in_progress"), before
    assert skew_s == 6 * 3600
    assert after.status == "completed", after

"""The NanoGPT shell over httpx.MockTransport: what goes on the wire, costs and headroom it reports, and how
transport errors and vendor errors surface."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from providers.contract import (
    CapacityReport,
    Dimensions,
    GenerationRequest,
    InvalidUpstreamRequest,
    ProviderSettings,
    QuotaExhausted,
    Scene,
    UpstreamJob,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from providers.nanogpt import NanoGptProvider

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://nano-gpt.test/", api_key="sk-nano-test")
SUBMIT_URL = "https://nano-gpt.test/api/generate-video"
JOB = UpstreamJob(
    provider="nanogpt", upstream_id="vid_m1abc123def456", upstream_model="sora-2", reported_cost_micros=800_000
)

Outcome = tuple[int, bytes, dict[str, str]] | type[httpx.TransportError]


class FakeNanoGpt:
    """Answers submit and status with canned replies or raises a transport error, recording every request."""

    def __init__(self, *, generate: Outcome | None = None, status: Outcome | None = None) -> None:
        self.outcomes = {"/api/generate-video": generate, "/api/video/status": status}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes[request.url.path]
        assert outcome is not None, f"unexpected call to {request.url.path}"
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, body, headers = outcome
        return httpx.Response(status_code, content=body, headers=headers)


def ok(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Outcome:
    return status_code, (FIXTURES / name).read_bytes(), headers or {}


def make_request(**fields: object) -> GenerationRequest:
    return GenerationRequest(upstream_model="veo3-1-video", scenes=(Scene(prompt="ocean waves"),), **fields)  # type: ignore[arg-type]


def provider_over(fake: FakeNanoGpt, seen: list[CapacityReport] | None = None) -> NanoGptProvider:
    sink = seen.append if seen is not None else (lambda _: None)
    return NanoGptProvider(httpx.AsyncClient(transport=httpx.MockTransport(fake)), SETTINGS, capacity=sink)


async def test_submit_posts_the_body_with_x_api_key_and_string_duration() -> None:
    """Submit POSTs /api/generate-video with `x-api-key` (no bearer) and `duration` as a JSON string."""
    fake = FakeNanoGpt(generate=ok("submit_202.json", 202))
    await provider_over(fake).submit(make_request(seconds=8, dimensions=Dimensions(width=1280, height=720)))
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", SUBMIT_URL)
    assert request.headers["x-api-key"] == "sk-nano-test"
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "veo3-1-video",
        "prompt": "ocean waves",
        "duration": "8",
        "aspect_ratio": "16:9",
        "resolution": "720p",
    }


async def test_submit_returns_the_job_with_its_precharged_cost() -> None:
    """The 202's runId and `cost` become the job and its reported cost in micro-USD."""
    job = await provider_over(FakeNanoGpt(generate=ok("submit_202.json", 202))).submit(make_request())
    assert (job.upstream_id, job.reported_cost_micros) == ("vid_m1abc123def456", 350_000)


async def test_submit_reports_the_remaining_balance_as_headroom() -> None:
    """`remainingBalance` reaches the headroom sink as balance micros."""
    seen: list[CapacityReport] = []
    await provider_over(FakeNanoGpt(generate=ok("submit_202.json", 202)), seen).submit(make_request())
    assert seen == [CapacityReport(provider="nanogpt", scope="balance", balance_micros=12_500_000)]


async def test_poll_gets_status_by_request_id_and_reads_the_final_cost() -> None:
    """A poll is GET /api/video/status?requestId=… with `x-api-key`; COMPLETED yields the URL and `data.cost`."""
    fake = FakeNanoGpt(status=ok("status_nested_completed.json"))
    status = await provider_over(fake).poll(JOB)
    [request] = fake.requests
    assert (request.method, request.url.path, dict(request.url.params)) == (
        "GET",
        "/api/video/status",
        {"requestId": "vid_m1abc123def456"},
    )
    assert request.headers["x-api-key"] == "sk-nano-test"
    assert status.output is not None
    assert (status.output.video_url, status.reported_cost_micros) == ("https://storage.example.com/video.mp4", 350_000)


async def test_poll_completed_without_cost_keeps_the_jobs_precharge() -> None:
    """When COMPLETED omits `data.cost`, the job's pre-charged cost is reported."""
    fake = FakeNanoGpt(status=ok("status_nested_completed_without_cost.json"))
    assert (await provider_over(fake).poll(JOB)).reported_cost_micros == 800_000


async def test_connect_timeout_is_a_timeout_with_known_outcome() -> None:
    """A connect timeout never reached NanoGPT, so nothing was accepted or charged."""
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(FakeNanoGpt(generate=httpx.ConnectTimeout)).submit(make_request())
    assert caught.value.outcome_unknown is False


async def test_read_timeout_is_a_timeout_with_unknown_outcome() -> None:
    """A read timeout may follow an accepted, pre-charged job, so the outcome is unknown."""
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(FakeNanoGpt(generate=httpx.ReadTimeout)).submit(make_request())
    assert caught.value.outcome_unknown is True


async def test_throughput_429_raises_rate_limited_and_reports_the_window() -> None:
    """A RATE_LIMITED 429 carries its Retry-After and tells the sink the request window is full."""
    seen: list[CapacityReport] = []
    fake = FakeNanoGpt(generate=ok("error_429_rate_limited.json", 429, {"Retry-After": "20"}))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider_over(fake, seen).submit(make_request())
    assert caught.value.retry_after_s == 20.0
    assert seen == [CapacityReport(provider="nanogpt", scope="rate", remaining=0, retry_after_s=20.0)]


async def test_daily_cap_429_raises_quota_exhausted_and_reports_the_daily_scope() -> None:
    """A daily-cap 429 is quota exhaustion, and the sink hears the daily scope with its reset."""
    seen: list[CapacityReport] = []
    fake = FakeNanoGpt(generate=ok("error_429_daily_usd.json", 429, {"Retry-After": "7200"}))
    with pytest.raises(QuotaExhausted):
        await provider_over(fake, seen).submit(make_request())
    assert seen == [CapacityReport(provider="nanogpt", scope="daily", remaining=0, retry_after_s=7200.0)]


async def test_insufficient_balance_raises_quota_exhausted_and_reports_the_balance() -> None:
    """The legacy 402 is quota exhaustion and an empty-balance signal."""
    seen: list[CapacityReport] = []
    fake = FakeNanoGpt(generate=ok("error_402_insufficient_balance.json", 402))
    with pytest.raises(QuotaExhausted):
        await provider_over(fake, seen).submit(make_request())
    assert seen == [CapacityReport(provider="nanogpt", scope="balance", remaining=0)]


async def test_poll_of_another_keys_job_is_an_invalid_request() -> None:
    """The status route's 403 (not your job) is an invalid request, not an auth failure."""
    fake = FakeNanoGpt(status=ok("error_403_status_not_yours.json", 403))
    with pytest.raises(InvalidUpstreamRequest):
        await provider_over(fake).poll(JOB)


async def test_invalid_request_is_refused_before_any_call() -> None:
    """A request the builder refuses makes no HTTP call."""
    fake = FakeNanoGpt()
    with pytest.raises(InvalidUpstreamRequest, match="watermark"):
        await provider_over(fake).submit(make_request(watermark=True))
    assert fake.requests == []


async def test_cancel_returns_false_without_any_call() -> None:
    """NanoGPT has no cancel call, so cancel answers False and sends nothing."""
    fake = FakeNanoGpt()
    assert await provider_over(fake).cancel(JOB) is False
    assert fake.requests == []


async def test_observer_sees_each_call_with_operation_and_outcome() -> None:
    """The injected observer hears provider, operation and HTTP status of each call."""
    seen: list[tuple[str, str, str]] = []
    fake = FakeNanoGpt(generate=ok("submit_202.json", 202), status=ok("status_nested_in_queue.json"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    provider = NanoGptProvider(client, SETTINGS, observe=lambda p, op, outcome, _s: seen.append((p, op, outcome)))
    await provider.poll(await provider.submit(make_request()))
    assert seen == [("nanogpt", "generate", "202"), ("nanogpt", "status", "200")]


def test_traits_follow_the_polling_guidance() -> None:
    """5 s polls, a 15 min cap and no cancel call (§4.10, §5)."""
    traits = NanoGptProvider.traits
    assert (traits.poll_interval_s, traits.max_job_duration_s, traits.can_cancel) == (5.0, 900.0, False)
    assert NanoGptProvider.provider == "nanogpt"


async def test_a_plain_http_source_link_is_fetched_and_sent_inline() -> None:
    """seed 003 takes HTTPS `videoUrl`s only: an http source is fetched (no key sent) and goes as `videoDataUrl`."""
    from providers.contract import VideoInput, VideoUrl

    mp4 = b"\x00\x00\x00\x20ftypisom" + b"\0" * 24

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "assets.test":
            return httpx.Response(200, content=mp4)
        return httpx.Response(202, content=(FIXTURES / "submit_202.json").read_bytes())

    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: seen.append(request) or answer(request))
    source = VideoInput(operation="edit", video=VideoUrl(url="http://assets.test/lake.mp4"), source_seconds=2)
    request = GenerationRequest(
        upstream_model="runwayml-gen4-aleph", scenes=(Scene(prompt="at night"),), video_input=source
    )
    await NanoGptProvider(httpx.AsyncClient(transport=transport), SETTINGS).submit(request)
    fetch, submit = seen
    assert (fetch.method, str(fetch.url), "x-api-key" in fetch.headers) == ("GET", "http://assets.test/lake.mp4", False)
    assert (
        json.loads(submit.content)["videoDataUrl"]
        == "data:video/mp4;base64,AAAAIGZ0eXBpc29tAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )

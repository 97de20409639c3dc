"""The videogenapi shell over httpx.MockTransport: what goes on the wire, usage counters to the headroom sink,
the 429 split and transport errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from providers.contract import (
    CapacityReport,
    GenerationRequest,
    InvalidUpstreamRequest,
    ProviderSettings,
    QuotaExhausted,
    Scene,
    UpstreamJob,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    VideoProvider,
)
from providers.videogenapi import VideoGenApiProvider

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://videogenapi.test/", api_key="lt_test")
JOB = UpstreamJob(provider="videogenapi", upstream_id="gen_686717fe97bd3_055867", upstream_model="kling_25")
REQUEST = GenerationRequest(upstream_model="kling_25", scenes=(Scene(prompt="A cat playing with a ball"),), seconds=10)

Outcome = tuple[int, bytes, dict[str, str]] | type[httpx.TransportError]


class FakeVideoGenApi:
    """Answers each path with a canned reply or raises a transport error, recording every request."""

    def __init__(self, *, generate: Outcome | None = None, status: Outcome | None = None) -> None:
        self.outcomes = {"generate": generate, "status": status}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes["generate" if request.url.path.endswith("/generate") else "status"]
        assert outcome is not None, f"unexpected call {request.method} {request.url}"
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, body, headers = outcome
        return httpx.Response(status_code, content=body, headers=headers)


def ok(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Outcome:
    return status_code, (FIXTURES / name).read_bytes(), headers or {}


def provider_over(fake: FakeVideoGenApi, seen: list[CapacityReport] | None = None) -> VideoGenApiProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    sink = seen.append if seen is not None else (lambda _headroom: None)
    return VideoGenApiProvider(client, SETTINGS, capacity=sink)


async def test_submit_posts_generate_with_bearer_key_and_json_body() -> None:
    """Submit POSTs /api/v1/generate under the host root with the key and the body, and returns the job."""
    fake = FakeVideoGenApi(generate=ok("generate.json"))
    job = await provider_over(fake).submit(REQUEST)
    assert job == JOB
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", "https://videogenapi.test/api/v1/generate")
    assert request.headers["Authorization"] == "Bearer lt_test"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"model": "kling_25", "prompt": "A cat playing with a ball", "duration": 10}


async def test_submit_hands_monthly_usage_to_the_headroom_sink() -> None:
    """The accepted reply's `usage` reaches the sink as the month's headroom."""
    seen: list[CapacityReport] = []
    await provider_over(FakeVideoGenApi(generate=ok("generate.json")), seen).submit(REQUEST)
    assert seen == [CapacityReport(provider="videogenapi", scope="month", used=1, limit=100, remaining=99)]


async def test_poll_gets_status_and_parses_completion() -> None:
    """A poll GETs /api/v1/status/{id} with the key and returns the public video URL."""
    fake = FakeVideoGenApi(status=ok("status_completed.json"))
    status = await provider_over(fake).poll(JOB)
    assert status.output is not None
    assert status.output.video_url == "https://videogenapi.com/api/v1/video/gen_686717fe97bd3_055867"
    [request] = fake.requests
    assert (request.method, str(request.url)) == (
        "GET",
        "https://videogenapi.test/api/v1/status/gen_686717fe97bd3_055867",
    )
    assert request.headers["Authorization"] == "Bearer lt_test"
    assert request.content == b""


async def test_hourly_429_raises_rate_limited_and_reports_the_model_window() -> None:
    """The Sora-2 429 raises rate-limited with the reset wait, and the sink learns the model's window is spent."""
    seen: list[CapacityReport] = []
    fake = FakeVideoGenApi(generate=ok("error_429_sora2_rate_limit.json", 429))
    sora = GenerationRequest(upstream_model="sora-2", scenes=(Scene(prompt="x"),))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider_over(fake, seen).submit(sora)
    assert caught.value.retry_after_s == 3247
    [window] = seen
    assert (window.scope, window.remaining, window.retry_after_s) == ("model:sora-2", 0, 3247)


async def test_monthly_429_raises_quota_exhausted_and_reports_the_month() -> None:
    """The monthly 429 raises quota-exhausted, and the sink learns the month has nothing left."""
    seen: list[CapacityReport] = []
    fake = FakeVideoGenApi(generate=ok("error_429_monthly_limit.json", 429))
    with pytest.raises(QuotaExhausted):
        await provider_over(fake, seen).submit(REQUEST)
    assert seen == [CapacityReport(provider="videogenapi", scope="month", used=100, limit=100, remaining=0)]


async def test_rate_limited_poll_carries_the_retry_after_hint() -> None:
    """A bare 429 with `Retry-After: 30` on a poll is rate-limited with a 30 s hint."""
    fake = FakeVideoGenApi(status=(429, b"", {"Retry-After": "30"}))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider_over(fake).poll(JOB)
    assert caught.value.retry_after_s == 30.0


async def test_connect_timeout_on_submit_is_a_timeout_with_known_outcome() -> None:
    """A connect timeout never reached videogenapi, so nothing can have been accepted."""
    fake = FakeVideoGenApi(generate=httpx.ConnectTimeout)
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(REQUEST)
    assert caught.value.outcome_unknown is False


async def test_read_timeout_on_submit_is_a_timeout_with_unknown_outcome() -> None:
    """A read timeout may follow an accepted (and counted) generation, so the outcome is unknown."""
    fake = FakeVideoGenApi(generate=httpx.ReadTimeout)
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(REQUEST)
    assert caught.value.outcome_unknown is True


async def test_bad_gateway_on_poll_is_upstream_unavailable() -> None:
    """A 502 on a poll is upstream_unavailable (transient), not a failed job."""
    fake = FakeVideoGenApi(status=(502, b"<html>Bad Gateway</html>", {}))
    with pytest.raises(UpstreamUnavailable):
        await provider_over(fake).poll(JOB)


async def test_invalid_request_is_refused_before_any_call() -> None:
    """A request the builder refuses (a 1001-character prompt) makes no HTTP call at all."""
    fake = FakeVideoGenApi()
    long_prompt = GenerationRequest(upstream_model="kling_25", scenes=(Scene(prompt="x" * 1001),))
    with pytest.raises(InvalidUpstreamRequest, match="1001"):
        await provider_over(fake).submit(long_prompt)
    assert fake.requests == []


async def test_cancel_returns_false_without_any_call() -> None:
    """videogenapi has no cancel endpoint, so cancel answers False and sends nothing."""
    fake = FakeVideoGenApi()
    assert await provider_over(fake).cancel(JOB) is False
    assert fake.requests == []


async def test_observer_sees_each_call_with_operation_and_outcome() -> None:
    """The injected observer is told the provider, operation and HTTP status of each call."""
    seen: list[tuple[str, str, str]] = []
    fake = FakeVideoGenApi(generate=ok("generate.json"), status=ok("status_pending.json"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    provider = VideoGenApiProvider(client, SETTINGS, observe=lambda p, op, outcome, _s: seen.append((p, op, outcome)))
    await provider.poll(await provider.submit(REQUEST))
    assert seen == [("videogenapi", "generate", "200"), ("videogenapi", "status", "200")]


async def test_adapter_satisfies_the_provider_protocol_with_documented_traits() -> None:
    """The adapter is a VideoProvider: slug videogenapi, 5 s polls, a 30 min cap and no cancel (§3.8)."""
    async with httpx.AsyncClient() as client:
        provider: VideoProvider = VideoGenApiProvider(client, SETTINGS)
    assert provider.provider == "videogenapi"
    assert (provider.traits.poll_interval_s, provider.traits.max_job_duration_s) == (5.0, 1800.0)
    assert provider.traits.can_cancel is False

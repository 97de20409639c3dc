"""The generic OpenAI-compatible shell over httpx.MockTransport: what goes on the wire per configured instance,
cancel by DELETE, the keyed asset call (the key only to the base URL), capacity headers and
transport errors."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from providers.contract import (
    AssetSource,
    CapacityReport,
    GenerationRequest,
    ProviderSettings,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    VideoProvider,
)
from providers.openai import OpenAiCompatibleProvider

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI = ProviderSettings(base_url="https://api.openai.com/v1/", api_key="sk-test")
AZURE = ProviderSettings(
    base_url="https://contoso.openai.azure.com/openai/v1",
    api_key="az-test",
    name="azure-openai",
    key_header="api-key",
    query={"api-version": "preview"},
)
JOB = UpstreamJob(provider="openai", upstream_id="video_123", upstream_model="sora-2")
REQUEST = GenerationRequest(upstream_model="sora-2", scenes=(Scene(prompt="A calico cat playing a piano"),), seconds=8)

Canned = tuple[int, bytes, dict[str, str]]
Handler = dict[str, Canned | type[httpx.TransportError]]


class FakeUpstream:
    """Answers `METHOD path` with a canned reply or raises a transport error, recording every request."""

    def __init__(self, replies: Handler) -> None:
        self.replies = replies
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.replies[f"{request.method} {request.url.host}{request.url.path}"]
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, body, headers = outcome
        return httpx.Response(status_code, content=body, headers=headers)


def fixture(
    name: str, status_code: int = 200, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    return status_code, (FIXTURES / name).read_bytes(), headers or {}


def over(
    fake: FakeUpstream, settings: ProviderSettings = OPENAI, seen: list[CapacityReport] | None = None
) -> OpenAiCompatibleProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return OpenAiCompatibleProvider(client, settings, capacity=seen.append if seen is not None else lambda _: None)


def test_the_adapter_satisfies_both_protocols() -> None:
    """One class is a VideoProvider and an AssetSource, named after its configured slug."""
    adapter: VideoProvider = over(FakeUpstream({}), AZURE)
    assert isinstance(adapter, AssetSource)
    assert adapter.provider == "azure-openai"
    assert over(FakeUpstream({})).provider == "openai"


async def test_submit_posts_json_with_bearer_key() -> None:
    """OpenAI: POST {base}/videos, `Authorization: Bearer`, JSON body, the created id back."""
    fake = FakeUpstream({"POST api.openai.com/v1/videos": fixture("video_queued.json")})
    job = await over(fake).submit(REQUEST)
    sent = fake.requests[0]
    assert str(sent.url) == "https://api.openai.com/v1/videos"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == {"model": "sora-2", "prompt": "A calico cat playing a piano", "seconds": "8"}
    assert job.upstream_id == "video_123"


async def test_azure_instance_polls_with_api_key_and_version() -> None:
    """Azure: GET {base}/videos/{id}?api-version=..., the key in `api-key`, no Authorization header."""
    fake = FakeUpstream({"GET contoso.openai.azure.com/openai/v1/videos/video_123": fixture("video_in_progress.json")})
    status = await over(fake, AZURE).poll(JOB)
    sent = fake.requests[0]
    assert str(sent.url) == "https://contoso.openai.azure.com/openai/v1/videos/video_123?api-version=preview"
    assert sent.headers["api-key"] == "az-test"
    assert "authorization" not in sent.headers
    assert status.status == "in_progress"


async def test_cancel_deletes_the_video() -> None:
    """Cancel is DELETE {base}/videos/{id}, and says it was made."""
    fake = FakeUpstream({"DELETE api.openai.com/v1/videos/video_123": fixture("deleted.json")})
    assert await over(fake).cancel(JOB) is True
    assert fake.requests[0].method == "DELETE"


def test_asset_call_sends_the_key_to_the_content_route_only() -> None:
    """A content URL under the base URL is fetched with the key; any other host never gets it."""
    adapter = over(FakeUpstream({}), AZURE)
    url = "https://contoso.openai.azure.com/openai/v1/videos/video_123/content?api-version=preview&variant=video"
    call = adapter.asset_call(url)
    assert (call.method, call.path, call.headers) == ("GET", url, {"api-key": "az-test"})
    with pytest.raises(UpstreamProtocolError, match="not under"):
        adapter.asset_call("https://evil.example.com/openai/v1/videos/video_123/content")


async def test_rate_limited_create_reports_capacity_and_raises_with_the_wait() -> None:
    """A 429 with `retry-after` and `x-ratelimit-*` feeds the sink and raises UpstreamRateLimited."""
    headers = {"retry-after": "30", "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "0"}
    fake = FakeUpstream({"POST api.openai.com/v1/videos": fixture("error_429_rate_limit.json", 429, headers)})
    seen: list[CapacityReport] = []
    with pytest.raises(UpstreamRateLimited) as raised:
        await over(fake, seen=seen).submit(REQUEST)
    assert raised.value.retry_after_s == 30.0
    assert [(r.provider, r.scope, r.limit, r.remaining, r.retry_after_s) for r in seen] == [
        ("openai", "generate", 2, 0, 30.0)
    ]


async def test_connect_timeout_is_a_timeout_that_reached_nobody() -> None:
    """httpx.ConnectTimeout becomes UpstreamTimeout whose outcome is known (nothing was sent)."""
    fake = FakeUpstream({"POST api.openai.com/v1/videos": httpx.ConnectTimeout})
    with pytest.raises(UpstreamTimeout) as raised:
        await over(fake).submit(REQUEST)
    assert raised.value.outcome_unknown is False


async def test_read_timeout_is_a_timeout_whose_outcome_is_unknown() -> None:
    """httpx.ReadTimeout after sending may have created (and billed) a video."""
    fake = FakeUpstream({"POST api.openai.com/v1/videos": httpx.ReadTimeout})
    with pytest.raises(UpstreamTimeout) as raised:
        await over(fake).submit(REQUEST)
    assert raised.value.outcome_unknown is True


async def test_connection_refused_is_unavailable() -> None:
    """A refused connection is UpstreamUnavailable, which may fail over."""
    fake = FakeUpstream({"GET api.openai.com/v1/videos/video_123": httpx.ConnectError})
    with pytest.raises(UpstreamUnavailable):
        await over(fake).poll(JOB)

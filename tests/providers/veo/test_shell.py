"""The Veo shell over httpx.MockTransport: what goes on the wire for each API, errors and transport failures."""

from __future__ import annotations

import json

import httpx
import pytest

from providers.contract import (
    AssetSource,
    CapacityReport,
    GenerationRequest,
    ProviderSettings,
    Scene,
    UpstreamJob,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    VideoProvider,
)
from providers.veo import VeoProvider
from tests.providers.veo.conftest import FIXTURES, GEMINI, VERTEX

REQUEST = GenerationRequest(upstream_model="veo-3.0-generate-001", scenes=(Scene(prompt="a paper boat"),), seconds=8)
GEMINI_JOB = UpstreamJob(
    provider="veo",
    upstream_id="models/veo-3.0-generate-001/operations/zmnc0w0ohr5m",
    upstream_model=REQUEST.upstream_model,
)


class FakeGoogle:
    """Answers every request with one canned reply (or raises), recording the requests."""

    def __init__(self, fixture: str | type[httpx.TransportError], status_code: int = 200) -> None:
        self.outcome, self.status_code = fixture, status_code
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.outcome, type):
            raise self.outcome("simulated", request=request)
        return httpx.Response(self.status_code, content=(FIXTURES / self.outcome).read_bytes())


def over(fake: FakeGoogle, settings: ProviderSettings = GEMINI) -> VeoProvider:
    return VeoProvider(httpx.AsyncClient(transport=httpx.MockTransport(fake)), settings)


async def test_gemini_submit_posts_the_instance_with_the_key_header() -> None:
    """Submit POSTs v1beta/models/{model}:predictLongRunning with x-goog-api-key and the JSON body."""
    fake = FakeGoogle("generate_gemini.json")
    job = await over(fake).submit(REQUEST)
    assert job == GEMINI_JOB
    [request] = fake.requests
    assert (request.method, str(request.url)) == (
        "POST",
        "https://generativelanguage.googleapis.com/v1beta/models/veo-3.0-generate-001:predictLongRunning",
    )
    assert request.headers["x-goog-api-key"] == "AIza-test"
    assert "authorization" not in request.headers
    assert json.loads(request.content) == {
        "instances": [{"prompt": "a paper boat"}],
        "parameters": {"durationSeconds": 8},
    }


async def test_gemini_poll_gets_the_operation() -> None:
    """Poll GETs the operation by its full name and reads the finished video."""
    fake = FakeGoogle("status_gemini_done.json")
    status = await over(fake).poll(GEMINI_JOB)
    assert status.status == "completed"
    [request] = fake.requests
    assert (request.method, request.url.path) == ("GET", "/v1beta/models/veo-3.0-generate-001/operations/zmnc0w0ohr5m")


async def test_vertex_poll_posts_fetch_predict_operation_with_the_bearer_token() -> None:
    """Vertex polls by POSTing the operation name, authorised by the bearer token."""
    fake = FakeGoogle("status_vertex_done.json")
    name = json.loads((FIXTURES / "generate_vertex.json").read_text())["name"]
    job = UpstreamJob(provider="veo", upstream_id=name, upstream_model="veo-3.0-generate-001")
    await over(fake, VERTEX).poll(job)
    [request] = fake.requests
    assert request.url.path.endswith("/models/veo-3.0-generate-001:fetchPredictOperation")
    assert request.headers["Authorization"] == "Bearer ya29.test"
    assert json.loads(request.content) == {"operationName": name}


async def test_a_429_is_rate_limited_and_cools_the_model_down() -> None:
    """RESOURCE_EXHAUSTED at submit raises UpstreamRateLimited carrying RetryInfo's 34 s, and tells the capacity
    sink that this model's window is spent for that long."""
    seen: list[CapacityReport] = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(FakeGoogle("error_429_resource_exhausted.json", 429)))
    with pytest.raises(UpstreamRateLimited) as raised:
        await VeoProvider(client, GEMINI, capacity=seen.append).submit(REQUEST)
    assert raised.value.retry_after_s == 34.0
    assert seen == [CapacityReport(provider="veo", scope="model:veo-3.0-generate-001", remaining=0, retry_after_s=34.0)]


async def test_a_connect_timeout_is_a_timeout_that_never_reached_google() -> None:
    """httpx.ConnectTimeout becomes UpstreamTimeout whose outcome is known (nothing was accepted)."""
    with pytest.raises(UpstreamTimeout) as raised:
        await over(FakeGoogle(httpx.ConnectTimeout)).submit(REQUEST)
    assert not raised.value.outcome_unknown


async def test_a_refused_connection_is_unavailable() -> None:
    """httpx.ConnectError becomes UpstreamUnavailable."""
    with pytest.raises(UpstreamUnavailable):
        await over(FakeGoogle(httpx.ConnectError)).poll(GEMINI_JOB)


async def test_cancel_makes_no_call() -> None:
    """No cancel is documented for Veo operations: cancel answers False without a request."""
    fake = FakeGoogle("generate_gemini.json")
    provider: VideoProvider = over(fake)
    assert await provider.cancel(GEMINI_JOB) is False
    assert provider.traits.can_cancel is False
    assert fake.requests == []


def test_the_adapter_is_an_asset_source_for_its_own_host() -> None:
    """The gateway downloads Veo videos through the adapter, with the key, from the API host only."""
    provider = over(FakeGoogle("generate_gemini.json"))
    assert isinstance(provider, AssetSource)
    call = provider.asset_call("https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media")
    assert call.headers == {"x-goog-api-key": "AIza-test"}


def test_bad_options_fail_when_the_adapter_is_built() -> None:
    """An unknown option or a Vertex table without its project is refused at start (a ValueError)."""
    with pytest.raises(ValueError, match="regoin"):
        over(FakeGoogle("generate_gemini.json"), ProviderSettings(base_url="x", api_key="k", options={"regoin": "x"}))

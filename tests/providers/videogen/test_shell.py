"""The VideoGen shell over httpx.MockTransport: what goes on the wire (upload flow included), timeouts,
headroom reports and cancel."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from providers.contract import (
    CapacityReport,
    GenerationRequest,
    ImageData,
    InvalidUpstreamRequest,
    ProviderSettings,
    Scene,
    UpstreamJob,
    UpstreamRateLimited,
    UpstreamTimeout,
    VideoProvider,
)
from providers.videogen import VideoGenProvider

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://api.videogen.test", api_key="vg-key")
API = "https://api.videogen.test"
UPLOAD_URL = "https://storage.videogen.io/uploads/vg_file_up1?X-Goog-Signature=abc"
JOB = UpstreamJob(provider="videogen", upstream_id="vg_exec_01hx7k2m9q", upstream_model="auto")
START = ImageData(mime_type="image/png", data=b"\x89PNG-start", digest="a" * 64)
REF = ImageData(mime_type="image/jpeg", data=b"\xff\xd8-ref", digest="b" * 64)
LIMITS = {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "499", "X-RateLimit-Reset": "1769903600"}

Outcome = tuple[int, bytes, dict[str, str]] | type[httpx.TransportError]


def ok(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Outcome:
    return status_code, (FIXTURES / name).read_bytes(), headers if headers is not None else LIMITS


class FakeVideoGen:
    """Answers each (method, path) with its canned replies in turn (the last one repeats), recording requests."""

    def __init__(self, routes: dict[tuple[str, str], Sequence[Outcome]]) -> None:
        self.routes = {route: list(outcomes) for route, outcomes in routes.items()}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcomes = self.routes[(request.method, request.url.path)]
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, body, headers = outcome
        return httpx.Response(status_code, content=body, headers=headers)

    @property
    def calls(self) -> list[str]:
        return [f"{request.method} {request.url.path}" for request in self.requests]


def upload_routes(*files: Sequence[Outcome], put: Outcome = (200, b"", {})) -> dict[tuple[str, str], Sequence[Outcome]]:
    return {
        ("POST", "/v1/files/upload"): [ok("upload.json")],
        ("PUT", "/uploads/vg_file_up1"): [put],
        ("GET", "/v1/files/vg_file_up1"): [outcome for replies in files for outcome in replies],
        ("POST", "/v1/tools/generate-video-clip"): [ok("start.json", 202)],
    }


def provider_over(fake: FakeVideoGen, sink: list[CapacityReport] | None = None) -> VideoGenProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    seen = sink if sink is not None else []
    return VideoGenProvider(client, SETTINGS, capacity=seen.append, file_ready_delays_s=(0.0, 0.0, 0.0))


def make_request(scene: Scene | None = None, **fields: object) -> GenerationRequest:
    chosen = scene or Scene(prompt="ocean waves")
    return GenerationRequest(upstream_model="auto", scenes=(chosen,), **fields)  # type: ignore[arg-type]


async def test_submit_t2v_posts_the_generate_body_with_bearer_auth() -> None:
    """A t2v submit is one POST to the tool with the key and a JSON camelCase body, giving the execution id."""
    fake = FakeVideoGen({("POST", "/v1/tools/generate-video-clip"): [ok("start.json", 202)]})
    job = await provider_over(fake).submit(make_request(seconds=6))
    assert job == JOB
    [request] = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{API}/v1/tools/generate-video-clip")
    assert request.headers["Authorization"] == "Bearer vg-key"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"prompt": "ocean waves", "durationSeconds": 6}


async def test_submit_i2v_uploads_each_image_then_generates_with_file_ids() -> None:
    """Each image is created, PUT without auth, polled until ready, and its id is passed to generate."""
    fake = FakeVideoGen(upload_routes([ok("file_pending.json"), ok("file_ready.json")], [ok("file_ready.json")]))
    request = make_request(Scene(prompt="waves", image=START), reference_images=(REF,))
    await provider_over(fake).submit(request)
    assert fake.calls == [
        "POST /v1/files/upload",
        "PUT /uploads/vg_file_up1",
        "GET /v1/files/vg_file_up1",
        "GET /v1/files/vg_file_up1",
        "POST /v1/files/upload",
        "PUT /uploads/vg_file_up1",
        "GET /v1/files/vg_file_up1",
        "POST /v1/tools/generate-video-clip",
    ]
    created, put, *_ = fake.requests
    assert json.loads(created.content) == {
        "displayName": f"start-frame-{'a' * 16}",
        "type": "IMAGE",
        "isTemporary": True,
    }
    assert str(put.url) == UPLOAD_URL
    assert (put.content, put.headers["Content-Type"]) == (START.data, "image/png")
    assert "Authorization" not in put.headers
    assert fake.requests[5].content == REF.data
    assert all(
        r.headers["Authorization"] == "Bearer vg-key" for r in fake.requests if r.url.host == "api.videogen.test"
    )
    body = json.loads(fake.requests[-1].content)
    assert (body["startFrameFileId"], body["imageFileIds"]) == ("vg_file_up1", ["vg_file_up1"])


async def test_file_never_ready_is_a_timeout_with_known_outcome_and_no_generate() -> None:
    """A file still pending after every allowed check gives up with nothing submitted."""
    fake = FakeVideoGen(upload_routes([ok("file_pending.json")]))
    with pytest.raises(UpstreamTimeout, match="4 checks") as caught:
        await provider_over(fake).submit(make_request(Scene(prompt="waves", image=START)))
    assert caught.value.outcome_unknown is False
    assert fake.calls.count("GET /v1/files/vg_file_up1") == 4
    assert "POST /v1/tools/generate-video-clip" not in fake.calls


async def test_read_timeout_during_upload_is_a_timeout_with_known_outcome() -> None:
    """Before generate is sent nothing can be billed, so even a read timeout on the PUT has a known outcome."""
    fake = FakeVideoGen(upload_routes([ok("file_ready.json")], put=httpx.ReadTimeout))
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(make_request(Scene(prompt="waves", image=START)))
    assert caught.value.outcome_unknown is False


@pytest.mark.parametrize(("error", "unknown"), [(httpx.ConnectTimeout, False), (httpx.ReadTimeout, True)])
async def test_generate_timeouts_say_whether_the_job_may_exist(
    error: type[httpx.TransportError], unknown: bool
) -> None:
    """A connect timeout never reached VideoGen; a read timeout may follow an accepted (billed) execution."""
    fake = FakeVideoGen({("POST", "/v1/tools/generate-video-clip"): [error]})
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(make_request())
    assert caught.value.outcome_unknown is unknown


async def test_invalid_request_is_refused_before_any_call() -> None:
    """A request VideoGen cannot take (a negative prompt) makes no HTTP call, not even an upload."""
    fake = FakeVideoGen({})
    request = make_request(Scene(prompt="waves", negative_terms=("blurry",), image=START))
    with pytest.raises(InvalidUpstreamRequest, match="negative"):
        await provider_over(fake).submit(request)
    assert fake.requests == []


async def test_headroom_sink_gets_every_api_reply_by_scope_but_not_the_storage_put() -> None:
    """Each API reply's X-RateLimit headers reach the sink under its endpoint group; the PUT has none."""
    sink: list[CapacityReport] = []
    fake = FakeVideoGen(upload_routes([ok("file_ready.json")], put=(200, b"", LIMITS)))
    await provider_over(fake, sink).submit(make_request(Scene(prompt="waves", image=START)))
    assert [headroom.scope for headroom in sink] == ["upload", "file", "generate"]
    assert sink[-1] == CapacityReport(
        provider="videogen", scope="generate", limit=500, remaining=499, reset_at=1769903600.0
    )


async def test_rate_limited_poll_reports_no_headroom_and_a_retry_hint() -> None:
    """A 429 on a poll raises rate-limited with a hint from X-RateLimit-Reset; the sink sees 0 remaining."""
    sink: list[CapacityReport] = []
    headers = {**LIMITS, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4102444800"}  # 2100-01-01
    fake = FakeVideoGen(
        {("GET", "/v1/tools/executions/vg_exec_01hx7k2m9q"): [ok("error_429_rate_limited.json", 429, headers)]}
    )
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider_over(fake, sink).poll(JOB)
    assert (caught.value.retry_after_s or 0.0) > 0.0
    assert [(h.scope, h.limit, h.remaining, h.reset_at) for h in sink] == [("status", 500, 0, 4102444800.0)]


async def test_poll_gets_the_execution_and_parses_completion() -> None:
    """A poll GETs the execution with the key and returns the signed video URL."""
    fake = FakeVideoGen({("GET", "/v1/tools/executions/vg_exec_01hx7k2m9q"): [ok("status_succeeded.json")]})
    status = await provider_over(fake).poll(JOB)
    assert status.output is not None
    assert status.output.video_url == "https://cdn.videogen.io/signed/vg_file_9f8e7d6c.mp4?sig=abc"
    assert (fake.requests[0].method, fake.requests[0].headers["Authorization"]) == ("GET", "Bearer vg-key")


async def test_cancel_posts_to_the_cancel_endpoint_and_returns_true() -> None:
    """Cancel is a POST to /cancel with the key and an empty body; an empty 202 means True."""
    fake = FakeVideoGen({("POST", "/v1/tools/executions/vg_exec_01hx7k2m9q/cancel"): [(202, b"", LIMITS)]})
    assert await provider_over(fake).cancel(JOB) is True
    [request] = fake.requests
    assert (str(request.url), request.content) == (f"{API}/v1/tools/executions/vg_exec_01hx7k2m9q/cancel", b"")
    assert request.headers["Authorization"] == "Bearer vg-key"


async def test_observer_sees_each_call_with_operation_and_outcome() -> None:
    """The injected observer is told the provider, operation and status of every call, the PUT included."""
    seen: list[tuple[str, str, str]] = []
    fake = FakeVideoGen(upload_routes([ok("file_ready.json")]))
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    provider = VideoGenProvider(client, SETTINGS, observe=lambda p, op, outcome, _s: seen.append((p, op, outcome)))
    await provider.submit(make_request(Scene(prompt="waves", image=START)))
    assert seen == [
        ("videogen", "upload", "200"),
        ("videogen", "upload_put", "200"),
        ("videogen", "file", "200"),
        ("videogen", "generate", "202"),
    ]


async def test_adapter_satisfies_the_provider_protocol_with_cited_traits() -> None:
    """The class is a VideoProvider with slug videogen, a 5 s cadence, a 1 h cap and cancel support."""
    async with httpx.AsyncClient() as client:
        provider: VideoProvider = VideoGenProvider(client, SETTINGS)
    assert provider.provider == "videogen"
    assert (provider.traits.poll_interval_s, provider.traits.max_job_duration_s) == (5.0, 3600.0)
    assert provider.traits.can_cancel is True

"""The Vidgen shell over httpx.MockTransport: what goes on the wire, catalogue caching and error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from providers.contract import (
    GenerationRequest,
    InvalidUpstreamRequest,
    ProviderSettings,
    Scene,
    UpstreamJob,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from providers.registry import PROVIDERS
from providers.vidgen import VidgenProvider

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://vidgen.test", api_key="sk-test")
URL = "https://vidgen.test/api/v2"
JOB = UpstreamJob(provider="vidgen", upstream_id="run_abc123xyz", upstream_model="scenex")

Outcome = tuple[int, bytes, dict[str, str]] | type[httpx.TransportError]


class FakeVidgen:
    """Answers each action with a canned reply or raises a transport error, recording every request."""

    def __init__(self, **outcomes: Outcome) -> None:
        self.outcomes = {"models": ok("models.json"), **outcomes}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes[json.loads(request.content)["action"]]
        if isinstance(outcome, type):
            raise outcome("simulated", request=request)
        status_code, body, headers = outcome
        return httpx.Response(status_code, content=body, headers=headers)

    @property
    def actions(self) -> list[str]:
        return [json.loads(request.content)["action"] for request in self.requests]


def ok(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Outcome:
    return status_code, (FIXTURES / name).read_bytes(), headers or {}


def make_request(model: str = "scenex", scenes: int = 1) -> GenerationRequest:
    return GenerationRequest(upstream_model=model, scenes=tuple(Scene(prompt=f"shot {i}") for i in range(scenes)))


def provider_over(fake: FakeVidgen) -> VidgenProvider:
    return VidgenProvider(httpx.AsyncClient(transport=httpx.MockTransport(fake)), SETTINGS)


async def test_submit_posts_models_then_generate_with_auth_and_body() -> None:
    """Submit fetches the catalogue, then POSTs the generate body with the Bearer key, and returns the job."""
    fake = FakeVidgen(generate=ok("generate.json"))
    job = await provider_over(fake).submit(make_request())
    assert job == JOB
    assert fake.actions == ["models", "generate"]
    for request in fake.requests:
        assert (request.method, str(request.url)) == ("POST", URL)
        assert request.headers["Authorization"] == "Bearer sk-test"
        assert request.headers["Content-Type"] == "application/json"
    assert json.loads(fake.requests[1].content) == {
        "action": "generate",
        "model": "scenex",
        "scenes": [{"prompt": "shot 0"}],
    }


async def test_models_catalogue_is_fetched_once_then_cached() -> None:
    """Two submits on one instance make one models call."""
    fake = FakeVidgen(generate=ok("generate.json"))
    provider = provider_over(fake)
    await provider.submit(make_request())
    await provider.submit(make_request())
    assert fake.actions == ["models", "generate", "generate"]


async def test_unknown_model_is_refused_before_generate_is_sent() -> None:
    """A model missing from the catalogue raises without a generate call (Vidgen would silently swap it)."""
    fake = FakeVidgen(generate=ok("generate.json"))
    with pytest.raises(InvalidUpstreamRequest, match="scenex-hd"):
        await provider_over(fake).submit(make_request(model="scenex-hd"))
    assert fake.actions == ["models"]


async def test_too_many_scenes_are_refused_before_generate_is_sent() -> None:
    """More scenes than the catalogue's max_scenes raise without a generate call."""
    fake = FakeVidgen(generate=ok("generate.json"))
    with pytest.raises(InvalidUpstreamRequest, match="max_scenes"):
        await provider_over(fake).submit(make_request(scenes=6))
    assert fake.actions == ["models"]


async def test_invalid_request_is_refused_before_any_call() -> None:
    """A request the builder refuses makes no HTTP call at all."""
    fake = FakeVidgen()
    request = GenerationRequest(upstream_model="scenex", scenes=(Scene(prompt="x"),), seed=7)
    with pytest.raises(InvalidUpstreamRequest, match="seed"):
        await provider_over(fake).submit(request)
    assert fake.requests == []


async def test_connect_timeout_on_generate_is_a_timeout_with_known_outcome() -> None:
    """A connect timeout never reached Vidgen, so the outcome is known (nothing was accepted)."""
    fake = FakeVidgen(generate=httpx.ConnectTimeout)
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(make_request())
    assert caught.value.outcome_unknown is False


async def test_read_timeout_on_generate_is_a_timeout_with_unknown_outcome() -> None:
    """A read timeout may follow an accepted (billed) job, so the outcome is unknown."""
    fake = FakeVidgen(generate=httpx.ReadTimeout)
    with pytest.raises(UpstreamTimeout) as caught:
        await provider_over(fake).submit(make_request())
    assert caught.value.outcome_unknown is True


async def test_bad_gateway_on_generate_maps_to_upstream_unavailable() -> None:
    """A 502 "Generation failed" is upstream_unavailable with its code."""
    fake = FakeVidgen(generate=ok("error_502_generation_failed.json", 502))
    with pytest.raises(UpstreamUnavailable) as caught:
        await provider_over(fake).submit(make_request())
    assert (caught.value.status_code, caught.value.code) == (502, "generation_failed")


async def test_rate_limited_poll_carries_the_retry_after_hint() -> None:
    """A 429 with `Retry-After: 30` on a poll raises rate-limited with a 30 s hint."""
    fake = FakeVidgen(status=(429, b"", {"Retry-After": "30"}))
    with pytest.raises(UpstreamRateLimited) as caught:
        await provider_over(fake).poll(JOB)
    assert caught.value.retry_after_s == 30.0


async def test_poll_posts_status_action_and_parses_completion() -> None:
    """A poll sends the status action with id and model and returns the signed video URL."""
    fake = FakeVidgen(status=ok("status_completed_safe.json"))
    status = await provider_over(fake).poll(JOB)
    assert status.output is not None
    assert status.output.video_url == "https://s3.../video.mp4?..."
    assert json.loads(fake.requests[0].content) == {
        "action": "status",
        "id": "run_abc123xyz",
        "model": "scenex",
    }
    assert fake.requests[0].headers["Authorization"] == "Bearer sk-test"


async def test_cancel_returns_false_without_any_call() -> None:
    """Vidgen has no cancel action, so cancel answers False and sends nothing."""
    fake = FakeVidgen()
    assert await provider_over(fake).cancel(JOB) is False
    assert fake.requests == []


async def test_observer_sees_each_call_with_operation_and_outcome() -> None:
    """The injected observer is told the provider, operation and HTTP status of each call."""
    seen: list[tuple[str, str, str]] = []
    fake = FakeVidgen(generate=ok("generate.json"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    provider = VidgenProvider(client, SETTINGS, observe=lambda p, op, outcome, _s: seen.append((p, op, outcome)))
    await provider.submit(make_request())
    assert seen == [("vidgen", "models", "200"), ("vidgen", "generate", "200")]


async def test_registry_builds_the_vidgen_adapter_by_slug() -> None:
    """The registry's "vidgen" entry builds an adapter whose slug and traits match the seed."""
    async with httpx.AsyncClient() as client:
        provider = PROVIDERS["vidgen"](client, SETTINGS)
    assert provider.provider == "vidgen"
    assert (provider.traits.poll_interval_s, provider.traits.max_job_duration_s) == (5.0, 1800.0)
    assert provider.traits.can_cancel is False


async def test_enhance_prompt_checks_the_model_then_posts_optimize() -> None:
    """Prompt enhancement fetches the catalogue, then posts the `optimize` action and returns its prompt."""
    fake = FakeVidgen(optimize=(200, b'{"prompt": "a harbour at dawn, cinematic lighting"}', {}))
    enhanced = await provider_over(fake).enhance_prompt("a harbour at dawn", upstream_model="scenex")
    assert enhanced == "a harbour at dawn, cinematic lighting"
    assert fake.actions == ["models", "optimize"]
    assert json.loads(fake.requests[1].content) == {
        "action": "optimize",
        "prompt": "a harbour at dawn",
        "model": "scenex",
    }


async def test_enhance_prompt_refuses_an_unoffered_model_before_optimize() -> None:
    """An unknown model is refused before `optimize` (Vidgen would silently use its first model's prompt)."""
    fake = FakeVidgen()
    with pytest.raises(InvalidUpstreamRequest):
        await provider_over(fake).enhance_prompt("a harbour", upstream_model="scenex-hd")
    assert fake.actions == ["models"]

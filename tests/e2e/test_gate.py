"""Capacity and health through the gateway over the emulators: a provider without headroom is never called,
a circuit opens on repeated 5xx and half-opens after its cooldown, a configured window holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest

from gateway.config import Settings
from routing.headroom.config import HeadroomConfig, WindowConfig
from routing.health.breakers import BreakerSettings
from tests.conftest import GatewayFactory, auth, example_settings
from tests.e2e.conftest import arm, generate_calls, with_nanogpt

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}
NANO_ONLY = {**SORA, "routing": {"providers": ["nanogpt"]}}


@pytest.fixture
async def client(
    request: pytest.FixtureRequest, sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> AsyncIterator[httpx.AsyncClient]:
    adjust: Callable[[Settings], Settings] = getattr(request, "param", lambda settings: settings)
    settings = adjust(example_settings(sandbox))
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http


async def test_an_exhausted_provider_is_never_called_again(client: httpx.AsyncClient, sandbox: dict[str, str]) -> None:
    """NanoGPT answers 402 (no balance): the job fails over, and the next sora-2 job skips NanoGPT without a call."""
    await arm(sandbox["nanogpt"], status_code=402)
    first = (await client.post("/v1/videos", json=SORA, headers=auth())).json()
    assert first["provider"] == "videogenapi"
    calls = await generate_calls(sandbox["nanogpt"])
    second = (await client.post("/v1/videos", json=SORA, headers=auth())).json()
    assert second["provider"] == "videogenapi"
    assert second["routing"]["attempts"] == [{"provider": "videogenapi", "outcome": "accepted", "error_code": None}]
    assert await generate_calls(sandbox["nanogpt"]) == calls


def _fragile_breaker(settings: Settings) -> Settings:
    return msgspec.structs.replace(settings, breakers=BreakerSettings(min_calls=2, failure_ratio=0.5, cooldown_s=0.5))


@pytest.mark.parametrize("client", [_fragile_breaker], indirect=True)
async def test_a_circuit_opens_on_repeated_5xx_and_half_opens_after_the_cooldown(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """Two 503s open NanoGPT's circuit (next job refused without a call); after the cooldown a probe gets through."""
    await arm(sandbox["nanogpt"], status_code=503, times=2)
    for _ in range(2):
        assert (await client.post("/v1/videos", json=NANO_ONLY, headers=auth())).status_code == 502
    calls = await generate_calls(sandbox["nanogpt"])
    refused = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert refused.status_code == 503
    assert "circuit open" in refused.json()["error"]["message"]
    assert await generate_calls(sandbox["nanogpt"]) == calls
    for _ in range(50):  # bounded wait for the cooldown; no assertion on how long it took
        await asyncio.sleep(0.05)
        probe = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
        if probe.status_code == 202:
            break
    assert probe.status_code == 202
    assert probe.json()["provider"] == "nanogpt"


def _two_per_hour(settings: Settings) -> Settings:
    window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=2, per_s=3600),))
    return with_nanogpt(settings, headroom=window)


@pytest.mark.parametrize("client", [_two_per_hour], indirect=True)
async def test_a_configured_window_moves_jobs_elsewhere_once_spent(client: httpx.AsyncClient) -> None:
    """NanoGPT allows 2 generations per hour here: the third sora-2 job goes to videogenapi, with the reason."""
    providers = [(await client.post("/v1/videos", json=SORA, headers=auth())).json()["provider"] for _ in range(3)]
    assert providers == ["nanogpt", "nanogpt", "videogenapi"]
    only_nano = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert only_nano.status_code == 503
    assert "generate window 2/3600s exhausted" in only_nano.json()["error"]["message"]

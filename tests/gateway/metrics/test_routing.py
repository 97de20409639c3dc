"""Routing and provider state in the metrics, over the emulators: failovers and their error classes, 503
refusals, and circuit and headroom gauges that a second replica on the same Redis reports as the first left them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.store.redis import RedisStore
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import REDIS_URL, GatewayFactory, auth, example_settings, gateway_settings
from tests.gateway.metrics.conftest import scrape, value

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}
SCENEX = {"model": "scenex", "prompt": "a lighthouse at dawn"}
SHARED_STATE = """
[breakers]
min_calls = 1
cooldown_s = 600.0
[metrics]
provider_refresh_s = 0
[providers.vidgen.headroom]
windows = [{ scope = "generate", limit = 5, per_s = 3600 }]
"""


async def arm(url: str, **fault: Any) -> None:
    async with httpx.AsyncClient(base_url=url) as emulator:
        spec = FaultSpec(**{"action": "generate", "times": 1, **fault})
        await SandboxControl(emulator).arm(spec)  # raises unless 201


@pytest.fixture
async def gateway(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_gateway(example_settings(sandbox)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def test_a_failover_is_counted_with_the_error_class_that_caused_it(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT answers 429: the decision, the 429 call, the rate_limited error and one failover from NanoGPT."""
    await arm(sandbox["nanogpt"], status_code=429)
    assert (await gateway.post("/v1/videos", json=SORA, headers=auth())).json()["provider"] == "videogenapi"
    samples = await scrape(gateway)
    nano = {"provider": "nanogpt"}
    assert value(samples, "video_gateway_router_decisions_total", **nano, model="sora-2", strategy="cheapest") == 1
    call = {**nano, "operation": "generate", "outcome": "429"}
    assert value(samples, "video_gateway_upstream_request_duration_seconds_count", **call) == 1
    error = {**nano, "operation": "generate", "error_class": "rate_limited"}
    assert value(samples, "video_gateway_upstream_errors_total", **error) == 1
    assert value(samples, "video_gateway_router_failovers_total", **nano, reason="rate_limited") == 1
    assert value(samples, "video_gateway_router_failovers_total") == 1


async def test_every_attempt_failing_is_one_refusal_and_one_failover(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """Both sora-2 providers answer 503: one failover (the last candidate has nowhere to go), one refusal."""
    await arm(sandbox["nanogpt"], status_code=503)
    await arm(sandbox["videogenapi"], status_code=503)
    reply = await gateway.post("/v1/videos", json=SORA, headers=auth())
    assert reply.json()["error"]["code"] == "all_attempts_failed"
    samples = await scrape(gateway)
    assert value(samples, "video_gateway_router_refusals_total", reason="all_attempts_failed") == 1
    assert value(samples, "video_gateway_router_failovers_total", provider="nanogpt") == 1
    assert value(samples, "video_gateway_router_failovers_total", provider="videogenapi") == 0
    assert value(samples, "video_gateway_upstream_errors_total", error_class="upstream_unavailable") == 2


async def test_circuit_and_headroom_gauges_are_shared_across_replicas(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """Replica A opens Vidgen's circuit and spends two window units; replica B's scrape shows both, and B's next
    create is refused 503 and counted as no provider available."""
    settings = gateway_settings(vidgen_url, extra=SHARED_STATE)
    stores = [RedisStore.from_url(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    async with (
        serve_gateway(settings, store=stores[0]) as first,
        serve_gateway(settings, store=stores[1]) as second,
        httpx.AsyncClient(base_url=first, timeout=10) as a,
        httpx.AsyncClient(base_url=second, timeout=10) as b,
    ):
        before = await scrape(b)
        assert value(before, "video_gateway_circuit_state", provider="vidgen") == 0
        assert (await a.post("/v1/videos", json=SCENEX, headers=auth())).status_code == 202
        await arm(vidgen_url, status_code=503)
        assert (await a.post("/v1/videos", json=SCENEX, headers=auth())).status_code in (502, 503)
        shared = await scrape(b)
        refused = await b.post("/v1/videos", json=SCENEX, headers=auth())
        after = await scrape(b)
    for store in stores:
        await store.close()
    vidgen = {"provider": "vidgen"}
    assert value(shared, "video_gateway_circuit_state", **vidgen) == 2
    assert value(shared, "video_gateway_circuit_window_failures", **vidgen) == 1
    window = {**vidgen, "scope": "generate"}
    assert value(shared, "video_gateway_headroom_window_limit", **window) == 5
    assert value(shared, "video_gateway_headroom_window_remaining", **window) == 3
    assert refused.json()["error"]["code"] == "no_provider_available"
    assert value(after, "video_gateway_router_refusals_total", reason="no_provider_available") == 1

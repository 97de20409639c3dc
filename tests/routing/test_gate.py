"""The gate (routing/gate.py) over the in-memory state and over Redis (one node, the session's Cluster): the screen
decides the same on each, concurrent screens on Redis share one round trip for every circuit and headroom reading,
and an unreachable Redis fails open as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway import backends
from gateway.store.connect import RedisClient, redis_client, windows_storage
from gateway.store.redis import RedisStore
from providers.contract import CapacityReport, GenerationRequest, Scene
from routing.gate import ProviderGate
from routing.headroom.config import HeadroomConfig
from routing.headroom.tracker import Headroom
from routing.health.breakers import BreakerSettings, CircuitState, MemoryCircuitBreakers
from routing.health.redis_breakers import RedisCircuitBreakers
from routing.router import Candidate, Drop, Plan
from tests.conftest import ON_CLUSTER, REDIS_URL, FakeClock, backend_url, gateway_settings
from tests.routing.pipelines import RoundTrips

BREAKERS = BreakerSettings(window_s=60, min_calls=2, failure_ratio=0.5, cooldown_s=30, half_open_probes=1)
GateFactory = Callable[[Mapping[str, HeadroomConfig]], ProviderGate]


def candidate(provider: str, model: str = "m") -> Candidate:
    request = GenerationRequest(upstream_model=model, scenes=(Scene(prompt="a paper boat"),))
    return Candidate(model=model, provider=provider, request=request, seconds=4, size=None, estimated_cost_micros=1)


# Four offerings on three providers: vidgen's circuit open, videogen cooling down after a 429 on one model only,
# fal clean with two models.
PLAN = Plan(
    candidates=(
        candidate("vidgen"),
        candidate("videogen", "busy"),
        candidate("videogen", "idle"),
        candidate("fal", "a"),
        candidate("fal", "b"),
    ),
    dropped=(Drop(model="m", provider="veo", reasons=("a capability gap",), permanent=True),),
)


def gate_on(client: RedisClient, prefix: str, configs: Mapping[str, HeadroomConfig], clock: FakeClock) -> ProviderGate:
    """As gateway/backends.py builds it: breakers and headroom over one client (so one `hash_reader`)."""
    windows = windows_storage(client, key_prefix=f"{prefix}headroom")
    headroom = Headroom.on_redis(configs, client, windows=windows, prefix=prefix, clock=clock)
    breakers = RedisCircuitBreakers(client, BREAKERS, clock=clock, prefix=prefix)
    return ProviderGate(headroom, breakers)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def make_gate(request: pytest.FixtureRequest, redis_prefix: str, clock: FakeClock) -> AsyncIterator[GateFactory]:
    if request.param == "memory":
        yield lambda configs: ProviderGate(
            Headroom.in_memory(configs, clock=clock), MemoryCircuitBreakers(BREAKERS, clock=clock)
        )
        return
    client = redis_client(backend_url(request))
    yield lambda configs: gate_on(client, redis_prefix, configs, clock)
    await client.aclose()


async def with_state(gate: ProviderGate) -> ProviderGate:
    for _ in range(BREAKERS.min_calls):
        assert await gate.breakers.record("vidgen", ok=False) in (CircuitState.CLOSED, CircuitState.OPEN)
    gate.headroom.record(CapacityReport(provider="videogen", scope="model:busy", retry_after_s=20))
    await gate.headroom.flush()
    return gate


async def test_the_screen_drops_open_circuits_and_cooling_models_alone_or_together(make_gate: GateFactory) -> None:
    """One screen and twenty at once decide the same, on memory, one Redis and a Cluster: the open circuit and the
    cooling model are dropped with their reasons and when they clear, the rest kept in order."""
    gate = await with_state(make_gate({}))

    alone = await gate.screen(PLAN)
    together = await asyncio.gather(*(gate.screen(PLAN) for _ in range(20)))

    assert [(c.provider, c.model) for c in alone.candidates] == [("videogen", "idle"), ("fal", "a"), ("fal", "b")]
    assert alone.dropped == (
        PLAN.dropped[0],
        Drop(model="m", provider="vidgen", reasons=("circuit open after repeated failures",)),
        Drop(
            model="busy",
            provider="videogen",
            reasons=("videogen: cooling down 20 s after a 429 (model:busy)",),
            clears_at=gate.headroom.now() + 20,
        ),
    )
    assert all(plan == alone for plan in together)


async def test_concurrent_screens_read_every_circuit_and_headroom_in_one_round_trip(
    redis_prefix: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty screens of five offerings on three providers at once: one pipeline with one HGETALL per provider's
    circuit and one per provider's readings (six), where each screen read them on its own before (twenty times
    two round trips, and more commands: a provider's readings once per offering)."""
    client = redis_client(REDIS_URL)
    try:
        gate = await with_state(gate_on(client, redis_prefix, {}, clock))
        trips = RoundTrips(client, monkeypatch)

        plans = await asyncio.gather(*(gate.screen(PLAN) for _ in range(20)))

        assert all(plan == plans[0] for plan in plans)
        assert [c.provider for c in plans[0].candidates] == ["videogen", "fal", "fal"]
        assert len(trips.sent) == 1
        keys = sorted(key for _, key in trips.sent[0])
        assert keys == sorted(
            [f"{redis_prefix}breaker:{p}" for p in ("fal", "videogen", "vidgen")]
            + [f"{redis_prefix}headroom:{p}:readings" for p in ("fal", "videogen", "vidgen")]
        )
    finally:
        await client.aclose()


async def test_the_gateways_gate_reads_a_screen_in_one_round_trip(
    redis_prefix: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the gateway wires it on a Redis store (gateway/backends.py), a create's screen makes one round trip."""
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        gate = backends.gate(gateway_settings("http://127.0.0.1:1"), store, clock)
        trips = RoundTrips(store.client, monkeypatch)

        screened = await gate.screen(Plan(candidates=(candidate("vidgen"),), dropped=()))

        assert [c.provider for c in screened.candidates] == ["vidgen"]
        assert len(trips.sent) == 1
        assert sorted(trips.sent[0]) == [
            ("HGETALL", f"{redis_prefix}breaker:vidgen"),
            ("HGETALL", f"{redis_prefix}headroom:vidgen:readings"),
        ]
    finally:
        await store.close()


async def test_concurrent_claims_take_exactly_the_free_slots(make_gate: GateFactory) -> None:
    """Ten claims at once on a provider with three jobs in flight at most: three take a slot, seven are refused,
    on memory, one Redis and a Cluster; a refused claim holds nothing and a finished job frees its slot."""
    gate = make_gate({"fal": HeadroomConfig(max_in_flight=3)})
    fal = candidate("fal")
    await gate.screen(Plan(candidates=(fal,), dropped=()))  # as a create does: the circuit is read as quiet

    refusals = await asyncio.gather(*(gate.claim(fal, f"job-{n}") for n in range(10)))

    assert sorted(refusals, key=str) == [None] * 3 + ["no_concurrency_slot"] * 7
    assert await gate.in_flight("fal") == 3
    await gate.finished("fal", f"job-{refusals.index(None)}")
    assert await gate.claim(fal, "job-late") is None
    assert await gate.claim(fal, "job-later") == "no_concurrency_slot"


async def test_concurrent_claims_acquire_their_slots_in_one_round_trip(
    redis_prefix: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one Redis node the slot acquires of claims made together travel in one pipeline, each with its answer."""
    client = redis_client(REDIS_URL)
    try:
        gate = gate_on(client, redis_prefix, {"fal": HeadroomConfig(max_in_flight=2)}, clock)
        fal = candidate("fal")
        await gate.screen(Plan(candidates=(fal,), dropped=()))
        assert await gate.claim(fal, "job-warm") is None  # the script loaded (a NOSCRIPT reply runs alone)
        trips = RoundTrips(client, monkeypatch)

        refusals = await asyncio.gather(*(gate.claim(fal, f"job-{n}") for n in range(5)))

        assert sorted(refusals, key=str) == [None] + ["no_concurrency_slot"] * 4
        assert len(trips.sent) == 1
        assert [command[0] for command in trips.sent[0]] == ["EVALSHA"] * 5
    finally:
        await client.aclose()


async def test_concurrent_slot_renewals_travel_in_one_round_trip(
    redis_prefix: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica taking jobs over renews each one's slot on its first poll: on one Redis node the renewals made
    together travel in one pipeline, each with its own answer (a slot never held is not renewed)."""
    client = redis_client(REDIS_URL)
    try:
        gate = gate_on(client, redis_prefix, {"fal": HeadroomConfig(max_in_flight=5)}, clock)
        fal = candidate("fal")
        await gate.screen(Plan(candidates=(fal,), dropped=()))
        for n in range(4):
            assert await gate.claim(fal, f"job-{n}") is None
        assert await gate.headroom.renew_slot("fal", "job-0")  # the script loaded (a NOSCRIPT reply runs alone)
        trips = RoundTrips(client, monkeypatch)

        renewed = await asyncio.gather(*(gate.headroom.renew_slot("fal", f"job-{n}") for n in range(5)))

        assert renewed == [True, True, True, True, False]
        assert len(trips.sent) == 1
        assert [command[0] for command in trips.sent[0]] == ["EVALSHA"] * 5
    finally:
        await client.aclose()


async def test_an_unreachable_redis_fails_the_screen_and_the_claim_open(clock: FakeClock) -> None:
    """With Redis down the screen keeps every offering and a claim takes nothing and refuses nothing: refusing
    every job because the limiter is unreachable would turn a Redis hiccup into an outage."""
    client = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))  # refused at once, no retries
    configs = {"fal": HeadroomConfig(max_in_flight=1)}
    gate = gate_on(client, "vgtest:unreachable:", configs, clock)
    try:
        screened = await gate.screen(PLAN)
        claims = await asyncio.gather(*(gate.claim(candidate("fal"), f"job-{n}") for n in range(3)))
    finally:
        await client.aclose()

    assert screened.candidates == PLAN.candidates
    assert screened.dropped == PLAN.dropped
    assert claims == [None, None, None]

"""The CircuitBreakers contract (routing/health/), run unchanged against the in-memory breakers and the Redis
ones on a real Redis, on a fake clock the test moves: opening, the rolling window, cooldown, half-open probes,
state shared between replicas, and atomicity under concurrent callers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import msgspec
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.store import connect
from routing.health.breakers import (
    BreakerSettings,
    CircuitBreakers,
    CircuitSnapshot,
    CircuitState,
    HealthUnavailable,
    MemoryCircuitBreakers,
)
from routing.health.redis_breakers import RedisCircuitBreakers
from tests.conftest import ON_CLUSTER, REDIS_URL, FakeClock, backend_url

T0 = 1_750_000_000.0
SETTINGS = BreakerSettings(window_s=60, min_calls=4, failure_ratio=0.5, cooldown_s=30, half_open_probes=1)


Factory = Callable[[BreakerSettings], CircuitBreakers]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def make_breakers(request: pytest.FixtureRequest, clock: FakeClock, redis_prefix: str) -> AsyncIterator[Factory]:
    """Builds breakers of one implementation on the shared fake clock; Redis ones share one test prefix."""
    if request.param == "memory":
        yield lambda settings: MemoryCircuitBreakers(settings, clock=clock)
        return
    client = connect.redis_client(backend_url(request))
    yield lambda settings: RedisCircuitBreakers(client, settings, clock=clock, prefix=redis_prefix)
    await client.aclose()


@pytest.fixture
def breakers(make_breakers: Factory) -> CircuitBreakers:
    return make_breakers(SETTINGS)


async def record_many(breakers: CircuitBreakers, *, ok: int = 0, failed: int = 0) -> CircuitState:
    state = CircuitState.CLOSED
    for outcome in [True] * ok + [False] * failed:
        state = await breakers.record("vidgen", ok=outcome)
    return state


async def open_circuit(breakers: CircuitBreakers) -> None:
    assert await record_many(breakers, failed=SETTINGS.min_calls) is CircuitState.OPEN


# ---------------------------------------------------------------------------------------------- settings


def test_settings_reject_out_of_range_and_unknown_fields() -> None:
    """Config decoding refuses a ratio above 1, zero probes and misspelled keys instead of clamping them."""
    assert msgspec.convert({"failure_ratio": 0.25}, BreakerSettings).failure_ratio == 0.25
    for bad in ({"failure_ratio": 1.5}, {"half_open_probes": 0}, {"window_s": 0}, {"cooldown": 5}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, BreakerSettings)


# ---------------------------------------------------------------------------------------------- closed


async def test_fresh_circuit_is_closed_and_allows(breakers: CircuitBreakers) -> None:
    """A provider never seen is closed with an empty window and lets calls through."""
    assert await breakers.allow("vidgen")
    assert await breakers.snapshot("vidgen") == CircuitSnapshot(
        state=CircuitState.CLOSED, calls=0, failures=0, opened_at=None, probes_in_flight=0
    )


async def test_stays_closed_below_min_calls_even_at_total_failure(breakers: CircuitBreakers) -> None:
    """Fewer than min_calls outcomes never open the circuit, even when every one of them failed."""
    assert await record_many(breakers, failed=SETTINGS.min_calls - 1) is CircuitState.CLOSED

    assert await breakers.allow("vidgen")
    snapshot = await breakers.snapshot("vidgen")
    assert (snapshot.state, snapshot.calls, snapshot.failures) == (CircuitState.CLOSED, 3, 3)


async def test_opens_when_failure_ratio_is_reached(breakers: CircuitBreakers) -> None:
    """At min_calls the circuit opens exactly when failures/calls reaches the ratio, not one failure before."""
    assert await record_many(breakers, ok=3, failed=2) is CircuitState.CLOSED  # 2/5 < 0.5
    assert await record_many(breakers, failed=1) is CircuitState.OPEN  # 3/6 == 0.5

    assert not await breakers.allow("vidgen")
    assert await breakers.snapshot("vidgen") == CircuitSnapshot(
        state=CircuitState.OPEN, calls=6, failures=3, opened_at=T0, probes_in_flight=0
    )


async def test_circuits_are_per_provider(breakers: CircuitBreakers) -> None:
    """Opening one provider's circuit leaves another's closed."""
    await open_circuit(breakers)

    assert await breakers.allow("videogen")
    snapshots = await breakers.snapshots(["vidgen", "videogen"])
    assert {name: s.state for name, s in snapshots.items()} == {
        "vidgen": CircuitState.OPEN,
        "videogen": CircuitState.CLOSED,
    }


async def test_old_outcomes_leave_the_window(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """Failures count for most of window_s and are gone once window_s has passed, so they cannot help open it."""
    await record_many(breakers, failed=3)
    clock.advance(SETTINGS.window_s * 0.5)
    assert (await breakers.snapshot("vidgen")).failures == 3

    clock.advance(SETTINGS.window_s * 0.5)
    assert (await breakers.snapshot("vidgen")).calls == 0
    # With the old failures still counted this would be 4 of 7 and open.
    assert await record_many(breakers, ok=3, failed=1) is CircuitState.CLOSED
    snapshot = await breakers.snapshot("vidgen")
    assert (snapshot.calls, snapshot.failures) == (4, 1)


# ---------------------------------------------------------------------------------------------- open


async def test_open_refuses_until_the_cooldown_ends(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """An open circuit refuses every call until opened_at + cooldown_s, then reports half-open."""
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s - 0.5)
    assert not await breakers.allow("vidgen")
    assert (await breakers.snapshot("vidgen")).state is CircuitState.OPEN

    clock.advance(0.5)
    assert (await breakers.snapshot("vidgen")).state is CircuitState.HALF_OPEN
    assert await breakers.allow("vidgen")


async def test_outcomes_of_calls_admitted_before_opening_are_ignored(
    breakers: CircuitBreakers, clock: FakeClock
) -> None:
    """A late success while open, or half-open with no probe out, neither closes the circuit nor moves its clock."""
    await open_circuit(breakers)
    assert await breakers.record("vidgen", ok=True) is CircuitState.OPEN
    clock.advance(SETTINGS.cooldown_s)
    assert await breakers.record("vidgen", ok=False) is CircuitState.HALF_OPEN

    assert await breakers.allow("vidgen")
    assert (await breakers.snapshot("vidgen")).opened_at == T0


# ---------------------------------------------------------------------------------------------- half-open


async def test_half_open_admits_exactly_the_configured_probes(make_breakers: Factory, clock: FakeClock) -> None:
    """After the cooldown only half_open_probes calls go through at once; the rest are refused."""
    breakers = make_breakers(msgspec.structs.replace(SETTINGS, half_open_probes=2))
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s)

    admitted = [await breakers.allow("vidgen") for _ in range(5)]

    assert admitted == [True, True, False, False, False]
    snapshot = await breakers.snapshot("vidgen")
    assert (snapshot.state, snapshot.probes_in_flight) == (CircuitState.HALF_OPEN, 2)


async def test_probe_success_closes_with_an_empty_window(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """A successful probe closes the circuit and forgets the failures that opened it."""
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s)
    assert await breakers.allow("vidgen")

    assert await breakers.record("vidgen", ok=True) is CircuitState.CLOSED

    assert await breakers.snapshot("vidgen") == CircuitSnapshot(
        state=CircuitState.CLOSED, calls=0, failures=0, opened_at=None, probes_in_flight=0
    )
    assert await record_many(breakers, failed=SETTINGS.min_calls - 1) is CircuitState.CLOSED


async def test_probe_failure_reopens_with_a_fresh_cooldown(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """A failed probe reopens the circuit from now, so it refuses for another whole cooldown."""
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s)
    assert await breakers.allow("vidgen")

    assert await breakers.record("vidgen", ok=False) is CircuitState.OPEN

    reopened_at = T0 + SETTINGS.cooldown_s
    assert (await breakers.snapshot("vidgen")).opened_at == reopened_at
    clock.advance(SETTINGS.cooldown_s - 0.5)
    assert not await breakers.allow("vidgen")
    clock.advance(0.5)
    assert await breakers.allow("vidgen")


async def test_a_lost_probe_frees_its_slot_after_a_cooldown(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """A probe whose outcome never arrives (its replica died) stops blocking new probes after cooldown_s."""
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s)
    assert await breakers.allow("vidgen")
    clock.advance(SETTINGS.cooldown_s - 0.5)
    assert not await breakers.allow("vidgen")

    clock.advance(0.5)

    assert await breakers.allow("vidgen")
    assert not await breakers.allow("vidgen")


# ---------------------------------------------------------------------------------------------- concurrency


async def test_concurrent_allows_in_half_open_admit_exactly_one(breakers: CircuitBreakers, clock: FakeClock) -> None:
    """Fifty callers racing for the single probe slot: exactly one wins."""
    await open_circuit(breakers)
    clock.advance(SETTINGS.cooldown_s)

    admitted = await asyncio.gather(*(breakers.allow("vidgen") for _ in range(50)))

    assert sum(admitted) == 1
    assert (await breakers.snapshot("vidgen")).probes_in_flight == 1


async def test_concurrent_records_lose_no_outcome_and_open_once(make_breakers: Factory) -> None:
    """Concurrent successes are all counted; concurrent failures open the circuit at exactly min_calls."""
    breakers = make_breakers(msgspec.structs.replace(SETTINGS, min_calls=10, failure_ratio=1.0))
    await asyncio.gather(*(breakers.record("vidgen", ok=True) for _ in range(60)))
    assert (await breakers.snapshot("vidgen")).calls == 60

    states = await asyncio.gather(*(breakers.record("videogen", ok=False) for _ in range(40)))

    assert states.count(CircuitState.CLOSED) == 9
    assert states.count(CircuitState.OPEN) == 31
    snapshot = await breakers.snapshot("videogen")
    assert (snapshot.calls, snapshot.failures) == (10, 10)


# ---------------------------------------------------------------------------------------------- Redis only


async def test_two_replicas_share_one_circuit(redis_prefix: str, clock: FakeClock) -> None:
    """Two Redis breakers on separate connections and one prefix see one state: one opens, the other refuses."""
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    try:
        first, second = (RedisCircuitBreakers(c, SETTINGS, clock=clock, prefix=redis_prefix) for c in clients)
        await record_many(first, failed=2)
        assert await record_many(second, failed=2) is CircuitState.OPEN
        assert not await first.allow("vidgen")

        clock.advance(SETTINGS.cooldown_s)
        admitted = await asyncio.gather(*(replica.allow("vidgen") for replica in (first, second) for _ in range(25)))
        assert sum(admitted) == 1
        assert await second.record("vidgen", ok=True) is CircuitState.CLOSED
        assert (await first.snapshot("vidgen")).state is CircuitState.CLOSED
    finally:
        for client in clients:
            await client.aclose()


Replicas = Callable[[BreakerSettings], tuple[RedisCircuitBreakers, RedisCircuitBreakers]]


@pytest.fixture
async def make_replicas(redis_prefix: str, clock: FakeClock) -> AsyncIterator[Replicas]:
    """Builds two Redis breakers on separate connections and one prefix, as two gateway replicas."""
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    yield lambda settings: (
        RedisCircuitBreakers(clients[0], settings, clock=clock, prefix=redis_prefix),
        RedisCircuitBreakers(clients[1], settings, clock=clock, prefix=redis_prefix),
    )
    for client in clients:
        await client.aclose()


@pytest.fixture
def replicas(make_replicas: Replicas) -> tuple[RedisCircuitBreakers, RedisCircuitBreakers]:
    return make_replicas(SETTINGS)


async def counted(replica: CircuitBreakers) -> tuple[int, int]:
    snapshot = await replica.snapshot("vidgen")
    return snapshot.calls, snapshot.failures


async def test_successes_while_quiet_reach_the_other_replicas_with_the_next_failure(
    replicas: tuple[RedisCircuitBreakers, RedisCircuitBreakers],
) -> None:
    """A closed circuit with no failure in its window: a replica keeps its successes to itself (its own reads count
    them) until it records a failure, which is counted after every one of them."""
    first, second = replicas
    await record_many(first, ok=6)
    assert await counted(first) == (6, 0)
    assert await counted(second) == (1, 0)  # the first success told `first` the circuit was quiet

    assert await first.record("vidgen", ok=False) is CircuitState.CLOSED

    assert await counted(second) == (7, 1)
    assert await counted(first) == (7, 1)


async def test_successes_held_back_while_a_failure_is_being_written_are_not_lost(
    replicas: tuple[RedisCircuitBreakers, RedisCircuitBreakers],
) -> None:
    """Successes recorded while another outcome's call is in flight wait for the next call; none is dropped."""
    first, second = replicas
    await record_many(first, ok=1)
    await asyncio.gather(first.record("vidgen", ok=False), *(first.record("vidgen", ok=True) for _ in range(5)))

    await record_many(first, ok=1)

    assert await counted(second) == (8, 1)


async def test_successes_held_back_are_written_at_the_next_bucket(
    replicas: tuple[RedisCircuitBreakers, RedisCircuitBreakers], clock: FakeClock
) -> None:
    """At most one bucket (window_s / 10, 6 s here) of successes waits: the first success of a later one writes
    them all."""
    first, second = replicas
    await record_many(first, ok=4)
    clock.advance(6)

    await record_many(first, ok=1)

    assert await counted(second) == (5, 0)


async def test_a_failure_seen_on_another_replica_ends_holding_back(
    replicas: tuple[RedisCircuitBreakers, RedisCircuitBreakers],
) -> None:
    """Once a read shows a failure in the window (the create path reads before each create), each success is
    written at once: it now dilutes that failure's ratio for every replica."""
    first, second = replicas
    await record_many(first, ok=2)
    await record_many(second, failed=1)
    await first.snapshots(["vidgen"])

    await record_many(first, ok=1)

    assert await counted(second) == (4, 1)


async def test_a_probe_success_closes_the_circuit_at_once_even_after_a_quiet_reading(
    make_replicas: Replicas, clock: FakeClock
) -> None:
    """A replica that saw the circuit quiet just before another opened it: its probe's success still closes the
    shared circuit at once, for every replica."""
    first, second = make_replicas(msgspec.structs.replace(SETTINGS, cooldown_s=1))
    await record_many(first, ok=1)
    assert await record_many(second, failed=SETTINGS.min_calls) is CircuitState.OPEN
    clock.advance(1)
    assert await first.allow("vidgen")

    assert await first.record("vidgen", ok=True) is CircuitState.CLOSED

    assert (await second.snapshot("vidgen")).state is CircuitState.CLOSED


async def test_a_quiet_reading_admits_without_asking_for_less_than_a_bucket_then_the_open_circuit_refuses(
    replicas: tuple[RedisCircuitBreakers, RedisCircuitBreakers], clock: FakeClock
) -> None:
    """After a reply said quiet, `allow` trusts it for less than min(cooldown, one bucket: 6 s here): a circuit
    another replica opened in between is seen at the first call after that, and refuses."""
    first, second = replicas
    await record_many(first, ok=1)
    await open_circuit(second)
    assert await first.allow("vidgen")  # as a call admitted just before the circuit opened

    clock.advance(6)

    assert not await first.allow("vidgen")
    assert await first.record("vidgen", ok=True) is CircuitState.OPEN


async def test_unreachable_redis_raises_health_unavailable(clock: FakeClock) -> None:
    """A refused connection surfaces as the routing layer's HealthUnavailable, for the caller to fail open."""
    client = aioredis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))  # no retries: fail at once
    breakers = RedisCircuitBreakers(client, SETTINGS, clock=clock, prefix="vgtest:unreachable:")
    try:
        with pytest.raises(HealthUnavailable):
            await breakers.allow("vidgen")
        with pytest.raises(HealthUnavailable):
            await breakers.snapshots(["vidgen"])
    finally:
        await client.aclose()

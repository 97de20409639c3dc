"""Headroom windows and concurrency slots (routing/headroom/), one suite run against memory and a real Redis;
replicas are separate Headroom instances (each with its own Redis client) over one shared state."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.store.connect import windows_storage
from providers.contract import CapacityReport as Said
from routing.headroom.config import HeadroomConfig
from routing.headroom.store import HeadroomUnavailable
from routing.headroom.tracker import Headroom
from tests.conftest import FakeClock
from tests.routing.headroom.conftest import Backend, config

# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "raw",
    [
        {"windows": [{"scope": "generate", "limit": 0, "per_s": 60}]},
        {"windows": [{"scope": "generate", "limit": 5, "per_s": 0.5}]},
        {"windows": [{"scope": "", "limit": 5, "per_s": 60}]},
        {"windows": [{"scope": "generate", "limit": 5, "per_s": 60, "burst": 2}]},
        {"windows": [{"scope": "generate", "limit": 5, "per_s": 60}, {"scope": "generate", "limit": 9, "per_s": 1}]},
        {"max_in_flight": 0},
        {"slot_lease_s": 0},
        {"min_balance_usd": -1},
        {"concurrency": 3},
    ],
)
def test_config_rejects_what_it_cannot_enforce(raw: dict[str, object]) -> None:
    """Zero or fractional windows, unknown fields, duplicate scopes and nonsense caps fail at load, not later."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(raw, HeadroomConfig)


def test_config_loads_a_provider_account() -> None:
    """A VideoGen-like account: hourly generate and status windows plus an in-flight cap."""
    raw = {
        "windows": [
            {"scope": "generate", "limit": 500, "per_s": 3600},
            {"scope": "status", "limit": 5000, "per_s": 3600},
        ]
    }
    loaded = msgspec.convert({**raw, "max_in_flight": 8}, HeadroomConfig)
    assert [(w.scope, w.limit, w.per_s) for w in loaded.windows] == [("generate", 500, 3600), ("status", 5000, 3600)]
    assert loaded.max_in_flight == 8


# --------------------------------------------------------------------------------------------- windows


async def test_window_allows_exactly_limit_takes_then_refuses(backend: Backend) -> None:
    """Five takes of a 5/hour window succeed, the sixth is refused and nothing remains."""
    headroom = backend.replica({"videogen": config(("generate", 5, 3600))}, FakeClock())
    assert [await headroom.try_take("videogen", "generate") for _ in range(6)] == [True] * 5 + [False]
    assert await headroom.remaining("videogen", "generate") == 0


async def test_remaining_counts_down_and_cost_takes_several_units(backend: Backend) -> None:
    """A take of cost 3 uses three units; one that no longer fits is refused without consuming any."""
    headroom = backend.replica({"videogen": config(("generate", 5, 3600))}, FakeClock())
    assert await headroom.remaining("videogen", "generate") == 5
    assert await headroom.try_take("videogen", "generate", cost=3)
    assert not await headroom.try_take("videogen", "generate", cost=3)
    assert await headroom.remaining("videogen", "generate") == 2
    assert await headroom.try_take("videogen", "generate", cost=2)


async def test_windows_are_counted_per_provider_and_scope(backend: Backend) -> None:
    """Exhausting VideoGen's generate window leaves its status window and NanoGPT's window untouched."""
    configs = {"videogen": config(("generate", 1, 3600), ("status", 3, 3600)), "nanogpt": config(("generate", 1, 60))}
    headroom = backend.replica(configs, FakeClock())
    assert await headroom.try_take("videogen", "generate")
    assert not await headroom.try_take("videogen", "generate")
    assert await headroom.remaining("videogen", "status") == 3
    assert await headroom.try_take("nanogpt", "generate")


async def test_a_submit_refused_by_its_model_window_spends_nothing_of_the_account_window(backend: Backend) -> None:
    """videogenapi's sora-2 cap (1 an hour) is spent: the next sora-2 submit is refused by it and the account's
    generate window keeps its units; a submit for another model still takes one."""
    configs = {"videogenapi": config(("generate", 5, 3600), ("model:sora-2", 1, 3600))}
    headroom = backend.replica(configs, FakeClock())
    sora = {"generate": 0, "model:sora-2": 0}
    assert await headroom.take_each("videogenapi", sora) is None
    assert await headroom.take_each("videogenapi", sora) == "model:sora-2"
    assert await headroom.remaining("videogenapi", "generate") == 4
    assert await headroom.take_each("videogenapi", {"generate": 0, "model:veo-3": 0}) is None
    assert await headroom.remaining("videogenapi", "generate") == 3


async def test_scope_without_a_window_always_has_room(backend: Backend) -> None:
    """An unconfigured scope (or provider) is never refused and reports no remaining count."""
    headroom = backend.replica({"videogen": config(("generate", 1, 3600))}, FakeClock())
    assert all([await headroom.try_take("videogen", "cancel") for _ in range(10)])
    assert await headroom.remaining("videogen", "cancel") is None
    assert await headroom.try_take("vidgen", "generate")


async def test_two_replicas_never_exceed_a_window_between_them(backend: Backend) -> None:
    """200 concurrent takes split across two replicas sharing one state against a limit of 37: exactly 37 win."""
    configs = {"videogen": config(("generate", 37, 3600))}
    first, second = backend.replica(configs, FakeClock()), backend.replica(configs, FakeClock())
    takes = [(first if i % 2 else second).try_take("videogen", "generate") for i in range(200)]
    results = await asyncio.gather(*takes)
    assert sum(results) == 37
    assert await first.remaining("videogen", "generate") == 0
    assert await second.remaining("videogen", "generate") == 0


async def test_window_frees_a_unit_once_its_period_has_passed(backend: Backend) -> None:
    """A 2-per-second window refuses a third take, then allows one again within a bounded wait (wall time)."""
    headroom = backend.replica({"nanogpt": config(("generate", 2, 1))}, FakeClock())
    assert await headroom.try_take("nanogpt", "generate")
    assert await headroom.try_take("nanogpt", "generate")
    assert not await headroom.try_take("nanogpt", "generate")
    for _ in range(60):
        if await headroom.try_take("nanogpt", "generate"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the window never freed a unit")


# --------------------------------------------------------------------------------------------- slots


async def test_slots_cap_jobs_in_flight_and_release_frees_one(backend: Backend) -> None:
    """With max_in_flight=2 a third job is refused until one of the first two is released."""
    headroom = backend.replica({"videogen": config(max_in_flight=2)}, FakeClock())
    assert await headroom.acquire_slot("videogen", "job-1")
    assert await headroom.acquire_slot("videogen", "job-2")
    assert not await headroom.acquire_slot("videogen", "job-3")
    await headroom.release_slot("videogen", "job-1")
    await headroom.release_slot("videogen", "job-1")
    assert await headroom.acquire_slot("videogen", "job-3")
    assert (await headroom.snapshot("videogen")).in_flight == 2


async def test_acquiring_a_held_slot_again_does_not_take_a_second_one(backend: Backend) -> None:
    """A retried acquire for the same job succeeds at the cap and still counts once."""
    headroom = backend.replica({"videogen": config(max_in_flight=1)}, FakeClock())
    assert await headroom.acquire_slot("videogen", "job-1")
    assert await headroom.acquire_slot("videogen", "job-1")
    assert (await headroom.snapshot("videogen")).in_flight == 1


async def test_an_expired_lease_frees_its_slot(backend: Backend) -> None:
    """A replica that crashed never releases; once the lease runs out its slot no longer counts."""
    clock = FakeClock()
    configs = {"videogen": config(max_in_flight=1, slot_lease_s=60)}
    crashed, survivor = backend.replica(configs, clock), backend.replica(configs, clock)
    assert await crashed.acquire_slot("videogen", "job-1")
    clock.advance(59)
    assert not await survivor.acquire_slot("videogen", "job-2")
    clock.advance(1)
    assert await survivor.acquire_slot("videogen", "job-2")
    assert (await survivor.snapshot("videogen")).in_flight == 1


async def test_renewing_a_lease_keeps_the_slot_past_its_first_expiry(backend: Backend) -> None:
    """A renewed slot still counts after the original lease would have run out; a lapsed one cannot be renewed."""
    clock = FakeClock()
    headroom = backend.replica({"videogen": config(max_in_flight=1, slot_lease_s=60)}, clock)
    assert await headroom.acquire_slot("videogen", "job-1")
    clock.advance(50)
    assert await headroom.renew_slot("videogen", "job-1")
    clock.advance(50)
    assert not await headroom.acquire_slot("videogen", "job-2")
    clock.advance(10)
    assert not await headroom.renew_slot("videogen", "job-1")
    assert not await headroom.renew_slot("videogen", "never-held")
    assert await headroom.acquire_slot("videogen", "job-2")


async def test_keeping_a_slot_renews_it_at_most_once_per_quarter_lease(backend: Backend) -> None:
    """The poller keeps a job's slot before every status call: a call within a quarter lease of the last renewal
    makes no renewal (the slot lapses on its old lease), a later one renews it."""
    clock = FakeClock()
    headroom = backend.replica({"videogen": config(max_in_flight=1, slot_lease_s=60)}, clock)
    assert await headroom.acquire_slot("videogen", "job-1")
    await headroom.keep_slot("videogen", "job-1")  # renewed: lease to 60 s
    clock.advance(10)
    await headroom.keep_slot("videogen", "job-1")  # 10 s < 15 s: not renewed
    clock.advance(55)
    assert await headroom.acquire_slot("videogen", "job-2")  # job-1 lapsed at 60 s
    await headroom.keep_slot("videogen", "job-2")  # renewed at 65 s: lease to 125 s
    clock.advance(16)
    await headroom.keep_slot("videogen", "job-2")  # a quarter lease later: renewed, lease to 141 s
    clock.advance(50)
    assert not await headroom.acquire_slot("videogen", "job-3")  # 131 s: job-2 still holds the slot


async def test_two_replicas_never_exceed_the_in_flight_cap_between_them(backend: Backend) -> None:
    """40 concurrent acquires for distinct jobs across two replicas against a cap of 5: exactly 5 are held."""
    clock = FakeClock()
    configs = {"videogen": config(max_in_flight=5)}
    first, second = backend.replica(configs, clock), backend.replica(configs, clock)
    results = await asyncio.gather(*[(first, second)[i % 2].acquire_slot("videogen", f"job-{i}") for i in range(40)])
    assert sum(results) == 5
    assert (await first.snapshot("videogen")).in_flight == 5


async def test_slots_without_a_cap_are_counted_but_never_refused(backend: Backend) -> None:
    """With no max_in_flight every acquire succeeds and the snapshot still shows how many are in flight."""
    headroom = backend.replica({}, FakeClock())
    assert all([await headroom.acquire_slot("vidgen", f"job-{i}") for i in range(12)])
    assert (await headroom.snapshot("vidgen")).in_flight == 12


# --------------------------------------------------------------------------------------------- redis down


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def unreachable() -> AsyncIterator[Headroom]:
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/9", socket_connect_timeout=1)
    configs = {"videogen": config(("generate", 5, 3600), max_in_flight=2)}
    windows = windows_storage(client, key_prefix="vgtest:down:headroom")
    yield Headroom.on_redis(configs, client, windows=windows, prefix="vgtest:down:", clock=FakeClock())
    await client.aclose()


async def test_an_unreachable_redis_raises_the_routing_error(unreachable: Headroom) -> None:
    """Windows, slots and availability all fail as HeadroomUnavailable (503, no failover) rather than a redis error."""
    with pytest.raises(HeadroomUnavailable):
        await unreachable.try_take("videogen", "generate")
    with pytest.raises(HeadroomUnavailable):
        await unreachable.remaining("videogen", "generate")
    with pytest.raises(HeadroomUnavailable):
        await unreachable.acquire_slot("videogen", "job-1")
    with pytest.raises(HeadroomUnavailable) as caught:
        await unreachable.availability("videogen")
    assert caught.value.status_code == 503
    assert not caught.value.failover


async def test_readings_recorded_while_redis_is_down_stay_queued(unreachable: Headroom) -> None:
    """A failed flush keeps the reading queued (a later flush retries it) and reports the failure."""
    unreachable.record(Said(provider="videogen", scope="generate", remaining=0, reset_at=2e9))
    with pytest.raises(HeadroomUnavailable):
        await unreachable.flush()
    with pytest.raises(HeadroomUnavailable):
        await unreachable.close()

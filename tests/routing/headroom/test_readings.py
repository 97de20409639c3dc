"""What providers say about their capacity (routing/headroom/): 429 cooldowns, exhausted windows, monthly
quotas and balance become `availability()` verdicts with reasons, shared across replicas; memory and real Redis."""

from __future__ import annotations

from providers.contract import CapacityReport as Said
from tests.conftest import FakeClock
from tests.routing.headroom.conftest import T0, Backend, config


async def test_a_429_cools_the_provider_down_until_retry_after(backend: Backend) -> None:
    """Retry-After 12 s keeps NanoGPT out for 12 s on every replica, then it is available again."""
    clock = FakeClock()
    heard, other = backend.replica({}, clock), backend.replica({}, clock)
    heard.record(Said(provider="nanogpt", scope="rate", remaining=0, retry_after_s=12))
    await heard.flush()
    assert (await other.availability("nanogpt")).reasons == ("nanogpt: cooling down 12 s after a 429 (rate)",)
    clock.advance(11.5)
    assert (await other.availability("nanogpt")).reasons == ("nanogpt: cooling down 1 s after a 429 (rate)",)
    clock.advance(0.5)
    assert (await other.availability("nanogpt")).ok


async def test_the_replica_that_heard_a_reading_sees_it_at_once(backend: Backend) -> None:
    """`record` is sync; the next `availability` on the same replica already accounts for it (no explicit flush)."""
    headroom = backend.replica({}, FakeClock())
    headroom.record(Said(provider="vidgen", retry_after_s=30))
    assert (await headroom.availability("vidgen")).reasons == ("vidgen: cooling down 30 s after a 429",)


async def test_recorded_readings_reach_other_replicas_in_the_background(backend: Backend) -> None:
    """Without anyone calling flush, the background write lands (close waits for it) and another replica sees it."""
    clock = FakeClock()
    heard, other = backend.replica({}, clock), backend.replica({}, clock)
    heard.record(Said(provider="vidgen", retry_after_s=30))
    await heard.close()
    assert not (await other.availability("vidgen")).ok


async def test_remaining_zero_with_a_reset_blocks_until_the_reset(backend: Backend) -> None:
    """X-RateLimit-Remaining 0 with X-RateLimit-Reset keeps generation out until that unix time."""
    clock = FakeClock()
    headroom = backend.replica({}, clock)
    headroom.record(Said(provider="videogen", scope="generate", limit=500, remaining=0, reset_at=T0 + 90))
    assert (await headroom.availability("videogen")).reasons == ("videogen: generate exhausted, resets in 90 s",)
    clock.advance(90)
    assert (await headroom.availability("videogen")).ok


async def test_a_reading_for_one_scope_does_not_block_another(backend: Backend) -> None:
    """A status-endpoint 429 or a per-model cap blocks only that scope; account-wide scopes block everything."""
    headroom = backend.replica({}, FakeClock())
    headroom.record(Said(provider="videogen", scope="status", remaining=0, retry_after_s=60))
    headroom.record(Said(provider="videogenapi", scope="model:sora-2", remaining=0, retry_after_s=3247))
    assert (await headroom.availability("videogen")).ok
    assert not (await headroom.availability("videogen", scopes=("status",))).ok
    assert (await headroom.availability("videogenapi", scopes=("generate", "model:veo_3"))).ok
    said = await headroom.availability("videogenapi", scopes=("generate", "model:sora-2"))
    assert said.reasons == ("videogenapi: cooling down 3247 s after a 429 (model:sora-2)",)


async def test_a_used_up_monthly_quota_blocks_until_recheck(backend: Backend) -> None:
    """usage 100/100 keeps videogenapi out; with no reset date it is rechecked after recheck_after_s."""
    clock = FakeClock()
    headroom = backend.replica({"videogenapi": config(recheck_after_s=600)}, clock)
    headroom.record(Said(provider="videogenapi", scope="month", used=99, limit=100, remaining=1))
    assert (await headroom.availability("videogenapi")).ok
    headroom.record(Said(provider="videogenapi", scope="month", used=100, limit=100, remaining=0))
    assert (await headroom.availability("videogenapi")).reasons == ("videogenapi: monthly quota used 100/100",)
    clock.advance(600)
    assert (await headroom.availability("videogenapi")).ok


async def test_a_balance_below_the_floor_blocks_until_a_better_reading(backend: Backend) -> None:
    """remainingBalance $0.12 against min_balance_usd 1.00 keeps NanoGPT out; a topped-up balance lets it back."""
    clock = FakeClock()
    headroom = backend.replica({"nanogpt": config(min_balance_usd=1.0)}, clock)
    headroom.record(Said(provider="nanogpt", scope="balance", balance_micros=120_000))
    assert (await headroom.availability("nanogpt")).reasons == ("nanogpt: balance $0.12 below $1.00",)
    clock.advance(1)
    headroom.record(Said(provider="nanogpt", scope="balance", balance_micros=25_000_000))
    assert (await headroom.availability("nanogpt")).ok


async def test_an_exhausted_reading_without_a_reset_is_rechecked_later(backend: Backend) -> None:
    """A 402-style "balance exhausted" (remaining 0, no time given) holds for recheck_after_s, not forever."""
    clock = FakeClock()
    headroom = backend.replica({"nanogpt": config(recheck_after_s=300)}, clock)
    headroom.record(Said(provider="nanogpt", scope="balance", remaining=0))
    assert (await headroom.availability("nanogpt")).reasons == ("nanogpt: balance exhausted, rechecking in 300 s",)
    clock.advance(300)
    assert (await headroom.availability("nanogpt")).ok


async def test_an_older_reading_never_overwrites_a_newer_one(backend: Backend) -> None:
    """A replica that flushes late cannot bring back a cooldown a newer reading already cleared."""
    early, late = FakeClock(), FakeClock(T0 + 5)
    slow, fast = backend.replica({}, early), backend.replica({}, late)
    slow.record(Said(provider="vidgen", retry_after_s=60))
    fast.record(Said(provider="vidgen", remaining=40, limit=50))
    await fast.flush()
    await slow.flush()
    assert (await fast.availability("vidgen")).ok
    assert [v.reading.remaining for v in (await fast.snapshot("vidgen")).readings] == [40]


async def test_availability_names_an_exhausted_window_and_a_full_slot_cap(backend: Backend) -> None:
    """Every reason a provider is out is listed, in the words `explain` prints."""
    headroom = backend.replica({"videogen": config(("generate", 2, 3600), max_in_flight=1)}, FakeClock())
    assert (await headroom.availability("videogen")).ok
    await headroom.try_take("videogen", "generate")
    await headroom.try_take("videogen", "generate")
    await headroom.acquire_slot("videogen", "job-1")
    said = await headroom.availability("videogen")
    assert said.reasons == ("videogen: generate window 2/3600s exhausted", "videogen: 1/1 jobs in flight")


async def test_polling_is_judged_by_the_status_window_not_generation_slots(backend: Backend) -> None:
    """At the in-flight cap with generate used up, status calls still have room until their own window is spent."""
    configs = {"videogen": config(("generate", 1, 3600), ("status", 2, 3600), max_in_flight=1)}
    headroom = backend.replica(configs, FakeClock())
    await headroom.try_take("videogen", "generate")
    await headroom.acquire_slot("videogen", "job-1")
    assert (await headroom.availability("videogen", scopes=("status",))).ok
    assert await headroom.try_take("videogen", "status")
    assert await headroom.try_take("videogen", "status")
    assert (await headroom.availability("videogen", scopes=("status",))).reasons == (
        "videogen: status window 2/3600s exhausted",
    )


async def test_snapshot_shows_windows_slots_cooldown_and_readings(backend: Backend) -> None:
    """The provider view for GET /v1/providers carries every number routing decided on."""
    configs = {"videogen": config(("generate", 500, 3600), ("status", 5000, 3600), max_in_flight=8)}
    headroom = backend.replica(configs, FakeClock())
    await headroom.try_take("videogen", "generate")
    await headroom.acquire_slot("videogen", "job-1")
    headroom.record(Said(provider="videogen", scope="generate", limit=500, remaining=0, retry_after_s=20))
    headroom.record(Said(provider="videogen", scope="status", limit=5000, remaining=4990))
    view = await headroom.snapshot("videogen")
    assert not view.available
    assert view.reasons == ("videogen: cooling down 20 s after a 429 (generate)",)
    assert [(w.scope, w.remaining) for w in view.windows] == [("generate", 499), ("status", 5000)]
    assert (view.in_flight, view.max_in_flight, view.cooldown_until) == (1, 8, T0 + 20)
    assert [(v.reading.scope, v.blocked_until) for v in view.readings] == [("generate", T0 + 20), ("status", None)]


async def test_availability_says_when_every_block_lapses(backend: Backend) -> None:
    """A 429 cooldown (12 s) and a spent window (1 per 60 s, wall time): clear when the later of the two ends;
    jobs in flight at the cap have no known end, so then there is none."""
    clock = FakeClock()
    headroom = backend.replica({"nanogpt": config(("generate", 1, 60), max_in_flight=1)}, clock)
    assert (await headroom.availability("nanogpt")).clears_at is None  # nothing blocks
    headroom.record(Said(provider="nanogpt", scope="rate", retry_after_s=12))
    cooling = await headroom.availability("nanogpt")
    assert (cooling.ok, cooling.clears_at) == (False, T0 + 12)
    assert await headroom.try_take("nanogpt", "generate")
    both = await headroom.availability("nanogpt")
    assert len(both.reasons) == 2
    assert both.clears_at is not None
    assert T0 + 59 < both.clears_at <= T0 + 60
    assert await headroom.acquire_slot("nanogpt", "job-1")
    assert (await headroom.availability("nanogpt")).clears_at is None

"""The budget book contract, run against the memory and the Redis book: reservations never pass a limit (also
when many race), holds resize and release exactly, and a job settles into the ledger once with its aggregates."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from gateway.usage.budget import BudgetBook
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.quota_settings import UNLIMITED, Allowance
from gateway.usage.records import LedgerRecord, Refusal
from tests.conftest import REDIS_URL
from tests.gateway.usage.conftest import MID_MARCH, hold, record
from tests.routing.pipelines import count_sends

MARCH = "2025-03"


async def ledger(book: BudgetBook) -> list[LedgerRecord]:
    return [r async for r in book.records()]


async def test_a_budget_admits_holds_until_the_next_would_pass_it(book: BudgetBook) -> None:
    """With $0.30 and $0.10 holds, three pass and the fourth is refused with the numbers that refused it."""
    team = Allowance(budget_micros=300_000)
    for i in range(3):
        assert await book.reserve(hold(f"job-{i}"), team=team, key=UNLIMITED) is None

    refusal = await book.reserve(hold("job-3"), team=team, key=UNLIMITED)

    assert refusal is not None
    assert (refusal.scope, refusal.name, refusal.quota) == ("team", "team-a", "monthly_budget_usd")
    assert (refusal.limit, refusal.used, refusal.reserved, refusal.requested) == (300_000, 0, 300_000, 100_000)
    totals = await book.totals("team", "team-a", MARCH)
    assert (totals.reserved_micros, totals.spent_micros, totals.active_jobs) == (300_000, 0, 3)


async def test_the_key_budget_refuses_even_when_the_team_has_room(book: BudgetBook) -> None:
    """The key's own budget is checked as well as its team's, and the refusal names the key."""
    assert await book.reserve(hold("job-1"), team=UNLIMITED, key=Allowance(budget_micros=150_000)) is None
    refusal = await book.reserve(hold("job-2"), team=UNLIMITED, key=Allowance(budget_micros=150_000))
    assert refusal is not None
    assert (refusal.scope, refusal.name, refusal.quota) == ("key", "key-a", "monthly_budget_usd")


async def test_concurrency_is_checked_before_budget(book: BudgetBook) -> None:
    """At the concurrency cap the refusal is `max_concurrent_jobs`, even when the budget is exhausted too."""
    team = Allowance(budget_micros=100_000, max_concurrent_jobs=1)
    assert await book.reserve(hold("job-1"), team=team, key=UNLIMITED) is None
    refusal = await book.reserve(hold("job-2"), team=team, key=UNLIMITED)
    assert refusal is not None
    assert (refusal.quota, refusal.limit, refusal.used) == ("max_concurrent_jobs", 1, 1)


async def test_video_seconds_are_a_budget_of_their_own(book: BudgetBook) -> None:
    """A monthly video-seconds limit refuses the hold that would pass it, whatever the dollars."""
    team = Allowance(video_seconds=12)
    assert await book.reserve(hold("job-1", video_seconds=10), team=team, key=UNLIMITED) is None
    refusal = await book.reserve(hold("job-2", video_seconds=4), team=team, key=UNLIMITED)
    assert refusal is not None
    assert (refusal.quota, refusal.limit, refusal.reserved, refusal.requested) == ("monthly_video_seconds", 12, 10, 4)


async def test_reserving_the_same_job_twice_counts_once(book: BudgetBook) -> None:
    """A hold is keyed by job id: a repeated reserve passes without holding more."""
    assert await book.reserve(hold("job-1"), team=UNLIMITED, key=UNLIMITED) is None
    assert await book.reserve(hold("job-1"), team=UNLIMITED, key=UNLIMITED) is None
    totals = await book.totals("key", "key-a", MARCH)
    assert (totals.reserved_micros, totals.active_jobs) == (100_000, 1)


async def test_many_racing_reservations_never_pass_the_budget(book: BudgetBook) -> None:
    """Fifty holds at once against a budget that fits ten: exactly ten are kept."""
    team = Allowance(budget_micros=1_000_000)
    refusals = await asyncio.gather(*(book.reserve(hold(f"job-{i}"), team=team, key=UNLIMITED) for i in range(50)))
    assert sum(r is None for r in refusals) == 10
    totals = await book.totals("team", "team-a", MARCH)
    assert totals.reserved_micros == 1_000_000


async def test_two_redis_books_racing_never_pass_the_budget(redis_prefix: str) -> None:
    """Two books on two connections (two replicas) reserving at once share one budget."""
    clients = [aioredis.Redis.from_url(REDIS_URL) for _ in range(2)]
    books = [RedisBudgetBook(c, prefix=redis_prefix) for c in clients]
    team = Allowance(budget_micros=1_000_000)
    try:
        refusals = await asyncio.gather(
            *(books[i % 2].reserve(hold(f"job-{i}"), team=team, key=UNLIMITED) for i in range(50))
        )
        assert sum(r is None for r in refusals) == 10
        assert (await books[0].totals("team", "team-a", MARCH)).reserved_micros == 1_000_000
    finally:
        for client in clients:
            await client.aclose()


async def test_reserves_and_resizes_made_together_are_one_round_trip_on_one_node(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Concurrent creates' reserves and an accepted job's resize share a pipeline: one write to Redis, and each call
    still its own answer (the reserves that would pass the budget are refused, the resize lands)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    book = RedisBudgetBook(client, prefix=redis_prefix)
    team = Allowance(budget_micros=300_000)
    try:
        assert await book.reserve(hold("job-0"), team=team, key=UNLIMITED) is None  # loads the scripts
        assert await book.resize(hold("job-0"))
        sends = count_sends(monkeypatch)

        answers = await asyncio.gather(
            book.resize(hold("job-0", cost_micros=50_000)),
            *(book.reserve(hold(f"job-{i}"), team=team, key=UNLIMITED) for i in range(1, 5)),
        )

        assert sends == [1]
        assert answers[:3] == [True, None, None]  # in order: 50_000 + 2 x 100_000 fit $0.30, a third would not
        assert all(isinstance(answer, Refusal) for answer in answers[3:])
        assert (await book.totals("team", "team-a", MARCH)).reserved_micros == 50_000 + 2 * 100_000
    finally:
        await client.aclose()


async def test_resize_moves_the_reserved_amount_to_the_accepted_estimate(book: BudgetBook) -> None:
    """Shrinking a hold frees the difference for other jobs; resizing an unknown job does nothing."""
    team = Allowance(budget_micros=500_000)
    assert await book.reserve(hold("job-1", cost_micros=500_000), team=team, key=UNLIMITED) is None
    assert await book.reserve(hold("job-2", cost_micros=200_000), team=team, key=UNLIMITED) is not None

    assert await book.resize(hold("job-1", cost_micros=300_000, video_seconds=4, provider="nanogpt", model="sora-2"))
    assert not await book.resize(hold("job-9"))

    assert await book.reserve(hold("job-2", cost_micros=200_000), team=team, key=UNLIMITED) is None
    totals = await book.totals("team", "team-a", MARCH)
    assert (totals.reserved_micros, totals.reserved_seconds) == (500_000, 9)
    held = {h.job_id: h for h in await book.holds()}
    assert (held["job-1"].provider, held["job-1"].cost_micros) == ("nanogpt", 300_000)


async def test_release_gives_back_the_hold_and_the_slot_once(book: BudgetBook) -> None:
    """A released hold frees its budget and concurrency slot; releasing again is a no-op."""
    team = Allowance(budget_micros=100_000, max_concurrent_jobs=1)
    assert await book.reserve(hold("job-1"), team=team, key=UNLIMITED) is None
    assert await book.release("job-1")
    assert not await book.release("job-1")
    totals = await book.totals("team", "team-a", MARCH)
    assert (totals.reserved_micros, totals.reserved_seconds, totals.active_jobs) == (0, 0, 0)
    assert await book.reserve(hold("job-2"), team=team, key=UNLIMITED) is None


async def test_settle_records_once_and_moves_the_hold_to_spent(book: BudgetBook) -> None:
    """Settling appends one record, turns the hold into spend at the actual cost and frees the slot;
    a second settlement of the same job writes nothing."""
    assert await book.reserve(hold("job-1", cost_micros=400_000), team=UNLIMITED, key=UNLIMITED) is None

    assert await book.settle(record("job-1", cost_micros=350_000))
    assert not await book.settle(record("job-1", cost_micros=350_000))

    assert [r.job_id for r in await ledger(book)] == ["job-1"]
    for kind, name in (("team", "team-a"), ("key", "key-a")):
        totals = await book.totals(kind, name, MARCH)  # type: ignore[arg-type]
        assert (totals.spent_micros, totals.reserved_micros, totals.active_jobs) == (350_000, 0, 0)
        assert (totals.spent_seconds, totals.reserved_seconds) == (5, 0)
    assert await book.holds() == []


async def test_settle_without_a_hold_still_records_the_spend(book: BudgetBook) -> None:
    """A job whose hold was swept (or never made) is still billed when it settles."""
    assert await book.settle(record("job-1", cost_micros=120_000))
    assert (await book.totals("team", "team-a", MARCH)).spent_micros == 120_000
    assert (await book.totals("team", "team-a", MARCH)).reserved_micros == 0


async def test_racing_settlements_of_one_job_write_one_record(book: BudgetBook) -> None:
    """Ten settlements of the same job at once: one writes, the spend is counted once."""
    assert await book.reserve(hold("job-1"), team=UNLIMITED, key=UNLIMITED) is None
    written = await asyncio.gather(*(book.settle(record("job-1")) for _ in range(10)))
    assert sum(written) == 1
    assert len(await ledger(book)) == 1
    assert (await book.totals("team", "team-a", MARCH)).spent_micros == 100_000


async def test_aggregates_are_kept_per_day_team_key_provider_and_model(book: BudgetBook) -> None:
    """Each settled job lands in its creation day's aggregate for its team, key, provider and model."""
    day = 86_400
    await book.settle(record("a", cost_micros=100_000))
    await book.settle(record("b", cost_micros=250_000, provider="nanogpt", model="sora-2"))
    await book.settle(record("c", cost_micros=0, video_seconds=0, status="failed"))
    await book.settle(record("d", cost_micros=70_000, created_at=MID_MARCH + day))

    march_15 = {(a.provider, a.model): a for a in await book.aggregates(["2025-03-15"])}
    assert set(march_15) == {("vidgen", "scenex"), ("nanogpt", "sora-2")}
    vidgen = march_15[("vidgen", "scenex")]
    assert (vidgen.jobs, vidgen.succeeded, vidgen.failed, vidgen.cost_micros, vidgen.video_seconds) == (
        2,
        1,
        1,
        100_000,
        5,
    )
    assert march_15[("nanogpt", "sora-2")].cost_micros == 250_000
    assert [(a.day, a.cost_micros) for a in await book.aggregates(["2025-03-16"])] == [("2025-03-16", 70_000)]
    assert await book.aggregates(["2025-03-17"]) == []


async def test_expired_holds_are_listed_for_the_sweep(book: BudgetBook) -> None:
    """Only holds past their expiry are returned, at most `limit` of them."""
    await book.reserve(hold("old-1", expires_at=100.0), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("old-2", expires_at=200.0), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("new", expires_at=10_000.0), team=UNLIMITED, key=UNLIMITED)
    assert sorted(await book.expired(500.0, limit=10)) == ["old-1", "old-2"]
    assert len(await book.expired(500.0, limit=1)) == 1


async def test_scopes_name_every_team_and_key_active_in_the_month(book: BudgetBook) -> None:
    """Reserving or settling makes a team and a key show up in that month, not in another."""
    await book.reserve(hold("job-1"), team=UNLIMITED, key=UNLIMITED)
    await book.settle(record("job-2", team="team-b", key_id="key-b"))
    assert await book.scopes(MARCH) == [("key", "key-a"), ("key", "key-b"), ("team", "team-a"), ("team", "team-b")]
    assert await book.scopes("2025-04") == []


async def test_a_refusal_leaves_no_trace(book: BudgetBook) -> None:
    """A refused reservation holds nothing and makes no scope appear in the month."""
    refusal = await book.reserve(hold("job-1"), team=Allowance(budget_micros=0), key=UNLIMITED)
    assert refusal is not None
    assert (await book.holds(), await book.scopes(MARCH)) == ([], [])


async def test_amounts_beyond_lua_number_formatting_stay_exact(book: BudgetBook) -> None:
    """$150M budgets and $120M jobs (past 14 significant digits) reserve, release and settle exactly."""
    big = Allowance(budget_micros=150_000_000_000_000)
    assert await book.reserve(hold("job-1", cost_micros=120_000_000_000_001), team=big, key=UNLIMITED) is None
    assert await book.release("job-1")
    assert await book.settle(record("job-2", cost_micros=123_456_789_012_345))
    totals = await book.totals("team", "team-a", MARCH)
    assert (totals.spent_micros, totals.reserved_micros) == (123_456_789_012_345, 0)

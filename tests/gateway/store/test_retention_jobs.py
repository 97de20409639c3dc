"""Job retention, on the memory and the Redis store: a finalized job's record goes once its retention has run
since its last write, its team-index entry goes when the team next creates a job past the index cutoff, and
running or not-yet-finalized jobs are untouched. Listing never shows a hole for an expired member."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.schema.job import VideoJob
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.store.retention import RetentionSettings
from tests.conftest import REDIS_URL, FakeClock, eventually
from tests.gateway.store.conftest import make_job, page_ids

KEEP_S = 1.0


@dataclass
class Kept:
    """A store with a short retention, and how to let time pass for it."""

    store: JobStore
    clock: FakeClock | None  # the memory store's clock; Redis expires on its own

    async def after_retention(self, job_id: str) -> None:
        """Let the retention run out for `job_id` (finalized): advance the memory clock, or wait for Redis."""
        if self.clock is not None:
            self.clock.advance(KEEP_S + 0.001)
        await eventually(lambda: _gone(self.store, job_id))

    def now(self) -> float:
        return time.time() if self.clock is None else self.clock()


async def _gone(store: JobStore, job_id: str) -> bool:
    return await store.get(job_id) is None


def retention(index_grace_s: float = 0.0) -> RetentionSettings:
    return RetentionSettings(jobs_s=KEEP_S, index_grace_s=index_grace_s, ledger_s=86_400.0)


@pytest.fixture(params=["memory", "redis"])
async def kept(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Kept]:
    if request.param == "memory":
        clock = FakeClock(time.time())
        yield Kept(MemoryStore(retention=retention(), clock=clock), clock)
        return
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix, retention=retention())
    yield Kept(store, None)
    await store.close()


async def finish(store: JobStore, job: VideoJob, *, now: float, finalized: bool = True) -> VideoJob:
    """Write the job completed (and finalized), off the schedule, as the writer does."""
    done = msgspec.structs.replace(
        job,
        status="completed",
        phase="done",
        version=job.version + 1,
        completed_at=now,
        finalized_at=now if finalized else None,
    )
    assert await store.replace(done, expected_version=job.version, poll_at=None if finalized else now + 60)
    return done


async def test_a_finalized_job_expires_and_live_ones_stay(kept: Kept) -> None:
    """After the retention the finalized job is gone; a running job and a terminal one not yet finalized (still
    on the safety-net schedule) are untouched, and listing shows just those two."""
    now = kept.now()
    finalized, running, unfinalized = (make_job(now + i * 0.001) for i in range(3))
    for job in (finalized, running, unfinalized):
        assert await kept.store.create(job, poll_at=now)
    await finish(kept.store, finalized, now=now)
    await finish(kept.store, unfinalized, now=now, finalized=False)

    await kept.after_retention(finalized.id)

    assert await kept.store.get(running.id) == running
    left = await kept.store.get(unfinalized.id)
    assert left is not None
    assert left.finalized_at is None
    assert await page_ids(kept.store, limit=10) == ([running.id, unfinalized.id], False)
    assert await page_ids(kept.store, limit=1, order="desc") == ([unfinalized.id], True)


async def test_a_write_after_finalization_keeps_the_job_finalized_and_expiring(kept: Kept) -> None:
    """A later write of a finalized job (a client delete, an asset refresh) gives it its retention again; it still
    expires."""
    now = kept.now()
    job = make_job(now)
    assert await kept.store.create(job, poll_at=now)
    done = await finish(kept.store, job, now=now)
    deleted = msgspec.structs.replace(done, deleted_at=now, version=done.version + 1)
    assert await kept.store.replace(deleted, expected_version=done.version, poll_at=None)

    await kept.after_retention(job.id)
    assert await page_ids(kept.store, limit=10) == ([], False)


async def test_the_team_index_is_trimmed_when_the_team_creates_again(kept: Kept, redis_client: aioredis.Redis) -> None:
    """The expired job's index entry is gone once the team creates a job past the cutoff; another team's index
    and the new job are untouched."""
    now = kept.now()
    old, other_team = make_job(now), make_job(now, team="team-b")
    for job in (old, other_team):
        assert await kept.store.create(job, poll_at=now)
    await finish(kept.store, old, now=now)
    await kept.after_retention(old.id)

    fresh = make_job(kept.now() + KEEP_S + 0.01)  # created past old's creation + jobs_s + index_grace_s (0 here)
    assert await kept.store.create(fresh, poll_at=fresh.created_at)

    assert await page_ids(kept.store, limit=10) == ([fresh.id], False)
    assert await page_ids(kept.store, "team-b", limit=10) == ([other_team.id], False)
    if isinstance(kept.store, RedisStore):
        members = await redis_client.zrange(kept.store.team_key("team-a"), 0, -1)
        assert members == [fresh.id.encode()]
        assert await redis_client.zrange(kept.store.team_key("team-b"), 0, -1) == [other_team.id.encode()]


async def test_within_the_index_grace_an_entry_outlives_its_record_without_a_hole(
    redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    """Redis keeps an entry for `index_grace_s` past the record's retention: listing skips the missing record,
    pages stay full and `has_more` stays right."""
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix, retention=retention(index_grace_s=3600.0))
    try:
        now = time.time()
        jobs = [make_job(now + i * 0.001) for i in range(4)]
        for job in jobs:
            assert await store.create(job, poll_at=now)
        await finish(store, jobs[1], now=now)
        await eventually(lambda: _gone(store, jobs[1].id))
        assert await store.create(make_job(now + KEEP_S + 1), poll_at=now)  # does not trim: within the grace

        assert await redis_client.zscore(store.team_key("team-a"), jobs[1].id) is not None
        first, more = await page_ids(store, limit=2)
        assert (first, more) == ([jobs[0].id, jobs[2].id], True)
        rest, more = await page_ids(store, limit=2, after=first[-1])
        assert (rest[0], more) == (jobs[3].id, False)
    finally:
        await store.close()


async def test_without_retention_nothing_expires(store: JobStore, redis_client: aioredis.Redis) -> None:
    """The stores made without a retention (as every other test makes them) keep a finalized job: no TTL."""
    now = time.time()
    job = make_job(now)
    assert await store.create(job, poll_at=now)
    await finish(store, job, now=now)
    assert await store.get(job.id) is not None
    if isinstance(store, RedisStore):
        assert await store.client.pttl(store.job_key(job.id)) == -1

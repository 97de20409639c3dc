"""The JobStore contract for the leased poll schedule (gateway/store/base.py), run unchanged against
MemoryStore and RedisStore on a real Redis: claim_due, leases, next_due_at and unschedule."""

from __future__ import annotations

import asyncio

import msgspec

from gateway.store.base import JobStore
from tests.gateway.store.conftest import T0, create_jobs, make_job, page_ids

# ------------------------------------------------------------------------------------- poll schedule


async def test_claim_due_returns_only_due_jobs_in_due_order_up_to_limit(store: JobStore) -> None:
    """Jobs come out earliest-due first, never more than `limit`, and not-yet-due jobs stay put."""
    jobs = [make_job(T0 + i) for i in range(5)]
    due_times = [T0 + 30, T0 + 10, T0 + 20, T0 + 40, T0 + 99]
    for job, due in zip(jobs, due_times, strict=True):
        await store.create(job, poll_at=due)

    first = await store.claim_due(T0 + 50, limit=2, lease_s=1000)
    rest = await store.claim_due(T0 + 50, limit=10, lease_s=1000)

    assert first == [jobs[1].id, jobs[2].id]
    assert rest == [jobs[0].id, jobs[3].id]


async def test_claim_due_includes_a_job_due_exactly_now(store: JobStore) -> None:
    """The due bound is inclusive: a job scheduled at `now` is claimable at `now`."""
    [job] = await create_jobs(store, 1)

    assert await store.claim_due(job.created_at, limit=1, lease_s=5) == [job.id]


async def test_a_claimed_job_comes_back_only_when_its_lease_runs_out(store: JobStore) -> None:
    """A claimer that never reports back (crashed) loses the job to others at now + lease_s, not before."""
    [job] = await create_jobs(store, 1)

    assert await store.claim_due(T0, limit=10, lease_s=30) == [job.id]

    assert await store.claim_due(T0, limit=10, lease_s=30) == []
    assert await store.claim_due(T0 + 29.5, limit=10, lease_s=30) == []
    assert await store.next_due_at() == T0 + 30
    assert await store.claim_due(T0 + 30, limit=10, lease_s=30) == [job.id]
    assert await store.claim_due(T0 + 59, limit=10, lease_s=30) == []


async def test_claim_due_returns_each_job_once_after_rescheduling_to_the_same_time(store: JobStore) -> None:
    """A job rescheduled to the due time it already had is still one job: one claim, one id."""
    job = make_job(T0)
    await store.create(job, poll_at=T0 + 5)
    await store.replace(msgspec.structs.replace(job, version=2), expected_version=1, poll_at=None)
    await store.replace(msgspec.structs.replace(job, version=3), expected_version=2, poll_at=T0 + 5)
    await store.replace(msgspec.structs.replace(job, version=4), expected_version=3, poll_at=T0 + 5)

    assert await store.claim_due(T0 + 5, limit=10, lease_s=60) == [job.id]
    assert await store.claim_due(T0 + 5, limit=10, lease_s=60) == []


async def test_concurrent_claimers_never_get_the_same_job(store: JobStore) -> None:
    """Many claims racing at the same instant split the due jobs between them without overlap or loss."""
    jobs = await create_jobs(store, 40)
    now = T0 + 100

    batches = await asyncio.gather(*(store.claim_due(now, limit=3, lease_s=60) for _ in range(20)))

    claimed = [job_id for batch in batches for job_id in batch]
    assert len(claimed) == len(set(claimed))
    assert sorted(claimed) == sorted(job.id for job in jobs)
    assert all(len(batch) <= 3 for batch in batches)


async def test_next_due_at_is_the_earliest_due_time_or_none(store: JobStore) -> None:
    """next_due_at tracks the head of the schedule through create, claim and unschedule."""
    assert await store.next_due_at() is None
    early, late = make_job(T0), make_job(T0 + 1)
    await store.create(late, poll_at=T0 + 50)
    await store.create(early, poll_at=T0 + 20)
    assert await store.next_due_at() == T0 + 20

    await store.claim_due(T0 + 20, limit=1, lease_s=100)
    assert await store.next_due_at() == T0 + 50

    await store.unschedule(late.id)
    assert await store.next_due_at() == T0 + 120


async def test_unschedule_keeps_the_record_but_stops_claims(store: JobStore) -> None:
    """An unscheduled job is still readable and listed, but no claim returns it."""
    [job] = await create_jobs(store, 1)

    await store.unschedule(job.id)
    await store.unschedule(job.id)  # idempotent

    assert await store.get(job.id) == job
    assert await store.claim_due(T0 + 1e6, limit=10, lease_s=1) == []
    assert await store.next_due_at() is None
    assert await page_ids(store, limit=10) == ([job.id], False)

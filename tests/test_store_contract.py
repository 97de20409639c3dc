"""The JobStore contract (gateway/store/base.py), run unchanged against MemoryStore and RedisStore on a real
Redis: records, compare-and-set, the leased poll schedule, and team listing."""

from __future__ import annotations

import asyncio
import base64
import os

import msgspec
import redis.asyncio as aioredis

from gateway.api.schemas import CreateVideoBody, ImageBody
from gateway.config import LimitsSettings
from gateway.intake import normalize
from gateway.jobs import Attempt, ImageRef, JobError, Usage, VideoJob, new_job_id
from gateway.store.base import JobStore, Order
from gateway.store.redis import RedisStore
from providers.contract import Output, UpstreamJob

T0 = 1_750_000_000.0


def make_job(now: float, *, team: str = "team-a", **changes: object) -> VideoJob:
    job = VideoJob(id=new_job_id(now), team=team, key_id="key-a", model="scenex", created_at=now, updated_at=now)
    return msgspec.structs.replace(job, **changes)


async def create_jobs(store: JobStore, count: int, *, team: str = "team-a", start: float = T0) -> list[VideoJob]:
    """`count` jobs one second apart, so their ids sort by creation."""
    jobs = [make_job(start + i, team=team) for i in range(count)]
    for job in jobs:
        assert await store.create(job, poll_at=job.created_at)
    return jobs


async def page_ids(
    store: JobStore,
    team: str = "team-a",
    *,
    limit: int,
    after: str | None = None,
    order: Order = "asc",
    status: str | None = None,
) -> tuple[list[str], bool]:
    jobs, more = await store.list_team(team, limit=limit, after=after, order=order, status=status)
    return [job.id for job in jobs], more


# --------------------------------------------------------------------------------------------- records


async def test_create_then_get_round_trips_the_full_record(store: JobStore) -> None:
    """Every field of a fully populated job comes back from get exactly as it was created."""
    job = make_job(
        T0,
        status="completed",
        phase="done",
        progress=100,
        provider="vidgen",
        upstream=UpstreamJob(provider="vidgen", upstream_id="run_abc", upstream_model="scenex"),
        prompt="a lighthouse at dusk",
        seconds=5,
        size="832x480",
        images=(ImageRef(role="image", digest="ab" * 32, size_bytes=1234, mime_type="image/png"),),
        estimated_cost_micros=100_000,
        output=Output(video_url="https://example.test/v.mp4", expires_at=123, provenance={"c2pa": "yes"}),
        error=JobError(code="upstream_error", message="boom", provider="vidgen", retryable=True),
        usage=Usage(video_seconds=5, cost_micros=90_000, cost_source="provider"),
        strategy="cheapest",
        attempts=(Attempt(provider="vidgen", outcome="accepted", at=T0 + 0.5),),
        warnings=("seconds rounded",),
        metadata={"order": "42"},
        completed_at=T0 + 9.25,
        deadline_at=T0 + 1800,
        next_poll_at=T0 + 5,
        poll_count=7,
        consecutive_poll_errors=2,
        version=3,
    )

    assert await store.create(job, poll_at=T0)

    assert await store.get(job.id) == job


async def test_get_of_an_unknown_id_is_none(store: JobStore) -> None:
    """Reading an id that was never created returns None rather than raising."""
    assert await store.get(new_job_id(T0)) is None


async def test_concurrent_gets_each_return_their_own_record(store: JobStore) -> None:
    """Hundreds of reads in flight at once (batched into MGETs by Redis) each get their own job or None."""
    jobs = await create_jobs(store, 60)
    missing = [new_job_id(T0 + 1000 + i) for i in range(550)]
    wanted = [job.id for job in jobs] + missing + [job.id for job in jobs[::-1]]

    results = await asyncio.gather(*(store.get(job_id) for job_id in wanted))

    by_id = {job.id: job for job in jobs}
    assert list(results) == [by_id.get(job_id) for job_id in wanted]


async def test_create_with_an_existing_id_returns_false_and_changes_nothing(store: JobStore) -> None:
    """A second create under the same id is refused, and neither the record nor its schedule moves."""
    job = make_job(T0)
    assert await store.create(job, poll_at=T0 + 10)
    impostor = msgspec.structs.replace(job, team="team-b", prompt="other", version=9)

    assert not await store.create(impostor, poll_at=T0)

    assert await store.get(job.id) == job
    assert await store.next_due_at() == T0 + 10
    assert await page_ids(store, "team-b", limit=10) == ([], False)
    assert await page_ids(store, "team-a", limit=10) == ([job.id], False)


async def test_replace_succeeds_with_the_expected_version(store: JobStore) -> None:
    """A write naming the stored version lands and the new record is what get returns."""
    job = make_job(T0)
    await store.create(job, poll_at=T0)
    updated = msgspec.structs.replace(job, status="in_progress", progress=40, version=2)

    assert await store.replace(updated, expected_version=1, poll_at=T0 + 5)

    assert await store.get(job.id) == updated


async def test_replace_with_a_stale_version_returns_false_and_changes_nothing(store: JobStore) -> None:
    """A write naming an old version loses: the record and its schedule stay as the winner left them."""
    job = make_job(T0)
    await store.create(job, poll_at=T0)
    winner = msgspec.structs.replace(job, status="in_progress", version=2)
    assert await store.replace(winner, expected_version=1, poll_at=T0 + 5)
    loser = msgspec.structs.replace(job, status="failed", version=2)

    assert not await store.replace(loser, expected_version=1, poll_at=None)

    assert await store.get(job.id) == winner
    assert await store.next_due_at() == T0 + 5


async def test_replace_of_a_missing_job_returns_false_and_creates_nothing(store: JobStore) -> None:
    """Compare-and-set against an id that does not exist fails instead of inserting it."""
    job = make_job(T0)

    assert not await store.replace(job, expected_version=1, poll_at=T0)

    assert await store.get(job.id) is None
    assert await store.next_due_at() is None


async def test_replace_with_no_poll_at_takes_the_job_off_the_schedule(store: JobStore) -> None:
    """poll_at=None unschedules the job, so no claim ever returns it again."""
    job = make_job(T0)
    await store.create(job, poll_at=T0)
    done = msgspec.structs.replace(job, status="completed", phase="done", version=2)

    assert await store.replace(done, expected_version=1, poll_at=None)

    assert await store.next_due_at() is None
    assert await store.claim_due(T0 + 1e6, limit=10, lease_s=1) == []


async def test_replace_reschedules_the_job_at_poll_at(store: JobStore) -> None:
    """A write with poll_at moves the job's due time, earlier or later."""
    job = make_job(T0)
    await store.create(job, poll_at=T0 + 100)
    await store.replace(msgspec.structs.replace(job, version=2), expected_version=1, poll_at=T0 + 3)

    assert await store.claim_due(T0 + 2, limit=10, lease_s=1) == []
    assert await store.claim_due(T0 + 3, limit=10, lease_s=1) == [job.id]


async def test_delete_removes_the_job_its_index_entry_and_its_schedule(store: JobStore) -> None:
    """After delete the job is gone from get, listing and the poll schedule; its neighbours stay."""
    kept, gone = await create_jobs(store, 2)

    await store.delete(gone.id)

    assert await store.get(gone.id) is None
    assert await page_ids(store, limit=10) == ([kept.id], False)
    assert await store.claim_due(T0 + 100, limit=10, lease_s=1) == [kept.id]


async def test_delete_of_an_unknown_id_is_a_no_op(store: JobStore) -> None:
    """Deleting an id that does not exist raises nothing and touches no other job."""
    [job] = await create_jobs(store, 1)

    await store.delete(new_job_id(T0))

    assert await store.get(job.id) == job


async def test_job_records_keep_image_digests_never_image_bytes(
    store: JobStore, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A job created from a request with a 64 KiB inline image stores only its digest and size."""
    pixels = os.urandom(64 * 1024)
    data_uri = "data:image/png;base64," + base64.b64encode(pixels).decode()
    body = CreateVideoBody(model="scenex", prompt="animate this", image=ImageBody(data_uri=data_uri))
    intake = normalize(body, limits=LimitsSettings(), default_model=None)
    job = make_job(T0, images=intake.images, prompt=intake.prompt)

    await store.create(job, poll_at=T0)

    stored = await store.get(job.id)
    assert stored is not None
    [ref] = stored.images
    assert (ref.size_bytes, ref.mime_type, ref.url) == (len(pixels), "image/png", None)
    assert ref.digest is not None
    assert len(ref.digest) == 64
    assert len(msgspec.msgpack.encode(stored)) < 2048
    # What actually sits in Redis (nothing under the prefix for the memory store): small, and no pixels.
    records = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}job:*")]
    assert len(records) == (1 if isinstance(store, RedisStore) else 0)
    for key in records:
        value = await redis_client.get(key)
        assert value is not None
        assert len(value) < 2048
        assert pixels[:64] not in value


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


# -------------------------------------------------------------------------------------------- listing


async def test_list_team_returns_only_that_teams_jobs(store: JobStore) -> None:
    """Jobs of other teams, including one whose name extends this one's, never show in its list."""
    mine = await create_jobs(store, 3, team="team-a")
    await create_jobs(store, 3, team="team-b", start=T0 + 0.5)
    await create_jobs(store, 2, team="team-ab", start=T0 + 0.25)

    ids, more = await page_ids(store, "team-a", limit=100)

    assert ids == [job.id for job in mine]
    assert not more
    assert await page_ids(store, "team-nobody", limit=100) == ([], False)


async def test_list_team_orders_by_creation_ascending_and_descending(store: JobStore) -> None:
    """asc is oldest first and desc newest first, whatever order the jobs were inserted in."""
    jobs = [make_job(T0 + i) for i in range(6)]
    for job in (jobs[3], jobs[0], jobs[5], jobs[1], jobs[4], jobs[2]):
        await store.create(job, poll_at=T0)
    expected = [job.id for job in jobs]

    assert await page_ids(store, limit=10, order="asc") == (expected, False)
    assert await page_ids(store, limit=10, order="desc") == (expected[::-1], False)


async def test_list_team_cursor_is_exclusive_in_both_orders(store: JobStore) -> None:
    """`after` names the last id already seen: the page starts strictly past it in the listing's order."""
    ids = [job.id for job in await create_jobs(store, 5)]

    assert await page_ids(store, limit=2, after=ids[1], order="asc") == (ids[2:4], True)
    assert await page_ids(store, limit=2, after=ids[3], order="desc") == ([ids[2], ids[1]], True)
    assert await page_ids(store, limit=10, after=ids[4], order="asc") == ([], False)
    assert await page_ids(store, limit=10, after=ids[0], order="desc") == ([], False)


async def test_list_team_cursor_need_not_be_a_stored_id(store: JobStore) -> None:
    """A cursor between two ids (e.g. a job since deleted) pages from where it would have sorted."""
    ids = [job.id for job in await create_jobs(store, 4)]
    between = new_job_id(T0 + 1.5)

    assert await page_ids(store, limit=10, after=between, order="asc") == (ids[2:], False)
    assert await page_ids(store, limit=10, after=between, order="desc") == (ids[1::-1], False)


async def test_list_team_has_more_is_exact_at_page_boundaries(store: JobStore) -> None:
    """A page that ends exactly at the last job says no more; one that stops short of it says more."""
    ids = [job.id for job in await create_jobs(store, 6)]

    assert await page_ids(store, limit=6) == (ids, False)
    assert await page_ids(store, limit=5) == (ids[:5], True)
    assert await page_ids(store, limit=3) == (ids[:3], True)
    assert await page_ids(store, limit=3, after=ids[2]) == (ids[3:], False)
    assert await page_ids(store, limit=3, after=ids[3], order="desc") == (ids[2::-1], False)


async def test_list_team_walks_every_job_once_page_by_page(store: JobStore) -> None:
    """Following `has_more` with the last id as cursor visits all jobs exactly once, in order."""
    ids = [job.id for job in await create_jobs(store, 11)]
    for order in ("asc", "desc"):
        seen: list[str] = []
        cursor: str | None = None
        for _ in range(20):
            page, more = await page_ids(store, limit=4, after=cursor, order=order)
            seen += page
            if not more:
                break
            cursor = page[-1]
        assert seen == (ids if order == "asc" else ids[::-1])


async def test_list_team_skips_deleted_jobs(store: JobStore) -> None:
    """Jobs marked deleted_at are left out of pages, and trailing ones do not make has_more true."""
    jobs = await create_jobs(store, 5)
    for job in (jobs[1], jobs[3], jobs[4]):
        gone = msgspec.structs.replace(job, deleted_at=T0 + 60, status="cancelled", version=2)
        assert await store.replace(gone, expected_version=1, poll_at=None)

    assert await page_ids(store, limit=2) == ([jobs[0].id, jobs[2].id], False)
    assert await page_ids(store, limit=1) == ([jobs[0].id], True)
    assert await page_ids(store, limit=10, order="desc") == ([jobs[2].id, jobs[0].id], False)


async def test_list_team_filters_by_status(store: JobStore) -> None:
    """With a status filter only jobs in that status are listed, and has_more counts only those."""
    jobs = await create_jobs(store, 6)
    for job in jobs[::2]:
        done = msgspec.structs.replace(job, status="completed", version=2)
        assert await store.replace(done, expected_version=1, poll_at=None)
    completed = [job.id for job in jobs[::2]]
    queued = [job.id for job in jobs[1::2]]

    assert await page_ids(store, limit=10, status="completed") == (completed, False)
    assert await page_ids(store, limit=2, status="queued") == (queued[:2], True)
    assert await page_ids(store, limit=3, status="queued", order="desc") == (queued[::-1], False)
    assert await page_ids(store, limit=10, status="failed") == ([], False)


async def test_list_team_status_filter_finds_sparse_matches_across_batches(store: JobStore) -> None:
    """Matches hundreds of ids apart are still found, paged and counted correctly in both orders."""
    jobs = await create_jobs(store, 260)
    sparse = [jobs[0], jobs[120], jobs[255]]
    for job in sparse:
        failed = msgspec.structs.replace(job, status="failed", version=2)
        assert await store.replace(failed, expected_version=1, poll_at=None)
    ids = [job.id for job in sparse]

    assert await page_ids(store, limit=2, status="failed") == (ids[:2], True)
    assert await page_ids(store, limit=2, status="failed", after=ids[1]) == (ids[2:], False)
    assert await page_ids(store, limit=3, status="failed") == (ids, False)
    assert await page_ids(store, limit=2, status="failed", order="desc") == (ids[:0:-1], True)
    assert await page_ids(store, limit=5, status="failed", order="desc", after=ids[1]) == (ids[:1], False)

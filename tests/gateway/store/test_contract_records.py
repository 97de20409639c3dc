"""The JobStore contract for records (gateway/store/base.py), run unchanged against MemoryStore and RedisStore
on a real Redis: create, get, compare-and-set replace, delete, and what a record may hold."""

from __future__ import annotations

import asyncio
import base64
import os

import msgspec

from gateway.config import LimitsSettings
from gateway.schema.job import Attempt, ImageRef, JobError, Usage, new_job_id
from gateway.schema.wire import CreateVideoBody, ImageBody
from gateway.store.base import JobStore
from gateway.store.redis import RedisStore
from gateway.videos.intake import normalize
from providers.contract import Output, UpstreamJob
from tests.gateway.store.conftest import T0, create_jobs, make_job, page_ids

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


async def test_replaces_made_together_each_win_or_lose_on_their_own(store: JobStore) -> None:
    """Writes sent in the same instant (the poller's, which the Redis store sends in one round trip): each lands
    or loses by its own version; of two racing for one job exactly one lands."""
    jobs = await create_jobs(store, 6)
    running = [
        msgspec.structs.replace(job, status="in_progress", progress=10 * n, version=2) for n, job in enumerate(jobs)
    ]
    rival = msgspec.structs.replace(jobs[0], status="failed", version=2)

    results = await asyncio.gather(
        *(store.replace(job, expected_version=1, poll_at=T0 + 100 + n) for n, job in enumerate(running)),
        store.replace(rival, expected_version=1, poll_at=None),
        store.replace(running[5], expected_version=7, poll_at=None),
    )

    assert results == [True, True, True, True, True, True, False, False]
    assert [await store.get(job.id) for job in jobs] == running
    assert await store.next_due_at() == T0 + 100


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


async def test_job_records_keep_image_digests_never_image_bytes(store: JobStore) -> None:
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
    # What actually sits in Redis: small, and no pixels.
    if isinstance(store, RedisStore):
        value = await store.client.get(store.job_key(job.id))
        assert value is not None
        assert len(value) < 2048
        assert pixels[:64] not in value

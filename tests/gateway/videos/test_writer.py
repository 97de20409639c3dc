"""The terminal seam: effects run after a terminal write, a failing effect leaves the job scheduled so the
poller runs them again, and a finalized job is never touched twice. Both stores."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from gateway.schema.job import VideoJob, new_job_id, with_step
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.videos.writer import JobWriter
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[JobStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore.from_url(REDIS_URL, prefix=f"test:lifecycle:{new_job_id(time.time())}:")
    yield redis_store
    await redis_store.close()


class Recorder:
    def __init__(self, *, fail_times: int = 0) -> None:
        self.seen: list[str] = []
        self.fail_times = fail_times

    async def __call__(self, job: VideoJob) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("the ledger is down")
        self.seen.append(job.id)


async def terminal_job(store: JobStore, writer: JobWriter) -> VideoJob:
    now = time.time()
    job = VideoJob(id=new_job_id(now), team="t", key_id="k", model="m", created_at=now, updated_at=now)
    assert await store.create(job, poll_at=now)
    done = msgspec.structs.replace(job, status="completed", phase="done", completed_at=now, version=2)
    assert await store.replace(done, expected_version=1, poll_at=writer.safety_net_at())
    return done


async def test_effects_run_once_then_the_job_leaves_the_schedule(store: JobStore) -> None:
    recorder = Recorder()
    writer = JobWriter(store=store, effects=[recorder], clock=time.time, retry_s=0.05)
    job = await terminal_job(store, writer)

    finalized = await writer.finalize(job)

    assert finalized is not None
    assert finalized.finalized_at is not None
    assert recorder.seen == [job.id]
    assert await store.next_due_at() is None
    assert await writer.finalize(finalized) is None  # already finalized: nothing runs again
    assert recorder.seen == [job.id]


async def test_a_failing_effect_leaves_the_job_scheduled_for_another_try(store: JobStore) -> None:
    recorder = Recorder(fail_times=1)
    writer = JobWriter(store=store, effects=[recorder], clock=time.time, retry_s=0.05)
    job = await terminal_job(store, writer)

    assert await writer.finalize(job) is None
    stored = await store.get(job.id)
    assert stored is not None
    assert stored.finalized_at is None
    assert await store.next_due_at() is not None  # the safety net: the poller claims it again

    claimed = await store.claim_due(time.time() + 1, limit=10, lease_s=1)
    assert claimed == [job.id]
    assert await writer.finalize(stored) is not None
    assert recorder.seen == [job.id]


async def test_a_stale_copy_does_not_overwrite_a_newer_record(store: JobStore) -> None:
    writer = JobWriter(store=store, effects=[], clock=time.time, retry_s=0.05)
    job = await terminal_job(store, writer)
    newer = msgspec.structs.replace(job, deleted_at=time.time(), version=job.version + 1)
    assert await store.replace(newer, expected_version=job.version, poll_at=writer.safety_net_at())

    assert await writer.finalize(job) is None  # lost the compare-and-set
    current = await store.get(job.id)
    assert current is not None
    assert current.deleted_at is not None
    assert current.finalized_at is None
    assert await writer.finalize(current) is not None


async def test_the_status_history_keeps_each_change_of_status_phase_or_provider_and_its_last_24_steps(
    store: JobStore,
) -> None:
    """A new job is made with its first step; a progress-only write adds none; a change of provider does; after 30
    provider changes the record keeps 24 steps, the newest last (docs/console.md: "the last 24 steps")."""
    now = 1_750_000_000.0
    writer = JobWriter(store=store, effects=[], clock=lambda: now + 1, retry_s=0.05)
    made = VideoJob(id=new_job_id(now), team="t", key_id="k", model="m", created_at=now, updated_at=now, provider="a")
    job = with_step(made, at=now)  # as the create service makes it
    assert await writer.insert(job, poll_at=now + 60)
    running = await writer.write(job, msgspec.structs.replace(job, status="in_progress", phase="following"))
    assert running is not None
    moved = await writer.write(running, msgspec.structs.replace(running, progress=40))
    assert moved is not None
    steps = [(s.at, s.status, s.phase, s.provider) for s in moved.status_history]
    assert steps == [(now, "queued", "submitting", "a"), (now + 1, "in_progress", "following", "a")]
    for n in range(30):
        moved = await writer.write(moved, msgspec.structs.replace(moved, provider=f"p{n}"))
        assert moved is not None
    stored = await store.get(job.id)
    assert stored is not None
    assert len(stored.status_history) == 24
    assert [s.provider for s in stored.status_history][-2:] == ["p28", "p29"]
    assert stored.status_history[0].provider == "p6"

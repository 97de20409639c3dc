"""In-memory store: one process, nothing survives a restart. Same contract as the Redis store.

Retention (when given): a finalized job expires `jobs_s` after its last write, as on Redis; expired jobs are
dropped, record and index entry together, whenever the store is used (a heap of expiry times, so amortized)."""

from __future__ import annotations

import bisect
import heapq
import time
from collections.abc import Callable

from gateway.schema.job import VideoJob
from gateway.store.base import Order
from gateway.store.retention import Expiries, RetentionSettings


class MemoryStore:
    def __init__(self, *, retention: RetentionSettings | None = None, clock: Callable[[], float] = time.time) -> None:
        self._jobs: dict[str, VideoJob] = {}
        self._teams: dict[str, list[str]] = {}
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._retention = retention
        self._clock = clock
        self._expiries = Expiries()

    def _expire(self) -> None:
        for job_id in self._expiries.lapsed(self._clock()):
            self._remove(job_id)

    def _remove(self, job_id: str) -> None:
        job = self._jobs.pop(job_id, None)
        self._due.pop(job_id, None)
        self._expiries.forget(job_id)
        if job is not None:
            ids = self._teams.get(job.team, [])
            index = bisect.bisect_left(ids, job_id)
            if index < len(ids) and ids[index] == job_id:
                ids.pop(index)
            if not ids:
                self._teams.pop(job.team, None)

    async def create(self, job: VideoJob, *, poll_at: float) -> bool:
        self._expire()
        if job.id in self._jobs:
            return False
        self._jobs[job.id] = job
        bisect.insort(self._teams.setdefault(job.team, []), job.id)
        self._schedule(job.id, poll_at)
        return True

    async def get(self, job_id: str) -> VideoJob | None:
        self._expire()
        return self._jobs.get(job_id)

    async def replace(self, job: VideoJob, *, expected_version: int, poll_at: float | None) -> bool:
        self._expire()
        current = self._jobs.get(job.id)
        if current is None or current.version != expected_version:
            return False
        self._jobs[job.id] = job
        if self._retention is not None and job.finalized_at is not None:
            self._expiries.expire_at(job.id, self._clock() + self._retention.jobs_s)
        if poll_at is None:
            self._due.pop(job.id, None)
        else:
            self._schedule(job.id, poll_at)
        return True

    async def unschedule(self, job_id: str) -> None:
        self._due.pop(job_id, None)

    async def delete(self, job_id: str) -> None:
        self._remove(job_id)

    async def list_team(
        self, team: str, *, limit: int, after: str | None, order: Order, status: str | None
    ) -> tuple[list[VideoJob], bool]:
        self._expire()
        ids = self._teams.get(team, [])
        if order == "asc":
            start = 0 if after is None else bisect.bisect_right(ids, after)
            ordered = ids[start:]
        else:
            end = len(ids) if after is None else bisect.bisect_left(ids, after)
            ordered = ids[:end][::-1]
        page: list[VideoJob] = []
        for job_id in ordered:
            job = self._jobs[job_id]
            if job.deleted_at is not None or (status is not None and job.status != status):
                continue
            if len(page) == limit:
                return page, True
            page.append(job)
        return page, False

    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        claimed: list[str] = []
        while self._heap and self._heap[0][0] <= now and len(claimed) < limit:
            due, job_id = heapq.heappop(self._heap)
            if self._due.get(job_id) != due:
                continue  # stale heap entry: rescheduled or unscheduled since
            # Dropped until the lease below, so a duplicate heap entry (rescheduled to the same time) is stale.
            del self._due[job_id]
            claimed.append(job_id)
        for job_id in claimed:
            self._schedule(job_id, now + lease_s)
        return claimed

    async def next_due_at(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    def _schedule(self, job_id: str, due: float) -> None:
        self._due[job_id] = due
        heapq.heappush(self._heap, (due, job_id))

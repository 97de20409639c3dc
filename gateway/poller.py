"""Follows accepted jobs upstream: claims due jobs from the store's schedule, polls the adapter, writes the
canonical status and reschedules at the provider's cadence. Client reads never reach this code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import msgspec
import structlog

from gateway.config import PollerSettings
from gateway.errors import StoreUnavailable
from gateway.jobs import JobError, Usage, VideoJob, apply_status, fail, job_error
from gateway.lifecycle import Finalizer
from gateway.metrics.registry import Metrics
from gateway.store.base import JobStore
from gateway.upstreams import Upstream
from providers.contract import UpstreamError, UpstreamStatus
from routing.gate import ProviderGate
from routing.speed import SpeedBook

log = structlog.get_logger("gateway.poller")


class Poller:
    def __init__(
        self,
        *,
        store: JobStore,
        upstreams: Mapping[str, Upstream],
        settings: PollerSettings,
        clock: Callable[[], float],
        finalizer: Finalizer,
        speeds: SpeedBook | None = None,
        gate: ProviderGate | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._gate = gate
        self._finalizer = finalizer
        self._speeds = speeds or SpeedBook()
        self._store = store
        self._upstreams = upstreams
        self._settings = settings
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Claim and poll until `stop()`; store outages are waited out, never fatal. In-flight polls finish
        before this returns, so a graceful stop never abandons a half-written job."""
        while not self._stopping.is_set():
            try:
                if await self._claim_batch() < self._settings.batch_size:
                    await self._idle()
            except StoreUnavailable:
                log.warning("poller_store_unavailable")
                await self._pause(min(5.0, self._settings.tick_s * 8))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Ask `run` to finish; cancelling it instead could interrupt a store call half-way."""
        self._stopping.set()

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    async def _claim_batch(self) -> int:
        now = self._clock()
        ids = await self._store.claim_due(now, limit=self._settings.batch_size, lease_s=self._settings.lease_s)
        for job_id in ids:
            await self._slots.acquire()
            task = asyncio.create_task(self._poll_guarded(job_id))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(ids)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _idle(self) -> None:
        next_due = await self._store.next_due_at()
        delay = self._settings.tick_s if next_due is None else next_due - self._clock()
        await self._pause(max(0.0, min(delay, self._settings.tick_s)))

    async def _poll_guarded(self, job_id: str) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job_id):
            try:
                await self.poll_job(job_id)
            except StoreUnavailable:
                log.warning("poll_store_unavailable")  # the lease runs out and the job comes back
            except Exception:
                log.exception("poll_crashed")

    async def poll_job(self, job_id: str) -> None:
        job = await self._store.get(job_id)
        if job is None or job.finalized_at is not None:
            await self._store.unschedule(job_id)
            return
        if job.terminal:
            # Terminal but its effects never completed (a replica died, or an effect failed): run them again.
            await self._finalizer.finalize(job)
            return
        now = self._clock()
        if self._metrics is not None and job.next_poll_at is not None:
            self._metrics.poll_lag(job.provider, now - job.next_poll_at)
        upstream = self._upstreams.get(job.provider or "")
        if job.phase == "submitting" or job.upstream is None or upstream is None:
            await self._write(fail(job, _lost(job, upstream is None), now=now), job)
            return
        if job.deadline_at is not None and now >= job.deadline_at:
            await self._expire(job, upstream, now)
            return
        if self._gate is not None and not await self._gate.status_call(job.provider or "", job.id):
            # The account's status-call window is spent: wait for it, the job is not at fault.
            await self._write(msgspec.structs.replace(job, next_poll_at=now + upstream.poll_interval_s), job)
            return
        try:
            status = await upstream.adapter.poll(job.upstream)
        except UpstreamError as exc:
            await self._poll_failed(job, upstream, exc)
            return
        await self._apply(job, upstream, status)

    async def _apply(self, job: VideoJob, upstream: Upstream, status: UpstreamStatus) -> None:
        now = self._clock()
        usage = _usage(job, status) if status.status == "completed" else None
        updated = apply_status(job, status, now=now, usage=usage)
        next_poll = None if updated.terminal else now + upstream.poll_interval_s
        updated = msgspec.structs.replace(updated, poll_count=job.poll_count + 1, next_poll_at=next_poll)
        await self._write(updated, job)
        if updated.terminal:
            log.info("job_finished", status=updated.status, provider=job.provider, polls=updated.poll_count)
        if updated.status == "completed" and job.provider is not None:
            # Time to video as the client sees it, from acceptance: what `fastest` ranks on.
            await self._speeds.observe(job.provider, job.model, now - job.created_at)

    async def _poll_failed(self, job: VideoJob, upstream: Upstream, exc: UpstreamError) -> None:
        now = self._clock()
        errors = job.consecutive_poll_errors + 1
        log.info("upstream_poll_failed", provider=exc.provider, error_class=exc.error_class, consecutive=errors)
        if self._metrics is not None:
            self._metrics.upstream_error(job.provider, "status", exc.error_class)
        if errors >= self._settings.max_consecutive_errors:
            await self._write(fail(job, job_error(exc.as_failure(), job.provider), now=now), job)
            return
        backoff = min(upstream.poll_interval_s * 2 ** (errors - 1), self._settings.max_backoff_s)
        delay = max(backoff, exc.retry_after_s or 0.0)
        updated = msgspec.structs.replace(
            job, consecutive_poll_errors=errors, poll_count=job.poll_count + 1, next_poll_at=now + delay
        )
        await self._write(updated, job)

    async def _expire(self, job: VideoJob, upstream: Upstream, now: float) -> None:
        assert job.upstream is not None
        if upstream.adapter.traits.can_cancel:
            with contextlib.suppress(UpstreamError):
                await upstream.adapter.cancel(job.upstream)
        limit = f"{upstream.max_job_duration_s:g}"
        error = JobError(
            code="upstream_timeout",
            message=f"{job.provider} did not finish within {limit} s",
            provider=job.provider,
            retryable=True,
        )
        await self._write(fail(job, error, now=now), job)

    async def _write(self, updated: VideoJob, previous: VideoJob) -> None:
        """Compare-and-set; losing means a client (cancel) wrote first, and its write stands. A terminal job
        stays scheduled as a safety net until its effects have run (gateway/lifecycle.py)."""
        updated = msgspec.structs.replace(updated, version=previous.version + 1)
        next_poll = self._finalizer.safety_net_at() if updated.terminal else updated.next_poll_at
        if not await self._store.replace(updated, expected_version=previous.version, poll_at=next_poll):
            log.info("poll_result_superseded")
        elif updated.terminal:
            await self._finalizer.finalize(updated)


def _usage(job: VideoJob, status: UpstreamStatus) -> Usage:
    if status.reported_cost_micros is not None:
        return Usage(video_seconds=job.seconds or 0, cost_micros=status.reported_cost_micros, cost_source="provider")
    return Usage(video_seconds=job.seconds or 0, cost_micros=job.estimated_cost_micros, cost_source="price_table")


def _lost(job: VideoJob, unconfigured: bool) -> JobError:
    if unconfigured:
        message = f"provider {job.provider!r} is no longer configured; the job cannot be followed"
    else:
        message = "a gateway replica was lost while submitting; the provider may or may not have accepted the job"
    return JobError(code="upstream_error", message=message, provider=job.provider, retryable=True)

"""Follows accepted jobs upstream: claims due jobs from the store's schedule, polls the adapter, writes the
canonical status and reschedules at the provider's cadence (gateway/cadence.py), stretched so an account's jobs
stay within its status window. Client reads never reach this code."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import msgspec
import structlog

from gateway.cadence import backoff_delay_s, next_delay_s
from gateway.config import PollerSettings
from gateway.errors import StoreUnavailable
from gateway.metrics.registry import Metrics
from gateway.polling.in_flight import InFlightCounts
from gateway.schema.job import JobError, Usage, VideoJob, apply_status, fail, job_error
from gateway.store.base import JobStore
from gateway.store.replicas import Replicas
from gateway.upstreams import Upstream
from gateway.videos.failover import Failover
from gateway.videos.writer import JobWriter
from providers.contract import TERMINAL_STATUSES, UpstreamError, UpstreamStatus, UpstreamTimeout
from routing.gate import ProviderGate
from routing.speed.book import SpeedBook

log = structlog.get_logger("gateway.polling.poller")

T = TypeVar("T")
# The part of a lease kept free of upstream calls, for writing the result before the lease ends.
_WRITE_SHARE = 0.25
# A replica's beat lasts this many beat intervals: one missed beat is not a death.
HEARTBEAT_TTL_FACTOR = 3
# A claim reads the head of every schedule bucket, so claiming each job the moment it falls due (or a poll slot
# frees) would cost a Redis pipeline per poll. Claims wait for a quarter of the poll slots to be free (at most a
# tick), and a claim that found less than it could take is followed by a pause of at least this long (without
# reading the next due time when it found some): jobs gather, a poll's lag grows by at most this much.
_CLAIM_GAP_S = 0.02
_CLAIM_SHARE = 4


class LeaseSpent(Exception):
    """The claim ran out before an upstream call could start: the job is left to whoever claims it next."""


class _Lease:
    """One claim's lease, shared by the polls it started: upstream calls must end by `calls_end_at` (the lease less
    its write share), or another replica may claim the job and call too. One loop timer per claim, armed by its
    first call, cuts the calls still running then (each becomes a `TimeoutError` in its own task, as under
    `asyncio.timeout`), instead of a timer set and cancelled around every poll. The timer goes once the claim's
    last poll ends."""

    __slots__ = ("_calling", "_cut", "_polls", "_spent", "_timer", "calls_end_at")

    def __init__(self, calls_end_at: float, polls: int) -> None:
        self.calls_end_at = calls_end_at
        self._polls = polls
        self._calling: set[asyncio.Task[object]] = set()
        self._cut: set[asyncio.Task[object]] = set()
        self._spent = False
        self._timer: asyncio.TimerHandle | None = None

    async def bound(self, call: Awaitable[T], budget_s: float) -> T:
        """Run `call`, cut as a `TimeoutError` once the claim's call budget is spent; `budget_s` is what is left
        of it now (the first call arms the timer with it). `LeaseSpent` if the timer already fired."""
        task = asyncio.current_task()
        if self._spent or task is None:
            _close(call)
            raise LeaseSpent
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(budget_s, self._expire)
        self._calling.add(task)
        try:
            return await call
        except asyncio.CancelledError:
            if task in self._cut:
                self._cut.discard(task)
                if task.uncancel() == 0:  # cut by this lease alone: a timeout; any other cancel stands
                    raise TimeoutError from None
            raise
        finally:
            self._calling.discard(task)
            if task in self._cut:  # cut just as the call ended without seeing it: the cancel is withdrawn
                self._cut.discard(task)
                task.uncancel()

    def poll_done(self) -> None:
        self._polls -= 1
        if self._polls <= 0 and self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        self._spent = True
        for task in self._calling:
            self._cut.add(task)
            task.cancel()


# The claim this task polls under; past its end another replica may own the job.
_LEASE: contextvars.ContextVar[_Lease | None] = contextvars.ContextVar("poll_lease", default=None)


LagObserver = Callable[[str, float], None]
"""Called with (provider, seconds a poll started after its due time) for every poll: the schedule lag."""


def _no_lag_observer(provider: str, lag_s: float) -> None:
    return None


class Poller:
    def __init__(
        self,
        *,
        store: JobStore,
        upstreams: Mapping[str, Upstream],
        settings: PollerSettings,
        clock: Callable[[], float],
        writer: JobWriter,
        speeds: SpeedBook | None = None,
        gate: ProviderGate | None = None,
        metrics: Metrics | None = None,
        failover: Failover | None = None,
        replica: str | None = None,
        replicas: Replicas | None = None,
        draw: Callable[[], float] = random.random,
        observe_lag: LagObserver = _no_lag_observer,
    ) -> None:
        self._replica = replica
        self._replicas = replicas
        # When this poller last saw the store fail: replicas' beats may have lapsed meanwhile, through no fault of
        # theirs, so none is taken for lost until a full beat has had time to land since.
        self._store_failed_at = -math.inf
        self._metrics = metrics
        self._gate = gate
        self._failover = failover
        self._draw = draw
        self._observe_lag = observe_lag
        self._in_flight = InFlightCounts(gate, clock=clock)
        self._writer = writer
        self._speeds = speeds or SpeedBook()
        self._store = store
        self._upstreams = upstreams
        self._settings = settings
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._claim_size = min(settings.batch_size, max(1, settings.concurrency // _CLAIM_SHARE))
        self._slots_freed = asyncio.Event()  # set when `_claim_size` poll slots are free
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Claim and poll until `stop()`; store outages are waited out, never fatal. In-flight polls finish
        before this returns, so a graceful stop never abandons a half-written job."""
        while not self._stopping.is_set():
            try:
                # Claim only what can be polled now: a claimed job waiting for a slot would burn its lease.
                free = await self._free_slots()
                claimed = 0 if free <= 0 else await self._claim_batch(free)
                if claimed == 0 < free:
                    await self._idle()
                elif claimed < free:
                    await self._pause(_CLAIM_GAP_S)  # jobs are falling due: let some gather, no schedule read
            except StoreUnavailable:
                log.warning("poller_store_unavailable")
                self._store_failed_at = self._clock()
                await self._pause(min(5.0, self._settings.tick_s * 8))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Ask `run` to finish; cancelling it instead could interrupt a store call half-way."""
        self._stopping.set()

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    async def _free_slots(self) -> int:
        """How many jobs to claim now: waits, at most a tick, for polls in flight to leave a batch or a quarter of
        `concurrency` free (so claims come in batches, not one per finished poll)."""
        if self._settings.concurrency - len(self._tasks) < self._claim_size:
            self._slots_freed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.tick_s):
                    await self._slots_freed.wait()
        return min(self._settings.batch_size, self._settings.concurrency - len(self._tasks))

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._settings.concurrency - len(self._tasks) >= self._claim_size:
            self._slots_freed.set()

    async def _claim_batch(self, limit: int) -> int:
        now = self._clock()
        lease_s = self._settings.lease_s
        ids = await self._store.claim_due(now, limit=limit, lease_s=lease_s)
        lease = _Lease(now + lease_s * (1 - _WRITE_SHARE), len(ids))
        for job_id in ids:
            task = asyncio.create_task(self._poll_guarded(job_id, lease))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(ids)

    async def _idle(self) -> None:
        next_due = await self._store.next_due_at()
        delay = self._settings.tick_s if next_due is None else next_due - self._clock()
        await self._pause(max(_CLAIM_GAP_S, min(delay, self._settings.tick_s)))

    async def _poll_guarded(self, job_id: str, lease: _Lease) -> None:
        # Set in this task's own context (a copy made for it), which ends with it: nothing to reset.
        _LEASE.set(lease)
        structlog.contextvars.bind_contextvars(job_id=job_id)
        try:
            await self.poll_job(job_id)
        except LeaseSpent:
            log.warning("poll_abandoned_lease_spent")  # nothing written: the job comes back with the lease
        except StoreUnavailable:
            log.warning("poll_store_unavailable")  # the lease runs out and the job comes back
            self._store_failed_at = self._clock()
        except Exception:
            log.exception("poll_crashed")
        finally:
            lease.poll_done()

    async def poll_job(self, job_id: str) -> None:
        job = await self._store.get(job_id)
        if job is None or job.finalized_at is not None:
            await self._store.unschedule(job_id)
            return
        if job.terminal:
            # Terminal but its effects never completed (a replica died, or an effect failed): run them again.
            await self._writer.finalize(job)
            return
        now = self._clock()
        upstream = self._upstreams.get(job.provider or "")
        if job.phase == "submitting" or job.upstream is None or upstream is None:
            if upstream is not None and await self._submit_goes_on(job):
                return  # the lease brings it back
            await self._write(fail(job, _lost(job, upstream is None), now=now), job)
            return
        if job.next_poll_at is not None:
            self._observe_lag(upstream.provider, now - job.next_poll_at)
        if job.deadline_at is not None and now >= job.deadline_at:
            await self._expire(job, upstream)
            return
        if not await self._may_call(job):
            # The account's status-call window is spent: wait for it, the job is not at fault.
            delay = await self._delay_s(job, upstream, polls_done=max(1, job.poll_count))
            await self._write(msgspec.structs.replace(job, next_poll_at=self._capped(job, now + delay)), job)
            return
        try:
            status = await self._within_lease(upstream, upstream.poll(job.upstream))
        except UpstreamError as exc:
            await self._poll_failed(job, upstream, exc)
            return
        await self._apply(job, upstream, status)

    async def _submit_goes_on(self, job: VideoJob) -> bool:
        """A record still submitting past its grace: whether its replica may still write it. This one, when it is
        writing the record of a job a provider accepted; another, while it beats (it decides when it claims the
        job itself). A record from before replica ids, or whose replica stopped beating, is lost."""
        if self._failover is not None and self._failover.recording(job.id):
            return True
        if job.replica is None or job.replica == self._replica or self._replicas is None:
            return False
        if self._clock() - self._store_failed_at < self._settings.heartbeat_s * HEARTBEAT_TTL_FACTOR:
            return True
        return await self._replicas.alive(job.replica)

    async def _within_lease(self, upstream: Upstream, call: Awaitable[T]) -> T:
        """Run an upstream call so that it ends while this replica still owns the job: httpx timeouts bound each
        phase of a request, not the whole, so a slow provider could otherwise outlast the lease and meet a second
        replica's call. Overrunning is a timeout (a transient poll error); no lease left is `LeaseSpent`."""
        lease = _LEASE.get()
        if lease is None:
            return await call
        budget_s = lease.calls_end_at - self._clock()
        if budget_s <= 0:
            _close(call)
            raise LeaseSpent
        try:
            return await lease.bound(call, budget_s)
        except TimeoutError as exc:
            message = f"{upstream.provider} did not answer within the poller's lease"
            raise UpstreamTimeout(message, provider=upstream.provider) from exc

    async def _may_call(self, job: VideoJob) -> bool:
        return self._gate is None or await self._gate.status_call(job.provider or "", job.id)

    async def _delay_s(self, job: VideoJob, upstream: Upstream, *, polls_done: int) -> float:
        in_flight = await self._in_flight.count(upstream.provider, upstream.cadence)
        return next_delay_s(upstream.cadence, polls_done=polls_done, in_flight=in_flight, draw=self._draw())

    def _capped(self, job: VideoJob, due_at: float) -> float:
        """No poll is scheduled past the job's deadline, so a job over its time is noticed on time."""
        return due_at if job.deadline_at is None else min(due_at, job.deadline_at)

    async def _apply(self, job: VideoJob, upstream: Upstream, status: UpstreamStatus) -> None:
        counted = msgspec.structs.replace(job, poll_count=job.poll_count + 1)
        if status.status == "failed" and status.failure is not None and self._failover is not None:
            moved = await self._failover.after_failure(counted, status.failure)
            if moved is not None:
                log.info("job_failed_over", failed_provider=job.provider, provider=moved.provider, status=moved.status)
                return
        now = self._clock()
        usage = _usage(job, status) if status.status == "completed" else None
        updated = apply_status(counted, status, now=now, usage=usage)
        if not updated.terminal:
            delay = await self._delay_s(job, upstream, polls_done=counted.poll_count)
            updated = msgspec.structs.replace(updated, next_poll_at=self._capped(job, now + delay))
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
        delay = backoff_delay_s(
            upstream.cadence,
            errors=errors,
            cap_s=self._settings.max_backoff_s,
            retry_after_s=exc.retry_after_s,
            draw=self._draw(),
        )
        updated = msgspec.structs.replace(
            job,
            consecutive_poll_errors=errors,
            poll_count=job.poll_count + 1,
            next_poll_at=self._capped(job, now + delay),
        )
        await self._write(updated, job)

    async def _expire(self, job: VideoJob, upstream: Upstream) -> None:
        """Past the deadline: one last reading first (a job that finished while we waited is not failed for our
        lateness), then cancel upstream where the provider can and fail the job as upstream_timeout."""
        assert job.upstream is not None
        status = await self._last_reading(job, upstream)
        if status is not None and status.status in TERMINAL_STATUSES:
            await self._apply(job, upstream, status)
            return
        now = self._clock()
        if upstream.adapter.traits.can_cancel:
            with contextlib.suppress(UpstreamError, LeaseSpent):
                await self._within_lease(upstream, upstream.cancel(job.upstream))
        limit = f"{upstream.max_job_duration_s:g}"
        error = JobError(
            code="upstream_timeout",
            message=f"{job.provider} did not finish within {limit} s",
            provider=job.provider,
            retryable=True,
        )
        await self._write(fail(job, error, now=now), job)

    async def _last_reading(self, job: VideoJob, upstream: Upstream) -> UpstreamStatus | None:
        assert job.upstream is not None
        if not await self._may_call(job):
            return None
        try:
            return await self._within_lease(upstream, upstream.poll(job.upstream))
        except (UpstreamError, LeaseSpent):
            return None

    async def _write(self, updated: VideoJob, previous: VideoJob) -> None:
        """Through the writer; losing means a client (cancel) wrote first, and its write stands."""
        if await self._writer.write(previous, updated) is None:
            log.info("poll_result_superseded")


def _close(call: Awaitable[object]) -> None:
    """A call that will never be awaited: close its coroutine, so it is not reported as never awaited."""
    if asyncio.iscoroutine(call):
        call.close()


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

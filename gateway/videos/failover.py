"""Getting a request accepted by some provider, at create and after an accepted job fails upstream: each planned
candidate in turn, what the gate must grant first, when to resubmit to the same provider (a 502/503 with
`same_provider_retries`, a 429 or a full window that clears within the create's wait) or move on, which failures
move an accepted job to another provider, and the record once one accepts. Every attempt is recorded."""

from __future__ import annotations

import asyncio
import functools
import math
import random
from collections.abc import Callable, Mapping

import msgspec
import structlog

from gateway.cadence import next_delay_s
from gateway.config import FailoverSettings
from gateway.errors import GatewayError, NoProviderAvailable, StoreUnavailable, from_upstream
from gateway.metrics.registry import Metrics
from gateway.schema.job import Attempt, VideoJob, fail, job_error
from gateway.upstreams import Upstream
from gateway.usage.admission import Admission
from gateway.videos.writer import JobWriter
from providers.contract import ErrorClass, Failure, ImageData, UpstreamError, UpstreamJob, VideoData
from routing.planner import Planner
from routing.router import Candidate, RouteQuery, UnknownModel

log = structlog.get_logger("gateway.videos.failover")

# The request itself is at fault: another provider would refuse it too (and content policy is never retried
# after acceptance, whatever `[failover] on_content_policy` says for submits: the output was generated and judged).
_FINAL_CLASSES = frozenset({ErrorClass.CONTENT_POLICY, ErrorClass.INVALID_REQUEST})
# Pauses between tries of the write that records an accepted job while the store is unreachable: doubling from
# the first to the last, which is kept up.
_RECORD_RETRY_FIRST_S = 0.05
_RECORD_RETRY_MAX_S = 2.0


class AcceptedNotRecorded(StoreUnavailable):
    """A provider accepted the job but the store stayed unreachable until the job's submit grace ran out: this
    replica keeps the upstream job and goes on writing the record in the background (`Failover.recording`)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"the job {job_id} was accepted upstream but the store is unavailable; it is being recorded, and a retry"
            " with the same Idempotency-Key returns it"
        )
        self.job_id = job_id


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """A provider took the request: its upstream job, the candidate it was asked as, every attempt so far."""

    upstream: UpstreamJob
    candidate: Candidate
    attempts: tuple[Attempt, ...]


class Failover:
    def __init__(
        self,
        *,
        planner: Planner,
        upstreams: Mapping[str, Upstream],
        writer: JobWriter,
        admission: Admission,
        settings: FailoverSettings,
        submit_grace_s: float,
        metrics: Metrics,
        clock: Callable[[], float],
        replica: str,
    ) -> None:
        self._replica = replica
        self._planner = planner
        self._gate = planner.gate
        self._upstreams = upstreams
        self._writer = writer
        self._admission = admission
        self._settings = settings
        self._submit_grace_s = submit_grace_s
        self._metrics = metrics
        self._clock = clock
        self._recording: dict[str, asyncio.Task[VideoJob | None]] = {}

    def recording(self, job_id: str) -> bool:
        """Whether this process holds an accepted upstream job for `job_id` whose record it is still writing."""
        return job_id in self._recording

    async def first(self, job: VideoJob, candidates: list[Candidate], *, wait_until: float) -> Accepted:
        """A create's submit: the accepted job; else the error for the client (a single provider's own, or 503
        naming every attempt)."""
        attempts: list[Attempt] = []
        accepted = await self.try_candidates(job, candidates, attempts, wait_until=wait_until)
        if isinstance(accepted, tuple):
            return Accepted(upstream=accepted[0], candidate=accepted[1], attempts=tuple(attempts))
        failure = _submit_failure(accepted, attempts, failed_over=accepted is not None and self.fails_over(accepted))
        if isinstance(failure, NoProviderAvailable):
            self._metrics.refused(failure.code)
        raise failure

    async def follow(self, job: VideoJob, accepted: Accepted, *, record_until: float) -> VideoJob:
        """Record that a provider accepted `job` (stored as `job`): the budget hold follows that provider (it was
        sized at admission for the priciest candidate) and the job is scheduled at its cadence.

        The upstream job is paid for: while the store is unreachable the write is retried until `record_until`
        (when the poller would take the still-submitting record for one whose replica died), then it goes on in
        the background and `AcceptedNotRecorded` (a retryable 503) is raised. Never a second submit."""
        followed = self._followed(job, accepted)
        written = await self._record(job, followed, accepted, until=record_until)
        if written is not None:
            return written
        upstream_job = accepted.upstream
        log.error(
            "job_record_deferred", job_id=job.id, provider=upstream_job.provider, upstream_id=upstream_job.upstream_id
        )
        task = asyncio.create_task(self._record(job, followed, accepted, until=math.inf))
        self._recording[job.id] = task
        task.add_done_callback(functools.partial(self._recorded, job.id))
        raise AcceptedNotRecorded(job.id)

    def _recorded(self, job_id: str, task: asyncio.Task[VideoJob | None]) -> None:
        self._recording.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("job_record_abandoned", job_id=job_id, error=type(task.exception()).__name__)

    def _followed(self, job: VideoJob, accepted: Accepted) -> VideoJob:
        candidate = accepted.candidate
        upstream = self._upstreams[candidate.provider]
        now = self._clock()
        first_poll_s = next_delay_s(upstream.cadence, polls_done=0, in_flight=0, draw=random.random())
        return msgspec.structs.replace(
            job,
            phase="following",
            model=candidate.model,
            provider=candidate.provider,
            upstream=accepted.upstream,
            seconds=candidate.seconds,
            size=candidate.size,
            estimated_cost_micros=candidate.estimated_cost_micros,
            warnings=(*candidate.warnings, *_model_swap(job.id, accepted.upstream)),
            updated_at=now,
            # The provider's maximum duration runs from its acceptance (a failed-over job gets the new one's).
            deadline_at=now + upstream.max_job_duration_s,
            next_poll_at=now + min(first_poll_s, upstream.max_job_duration_s),
            attempts=accepted.attempts,
        )

    async def _record(self, job: VideoJob, followed: VideoJob, accepted: Accepted, *, until: float) -> VideoJob | None:
        """Write `followed` over `job`, retrying while the store is unreachable, until `until`; None when out of
        time. Raises StoreUnavailable when someone else wrote the job first (a client's delete). The budget hold
        follows the provider that accepted: its resize starts with the write, so that on one Redis node both go in
        one round trip (the client's script pipeline), and is made once more after the write if it failed. It never
        needs the write's outcome first: a resize sets absolute amounts, and one that lands after settlement (the
        job's or, when the write lost to a delete, the cancelled job's) finds no hold and changes nothing."""
        resizing = asyncio.ensure_future(self._resize_hold(job, followed, accepted))
        try:
            written = await self._write(job, followed, accepted, until=until)
        finally:
            resized = await resizing
        if written is not None and not resized and not await self._resize_hold(job, followed, accepted):
            log.warning("usage_hold_resize_failed", job_id=job.id)
        return written

    async def _resize_hold(self, job: VideoJob, followed: VideoJob, accepted: Accepted) -> bool:
        return await self._admission.accepted(
            job,
            accepted.candidate,
            deadline_at=followed.deadline_at or self._clock(),
            reported_cost_micros=accepted.upstream.reported_cost_micros,
        )

    async def _write(self, job: VideoJob, followed: VideoJob, accepted: Accepted, *, until: float) -> VideoJob | None:
        """`_record`'s write, retried through store outages until `until`."""
        upstream_job = accepted.upstream
        pause_s = _RECORD_RETRY_FIRST_S
        while True:
            try:
                written = await self._writer.write(job, followed)
            except StoreUnavailable:
                if self._clock() + pause_s > until:
                    return None
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, _RECORD_RETRY_MAX_S)
                continue
            if written is None:
                log.error("job_record_superseded", job_id=job.id, upstream_id=upstream_job.upstream_id)
                raise StoreUnavailable("the job was accepted upstream but changed before it could be recorded")
            log.info(
                "job_accepted", job_id=job.id, provider=upstream_job.provider, upstream_id=upstream_job.upstream_id
            )
            return written

    async def after_failure(self, job: VideoJob, failure: Failure) -> VideoJob | None:
        """`job`'s accepted upstream job ended with `failure`: plan its request again without the providers already
        tried and submit it under the same job id. None (nothing written) when the failure or the job does not
        allow it, or no provider is left; the caller then fails the job as usual.

        This is where a job's provider, and so its estimated cost, changes after acceptance: `handing_over` names
        the next provider, `follow` records the one that accepted and its `estimated_cost_micros`."""
        candidates = await self._next_candidates(job, failure)
        if not candidates:
            return None
        moving = await self._writer.write(
            job,
            handing_over(job, failure, provider=candidates[0].provider, replica=self._replica, now=self._clock()),
            poll_at=self._clock() + self._submit_grace_s,
        )
        if moving is None:
            return None  # a client cancelled first; the poller's own write of the failure loses too
        if job.provider is not None:
            await self._gate.finished(job.provider, job.id)  # its upstream job is over: the slot is free
        attempts = list(moving.attempts)
        accepted = await self.try_candidates(moving, candidates, attempts)
        if isinstance(accepted, tuple):
            upstream_job, candidate = accepted
            return await self.follow(
                moving,
                Accepted(upstream=upstream_job, candidate=candidate, attempts=tuple(attempts)),
                record_until=moving.updated_at + self._submit_grace_s,
            )
        # Every next provider refused: the job ends with the failure that started this, every attempt recorded.
        ended = fail(moving, job_error(failure, job.provider), now=self._clock())
        ended = msgspec.structs.replace(ended, attempts=tuple(attempts))
        return await self._writer.write(moving, ended) or ended

    async def _next_candidates(self, job: VideoJob, failure: Failure) -> list[Candidate]:
        query = next_query(job, failure)
        if query is None:
            return []
        try:
            planned = await self._planner.plan(query, team=job.team, metadata=job.metadata)
        except UnknownModel:  # the catalogue changed under the job (its model is gone): it ends as it is
            log.warning("failover_replan_refused", job_id=job.id, error="unknown_model")
            return []
        candidates = planned.candidates(job.max_attempts - len(job.attempts))
        if not candidates:
            log.info("failover_found_no_provider", job_id=job.id, failed_provider=job.provider)
        return candidates

    async def try_candidates(
        self, job: VideoJob, candidates: list[Candidate], attempts: list[Attempt], *, wait_until: float | None = None
    ) -> tuple[UpstreamJob, Candidate] | UpstreamError | None:
        """Submit to each candidate in turn until one accepts, recording each attempt; fail over only on classes
        that allow it. The accepted job and its candidate, else the last error (None if no call was made).
        `wait_until`: the last candidate may wait, until then, for its window or a 429's Retry-After."""
        deadline = self._clock() + self._settings.deadline_s
        last: UpstreamError | None = None
        for index, candidate in enumerate(candidates):
            later = candidates[index + 1 :]
            outcome = await self._try_provider(
                job,
                candidate,
                attempts,
                deadline=deadline,
                wait_until=None if later else wait_until,
                # Another provider could take it: leave the units this one keeps for requests only it can serve.
                spare_reserve=any(c.provider != candidate.provider for c in later),
            )
            if isinstance(outcome, UpstreamJob):
                return outcome, candidate
            if outcome is not None:  # None: refused by the gate, no call was made
                last = outcome
                if not self.fails_over(last) or self._clock() >= deadline:
                    return last
            if later:
                self._metrics.failed_over(candidate.provider, attempts[-1].error_code or "other")
        return last

    async def _try_provider(
        self,
        job: VideoJob,
        candidate: Candidate,
        attempts: list[Attempt],
        *,
        deadline: float,
        wait_until: float | None,
        spare_reserve: bool,
    ) -> UpstreamJob | UpstreamError | None:
        """Submit to one provider; None if the gate refused it (recorded as a failed attempt, no call made).
        Resubmit there only after a reply saying it accepted nothing (a 502/503, a 429), so a timeout whose outcome
        is unknown is never resubmitted to the same one."""
        retries = 0
        while True:
            outcome = await self._submit_once(job, candidate, attempts, spare_reserve=spare_reserve)
            if isinstance(outcome, str):
                # Capacity ran out between the screen and now (another request took it): wait if it comes back
                # within `wait_until`, else record the refusal and move on.
                pause = await self._until_claimable(candidate, outcome, wait_until)
                if pause is not None and self._clock() + pause < deadline:
                    await asyncio.sleep(pause)
                    continue
                attempts.append(
                    Attempt(provider=candidate.provider, outcome="failed", error_code=outcome, at=self._clock())
                )
                return None
            if not isinstance(outcome, UpstreamError) or not self.fails_over(outcome):
                return outcome
            # A resubmit after a 429 is one more attempt, within the request's `max_attempts` like a failover.
            pause = self._pause_before_resubmit(
                outcome, retries, wait_until if len(attempts) < job.max_attempts else None
            )
            if pause is None or self._clock() + pause >= deadline:
                return outcome
            retries += 1
            await asyncio.sleep(pause)

    async def _until_claimable(self, candidate: Candidate, refusal: str, wait_until: float | None) -> float | None:
        """How long to wait before claiming again after the gate refused for headroom, or None not to."""
        if wait_until is None or refusal != "no_headroom":
            return None
        clears_in = await self._gate.clears_in(candidate)
        if clears_in is None or self._clock() + clears_in > wait_until:
            return None
        return clears_in + random.uniform(0.01, 0.05)

    def _pause_before_resubmit(self, exc: UpstreamError, retries: int, wait_until: float | None) -> float | None:
        """How long to wait before resubmitting to the provider that answered `exc`, or None not to: after a 502/503,
        the n-th of `same_provider_retries` waits n x backoff; after a 429 (with `wait_until`), its Retry-After."""
        if _accepted_nothing(exc) and retries < self._settings.same_provider_retries:
            return (retries + 1) * self._settings.same_provider_backoff_s
        if wait_until is not None and exc.error_class == ErrorClass.RATE_LIMITED and exc.retry_after_s is not None:
            pause = exc.retry_after_s + random.uniform(0.01, 0.05)
            return pause if self._clock() + pause <= wait_until else None
        return None

    async def _submit_once(
        self, job: VideoJob, candidate: Candidate, attempts: list[Attempt], *, spare_reserve: bool
    ) -> UpstreamJob | UpstreamError | str:
        """One submit: the accepted job or the provider's error (recorded in `attempts`), or the gate's refusal
        (no call made; the caller records it if it gives up)."""
        refusal = await self._gate.claim(candidate, job.id, spare_reserve=spare_reserve)
        if refusal is not None:
            return refusal
        try:
            accepted = await self._upstreams[candidate.provider].submit(candidate.request)
        except UpstreamError as exc:
            await self._gate.outcome(candidate.provider, job.id, exc)
            attempts.append(_failed_attempt(candidate, exc, self._clock()))
            log.info("upstream_submit_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)
            self._metrics.upstream_error(candidate.provider, "generate", exc.error_class)
            return exc
        await self._gate.outcome(candidate.provider, job.id, None)
        attempts.append(Attempt(provider=candidate.provider, outcome="accepted", at=self._clock()))
        return accepted

    def fails_over(self, exc: UpstreamError) -> bool:
        """By error class only; content policy is the one class ops may switch on (`[failover] on_content_policy`)."""
        return exc.failover or (exc.error_class == ErrorClass.CONTENT_POLICY and self._settings.on_content_policy)


def _accepted_nothing(exc: UpstreamError) -> bool:
    """The provider answered (a status code) that it is unavailable: nothing was accepted, a resubmit is safe."""
    return exc.error_class == ErrorClass.UPSTREAM_UNAVAILABLE and exc.status_code is not None


def _failed_attempt(candidate: Candidate, exc: UpstreamError, now: float) -> Attempt:
    return Attempt(provider=candidate.provider, outcome="failed", error_code=exc.error_class.value, at=now)


def _submit_failure(last: UpstreamError | None, attempts: list[Attempt], *, failed_over: bool) -> GatewayError:
    """One attempt, or a last error that ends failover: that provider's error as is. Otherwise 503 naming every
    attempt and how it failed."""
    if last is not None and (len(attempts) == 1 or not failed_over):
        return from_upstream(last)
    tried = "; ".join(f"{a.provider}: {a.error_code}" for a in attempts)
    return NoProviderAvailable(f"every candidate failed ({tried})", code="all_attempts_failed")


def replay_of(query: RouteQuery, *, max_attempts: int) -> RouteQuery | None:
    """What a job record keeps to plan its request again: the route query when it can be kept whole and may be
    needed. A request carrying inline image, watermark or source video bytes is not kept (the record holds
    digests, never their bytes), so such a job fails over at submit but not after acceptance."""
    overlay = query.request.watermark_overlay
    source = query.request.video_input
    inline = any(isinstance(image, ImageData) for image in query.request.images)
    if max_attempts < 2 or inline or (overlay is not None and overlay.image is not None):
        return None
    if source is not None and isinstance(source.video, VideoData):
        return None  # an uploaded source video: its bytes are not kept either
    return query


def next_query(job: VideoJob, failure: Failure) -> RouteQuery | None:
    """The query to plan the job's next attempt with (every provider tried so far excluded), or None when the job
    must end with this failure: a final class, no replayable request, or its attempts spent."""
    if failure.error_class in _FINAL_CLASSES or job.replay is None or len(job.attempts) >= job.max_attempts:
        return None
    tried = {attempt.provider for attempt in job.attempts}
    # A timeout with an unknown outcome may still run upstream: no provider is ever asked twice for one job.
    excluded = tuple(sorted(tried | set(job.replay.exclude_providers)))
    return msgspec.structs.replace(job.replay, exclude_providers=excluded)


def handing_over(job: VideoJob, failure: Failure, *, provider: str, replica: str, now: float) -> VideoJob:
    """The record written before the next provider is asked: the failed attempt recorded, back to `submitting`
    (a replica lost now leaves a record the poller fails as outcome-unknown, never a second submit), progress
    reset, the provider about to be asked and the replica asking it named, the previous upstream job forgotten."""
    failed = Attempt(provider=job.provider or "", outcome="failed", error_code=failure.error_class.value, at=now)
    attempts = list(job.attempts)
    if attempts and attempts[-1].provider == job.provider and attempts[-1].outcome == "accepted":
        attempts[-1] = failed  # the accepted attempt is the one that failed: one attempt, not two
    else:
        attempts.append(failed)
    return msgspec.structs.replace(
        job,
        phase="submitting",
        provider=provider,
        replica=replica,
        upstream=None,
        progress=0,
        error=None,
        attempts=tuple(attempts),
        consecutive_poll_errors=0,
        next_poll_at=None,
        updated_at=now,
    )


def _model_swap(job_id: str, upstream: UpstreamJob) -> tuple[str, ...]:
    """A provider that ran another model than asked: logged and kept as a warning on the job, never a failure
    (it accepted and bills the job; failing it would start a second paid job elsewhere)."""
    if upstream.requested_model is None:
        return ()
    log.warning(
        "upstream_model_differed",
        job_id=job_id,
        provider=upstream.provider,
        requested_model=upstream.requested_model,
        upstream_model=upstream.upstream_model,
    )
    return (f"{upstream.provider} ran model {upstream.upstream_model!r} instead of {upstream.requested_model!r}",)

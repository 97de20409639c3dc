"""Create, read, list and cancel jobs: the orchestration behind the routes (routing, submit, store)."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping

import msgspec
import structlog

from gateway.auth import Caller
from gateway.cadence import next_delay_s
from gateway.config import FailoverSettings
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    NoProviderAvailable,
    NotFound,
    StoreUnavailable,
)
from gateway.failover import handing_over, next_query, replay_of
from gateway.intake import Intake
from gateway.jobs import Attempt, VideoJob, fail, job_error, new_job_id
from gateway.lifecycle import Finalizer
from gateway.metrics.registry import Metrics
from gateway.store.base import JobStore, Order
from gateway.submitting import Submitter
from gateway.upstreams import Upstream
from gateway.usage.admission import Admission
from providers.contract import Failure, UpstreamError, UpstreamJob
from routing.gate import ProviderGate
from routing.ranking import Ranked, rank
from routing.router import Candidate, Plan, Router, UnknownModel
from routing.rules import Policy, RulesHolder
from routing.speed.book import SpeedBook

log = structlog.get_logger("gateway.service")


class VideoService:
    def __init__(
        self,
        *,
        store: JobStore,
        router: Router,
        upstreams: Mapping[str, Upstream],
        submit_grace_s: float,
        failover: FailoverSettings,
        speeds: SpeedBook,
        rules: RulesHolder,
        gate: ProviderGate,
        finalizer: Finalizer,
        admission: Admission,
        clock: Callable[[], float],
        metrics: Metrics,
    ) -> None:
        self._metrics = metrics
        self._admission = admission
        self._finalizer = finalizer
        self._failover = failover
        self._rules = rules
        self._gate = gate
        self._speeds = speeds
        self._store = store
        self._router = router
        self._upstreams = upstreams
        self._submit_grace_s = submit_grace_s
        self._clock = clock
        self._submitter = Submitter(upstreams=upstreams, gate=gate, failover=failover, metrics=metrics, clock=clock)

    def now(self) -> float:
        return self._clock()

    @property
    def router(self) -> Router:
        return self._router

    @property
    def rules(self) -> RulesHolder:
        return self._rules

    @property
    def gate(self) -> ProviderGate:
        return self._gate

    @property
    def admission(self) -> Admission:
        return self._admission

    @property
    def speeds(self) -> SpeedBook:
        return self._speeds

    @property
    def upstreams(self) -> Mapping[str, Upstream]:
        return self._upstreams

    async def ranked(
        self, caller: Caller, intake: Intake, metadata: dict[str, str], *, demand: bool = False
    ) -> tuple[Plan, list[Ranked], Policy]:
        """The plan under the ops rules for this team, model and metadata, and its candidates best first; `demand`:
        for a create (counted toward a demand-aware reserve), not an explain."""
        policy = self._rules.resolve(team=caller.team, model=intake.query.model, metadata=metadata)
        try:
            plan = self._router.plan(intake.query, policy)
        except UnknownModel as exc:
            raise InvalidRequest(str(exc), code="unknown_model", param="model") from exc
        plan = await self._gate.screen(plan, demand=demand)
        ranked = rank(
            plan.candidates,
            strategy=intake.query.strategy or policy.strategy,
            expected_s=self._speeds.expected_s,
            order=policy.order,
            weights=(policy.weights.cost, policy.weights.speed),
        )
        return plan, ranked, policy

    async def create(self, caller: Caller, intake: Intake, *, metadata: dict[str, str]) -> VideoJob:
        await self._admission.check_rate(caller)
        wait_until = self._clock() + self._failover.wait_for_capacity_s
        plan, ranked, policy = await self._ranked_or_wait(caller, intake, metadata, wait_until=wait_until)
        if not ranked:
            reasons = "; ".join(f"{d.provider}: {', '.join(d.reasons)}" for d in plan.dropped)
            self._metrics.refused("no_provider_available")
            raise NoProviderAvailable(f"no provider can serve this request ({reasons})")
        tries = (intake.max_attempts or self._failover.max_attempts) if intake.query.allow_fallbacks else 1
        candidates = [r.candidate for r in ranked[:tries]]
        strategy = intake.query.strategy or policy.strategy
        self._metrics.routed(candidates[0].provider, candidates[0].model, strategy)
        job = self._new_job(caller, intake, candidates[0], metadata, strategy)
        job = msgspec.structs.replace(job, max_attempts=tries, replay=replay_of(intake.query, max_attempts=tries))
        # Concurrency and budget are held before anything is stored or sent; released if the block raises.
        async with self._admission.admitted(job, candidates):
            # The job is stored before the submit: a replica lost mid-submit leaves a record the poller resolves.
            await self._store.create(job, poll_at=job.created_at + self._submit_grace_s)
            try:
                accepted, candidate, attempts = await self._submitter.first(job, candidates, wait_until=wait_until)
            except BaseException:
                await self._store.delete(job.id)
                raise
        deadline_at = self._clock() + self._upstreams[candidate.provider].max_job_duration_s
        await self._admission.accepted(
            job, candidate, deadline_at=deadline_at, reported_cost_micros=accepted.reported_cost_micros
        )
        return await self._follow(job, candidate, accepted, attempts)

    async def _ranked_or_wait(
        self, caller: Caller, intake: Intake, metadata: dict[str, str], *, wait_until: float
    ) -> tuple[Plan, list[Ranked], Policy]:
        """`ranked` for a create. While no candidate is left but a dropped one is blocked only by what lapses on its
        own by `wait_until` (`[failover] wait_for_capacity_s` after the create arrived: a 429 cooldown, a full
        window), wait and plan again: a request a provider can take a moment later is served, not refused."""
        started = self._clock()
        plan, ranked, policy = await self.ranked(caller, intake, metadata, demand=True)
        waited = False
        while not ranked:
            clears_at = min((d.clears_at for d in plan.dropped if d.clears_at is not None), default=math.inf)
            if clears_at > wait_until:
                break
            # Just past the moment (its window frees a unit then), spread so waiters do not all land at once.
            await asyncio.sleep(max(0.0, clears_at - self._clock()) + random.uniform(0.01, 0.05))
            waited = True
            plan, ranked, policy = await self.ranked(caller, intake, metadata)
        if waited:
            self._metrics.waited_for_capacity(self._clock() - started)
        return plan, ranked, policy

    def _new_job(
        self, caller: Caller, intake: Intake, candidate: Candidate, metadata: dict[str, str], strategy: str
    ) -> VideoJob:
        now = self._clock()
        return VideoJob(
            id=new_job_id(now),
            team=caller.team,
            key_id=caller.key_id,
            model=candidate.model,
            created_at=now,
            updated_at=now,
            provider=candidate.provider,
            prompt=intake.prompt,
            seconds=candidate.seconds,
            size=candidate.size,
            images=intake.images,
            estimated_cost_micros=candidate.estimated_cost_micros,
            warnings=candidate.warnings,
            metadata=metadata,
            strategy=strategy,
            webhook=intake.webhook,
        )

    async def _follow(
        self, job: VideoJob, candidate: Candidate, accepted: UpstreamJob, attempts: tuple[Attempt, ...]
    ) -> VideoJob:
        now = self._clock()
        upstream = self._upstreams[candidate.provider]
        first_poll_s = next_delay_s(upstream.cadence, polls_done=0, in_flight=0, draw=random.random())
        followed = msgspec.structs.replace(
            job,
            phase="following",
            model=candidate.model,
            provider=candidate.provider,
            upstream=accepted,
            seconds=candidate.seconds,
            size=candidate.size,
            estimated_cost_micros=candidate.estimated_cost_micros,
            warnings=candidate.warnings,
            updated_at=now,
            # The provider's maximum duration runs from its acceptance (a failed-over job gets the new one's).
            deadline_at=now + upstream.max_job_duration_s,
            next_poll_at=now + min(first_poll_s, upstream.max_job_duration_s),
            attempts=attempts,
            version=job.version + 1,
        )
        for delay_s in (0.0, 0.1, 0.5):
            await asyncio.sleep(delay_s)
            try:
                if await self._store.replace(followed, expected_version=job.version, poll_at=followed.next_poll_at):
                    log.info(
                        "job_accepted",
                        job_id=job.id,
                        provider=accepted.provider,
                        upstream_id=accepted.upstream_id,
                    )
                    return followed
                break
            except StoreUnavailable:
                continue
        # The provider accepted but the record could not be updated; the poller will resolve the orphan.
        log.error(
            "job_follow_write_failed",
            job_id=job.id,
            provider=accepted.provider,
            upstream_id=accepted.upstream_id,
        )
        raise StoreUnavailable("the job was accepted upstream but could not be recorded; it will be resolved")

    async def resubmit(self, job: VideoJob, failure: Failure) -> VideoJob | None:
        """Post-acceptance failover (the poller's `Resubmit`): `job`'s upstream job ended with `failure`. Plan the
        original request again without the providers already tried and submit it under the same job id; None
        (nothing written) when the failure or the job does not allow it, or no provider is left.

        This is where a job's provider, and so its estimated cost, changes after acceptance: `handing_over` names
        the next provider, `_follow` records the one that accepted and its `estimated_cost_micros`."""
        query = next_query(job, failure)
        if query is None:
            return None
        caller = Caller(key_id=job.key_id, team=job.team, scopes=frozenset({"videos"}))
        intake = Intake(query=query, images=job.images, prompt=job.prompt or "")
        try:
            _, ranked, _ = await self.ranked(caller, intake, job.metadata)
        except GatewayError as exc:  # the catalogue changed under the job (its model is gone): it ends as it is
            log.warning("failover_replan_refused", job_id=job.id, error=exc.code)
            return None
        candidates = [r.candidate for r in ranked[: job.max_attempts - len(job.attempts)]]
        if not candidates:
            log.info("failover_found_no_provider", job_id=job.id, failed_provider=job.provider)
            return None
        now = self._clock()
        moving = handing_over(job, failure, provider=candidates[0].provider, now=now)
        if not await self._store.replace(moving, expected_version=job.version, poll_at=now + self._submit_grace_s):
            return None  # a client cancelled first; the poller's own write of the failure loses too
        if job.provider is not None:
            await self._gate.finished(job.provider, job.id)  # its upstream job is over: the slot is free
        attempts = list(moving.attempts)
        accepted = await self._submitter.try_candidates(moving, candidates, attempts)
        if isinstance(accepted, tuple):
            upstream_job, candidate = accepted
            # The hold follows the provider that accepted (it was sized at admission for the priciest candidate).
            deadline_at = self._clock() + self._upstreams[candidate.provider].max_job_duration_s
            await self._admission.accepted(
                moving, candidate, deadline_at=deadline_at, reported_cost_micros=upstream_job.reported_cost_micros
            )
            return await self._follow(moving, candidate, upstream_job, tuple(attempts))
        # Every next provider refused: the job ends with the failure that started this, every attempt recorded.
        ended = fail(moving, job_error(failure, job.provider), now=self._clock())
        ended = msgspec.structs.replace(ended, attempts=tuple(attempts), version=moving.version + 1)
        if await self._store.replace(ended, expected_version=moving.version, poll_at=self._finalizer.safety_net_at()):
            await self._finalizer.finalize(ended)
        return ended

    async def get(self, caller: Caller, job_id: str) -> VideoJob:
        job = await self._store.get(job_id) if job_id.startswith("video_") else None
        # Another team's job is indistinguishable from a missing one.
        if job is None or job.team != caller.team or job.deleted_at is not None:
            raise NotFound(f"no video {job_id!r}", param="video_id")
        return job

    async def list(
        self, caller: Caller, *, limit: int, after: str | None, order: Order, status: str | None
    ) -> tuple[list[VideoJob], bool]:
        return await self._store.list_team(caller.team, limit=limit, after=after, order=order, status=status)

    async def delete(self, caller: Caller, job_id: str) -> VideoJob:
        """Cancel upstream where the provider can, stop following, mark cancelled; the job leaves the client's view."""
        for _ in range(5):
            job = await self.get(caller, job_id)
            now = self._clock()
            changes: dict[str, object] = {"deleted_at": now, "updated_at": now, "version": job.version + 1}
            if not job.terminal:
                await self._cancel_upstream(job)
                changes |= {"status": "cancelled", "phase": "done", "completed_at": now, "next_poll_at": None}
            deleted = msgspec.structs.replace(job, **changes)
            # An unfinalized terminal job stays scheduled so its effects run even if this replica dies now.
            poll_at = None if deleted.finalized_at is not None else self._finalizer.safety_net_at()
            if await self._store.replace(deleted, expected_version=job.version, poll_at=poll_at):
                log.info("job_deleted", job_id=job.id, was_status=job.status)
                await self._finalizer.finalize(deleted)
                return deleted
        raise StoreUnavailable("the job kept changing while being deleted; try again")

    async def _cancel_upstream(self, job: VideoJob) -> None:
        upstream = self._upstreams.get(job.provider or "")
        if upstream is None or job.upstream is None:
            return
        try:
            await upstream.adapter.cancel(job.upstream)
        except UpstreamError as exc:
            # Best effort: the job is cancelled for the client either way; the provider may still finish it.
            log.warning("upstream_cancel_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)

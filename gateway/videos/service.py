"""Create, read, list and cancel jobs: the orchestration behind the routes (admission, planning, submit, store)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping

import msgspec
import structlog

from gateway.auth import Caller
from gateway.config import FailoverSettings
from gateway.errors import (
    GatewayError,
    InvalidRequest,
    NoProviderAvailable,
    NotFound,
    StoreUnavailable,
    UnsupportedRequest,
)
from gateway.metrics.registry import Metrics
from gateway.schema.job import VideoJob, new_job_id, with_step
from gateway.store.base import JobStore, Order
from gateway.upstreams import Upstream
from gateway.usage.admission import Admission
from gateway.videos.failover import Failover, replay_of
from gateway.videos.intake import Intake
from gateway.videos.writer import JobWriter
from providers.contract import UpstreamError
from routing.planner import Planned, Planner
from routing.router import Candidate, Plan, UnknownModel

log = structlog.get_logger("gateway.videos.service")


class VideoService:
    def __init__(
        self,
        *,
        store: JobStore,
        writer: JobWriter,
        planner: Planner,
        failover: Failover,
        upstreams: Mapping[str, Upstream],
        submit_grace_s: float,
        failover_settings: FailoverSettings,
        admission: Admission,
        clock: Callable[[], float],
        metrics: Metrics,
        replica: str,
    ) -> None:
        self._replica = replica
        self._store = store
        self._writer = writer
        self._failover = failover
        self._settings = failover_settings
        self._submit_grace_s = submit_grace_s
        self._metrics = metrics
        self._clock = clock
        self.planner = planner
        self.upstreams = upstreams
        self.admission = admission

    def now(self) -> float:
        return self._clock()

    async def plan(
        self, caller: Caller, intake: Intake, metadata: dict[str, str], *, planner: Planner | None = None
    ) -> Planned:
        """The plan an explain shows: what a create with this body would be offered now (by `planner`: a preview
        of proposed rules; by default the one in force)."""
        planning = (planner or self.planner).plan(intake.query, team=caller.team, metadata=metadata)
        return await _known_model(planning)

    async def create(self, caller: Caller, intake: Intake, *, metadata: dict[str, str]) -> VideoJob:
        await self.admission.check_rate(caller)
        wait_until = self._clock() + self._settings.wait_for_capacity_s
        planned = await _known_model(
            self.planner.plan_or_wait(intake.query, team=caller.team, metadata=metadata, wait_until=wait_until)
        )
        if planned.waited_s:
            self._metrics.waited_for_capacity(planned.waited_s)
        if not planned.ranked:
            error = self._refusal(intake, planned.plan)
            self._metrics.refused(error.type)
            raise error
        tries = (intake.max_attempts or self._settings.max_attempts) if intake.query.allow_fallbacks else 1
        candidates = planned.candidates(tries)
        self._metrics.routed(candidates[0].provider, candidates[0].model, planned.strategy)
        job = self._new_job(caller, intake, candidates[0], metadata, planned.strategy, max_attempts=tries)
        # Concurrency and budget are held before anything is stored or sent; released if the block raises.
        async with self.admission.admitted(job, candidates):
            # The job is stored before the submit: a replica lost mid-submit leaves a record the poller resolves.
            await self._writer.insert(job, poll_at=job.created_at + self._submit_grace_s)
            try:
                accepted = await self._failover.first(job, candidates, wait_until=wait_until)
            except BaseException:
                await self._writer.discard(job)
                raise
        # Until then the poller leaves the still-submitting record alone (it was scheduled at the grace).
        return await self._failover.follow(job, accepted, record_until=job.created_at + self._submit_grace_s)

    def _refusal(self, intake: Intake, plan: Plan) -> GatewayError:
        """Why nothing is left: "never" (a 400 naming what does not fit where, and what could serve it) or
        "not now" (a 503, with `Retry-After` when the first block lapses on its own)."""
        if plan.unservable:
            models = self.planner.router.models_serving(intake.query)
            could = f"; models that could serve it: {', '.join(models)}" if models else "; no configured model can"
            return UnsupportedRequest(f"no configured offering can serve this request ({_drops(plan)}){could}")
        headers = {}
        if plan.clears_at is not None:
            headers["Retry-After"] = str(max(1, math.ceil(plan.clears_at - self._clock())))
        return NoProviderAvailable(f"no provider can take this request now ({_drops(plan)})", headers=headers)

    def _new_job(
        self,
        caller: Caller,
        intake: Intake,
        candidate: Candidate,
        metadata: dict[str, str],
        strategy: str,
        *,
        max_attempts: int,
    ) -> VideoJob:
        now = self._clock()
        job = VideoJob(
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
            replica=self._replica,
            source=intake.source,
            max_attempts=max_attempts,
            replay=replay_of(intake.query, max_attempts=max_attempts),
        )
        return with_step(job, at=now)  # its status history starts with the job

    async def get(self, caller: Caller, job_id: str, *, deleted: bool = False) -> VideoJob:
        """The caller's team's job; a deleted one only with `deleted` (an idempotent replay answers with the job
        as it now is, cancelled, rather than a 404)."""
        job = await self._store.get(job_id) if job_id.startswith("video_") else None
        # Another team's job is indistinguishable from a missing one.
        if job is None or job.team != caller.team or (job.deleted_at is not None and not deleted):
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
            changes: dict[str, object] = {"deleted_at": now, "updated_at": now}
            if not job.terminal:
                await self._cancel_upstream(job)
                changes |= {"status": "cancelled", "phase": "done", "completed_at": now, "next_poll_at": None}
            # Terminal now: the writer finalizes it (an already finalized job stays off the schedule).
            deleted = await self._writer.write(job, msgspec.structs.replace(job, **changes))
            if deleted is not None:
                log.info("job_deleted", job_id=job.id, was_status=job.status)
                return deleted
        raise StoreUnavailable("the job kept changing while being deleted; try again")

    async def _cancel_upstream(self, job: VideoJob) -> None:
        upstream = self.upstreams.get(job.provider or "")
        if upstream is None or job.upstream is None:
            return
        try:
            await upstream.cancel(job.upstream)
        except UpstreamError as exc:
            # Best effort: the job is cancelled for the client either way; the provider may still finish it.
            log.warning("upstream_cancel_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)


def _drops(plan: Plan) -> str:
    return "; ".join(f"{d.provider} ({d.model}): {', '.join(d.reasons)}" for d in plan.dropped)


async def _known_model(planning: Awaitable[Planned]) -> Planned:
    try:
        return await planning
    except UnknownModel as exc:
        raise InvalidRequest(str(exc), code="unknown_model", param="model") from exc

"""The one owner of job-record writes: every change to a stored job goes through `JobWriter`, which bumps the
version, adds a change of status, phase or provider to the job's status history, compare-and-sets, schedules the
job and, on a terminal state, runs its effects (release the provider slot, settle usage, queue the webhook, count
it) and marks it finalized.

A terminal write keeps the job on the poll schedule, `retry_s` ahead, as a safety net: if this process dies
between that write and the finalized mark, or an effect fails, the poller of any replica claims the job again
and runs the effects once more. Every effect must therefore be idempotent per job (keyed by job id), which is
what makes usage settle exactly once whoever finalizes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import structlog

from gateway.errors import StoreUnavailable
from gateway.schema.job import TerminalEffect, VideoJob, with_step
from gateway.store.base import JobStore

log = structlog.get_logger("gateway.videos.writer")


class _Scheduled:
    """The default schedule of a write: see `JobWriter.write`."""


SCHEDULED = _Scheduled()


class JobWriter:
    def __init__(
        self,
        *,
        store: JobStore,
        effects: Sequence[TerminalEffect],
        clock: Callable[[], float],
        retry_s: float,
    ) -> None:
        self._store = store
        self._effects = tuple(effects)
        self._clock = clock
        self.retry_s = retry_s

    def safety_net_at(self) -> float:
        """Where a terminal write schedules the job, so it is finalized even if this process dies now."""
        return self._clock() + self.retry_s

    async def insert(self, job: VideoJob, *, poll_at: float) -> bool:
        """Store a new job (version 1, made with its first status step) on the schedule at `poll_at`; False if its
        id exists."""
        return await self._store.create(job, poll_at=poll_at)

    async def discard(self, job: VideoJob) -> None:
        """Remove a job no client ever saw (its create failed before any provider accepted it)."""
        await self._store.delete(job.id)

    async def write(
        self, previous: VideoJob, updated: VideoJob, *, poll_at: float | _Scheduled | None = SCHEDULED
    ) -> VideoJob | None:
        """Store `updated` over `previous` if nobody wrote in between (its version is set here, one past
        `previous`); None when someone did (their write stands). By default a running job is scheduled at its
        `next_poll_at`, an unfinalized terminal one on the safety net, a finalized one not at all; `poll_at`
        overrides that. A terminal job is finalized right after; returns the job as stored then."""
        written = msgspec.structs.replace(updated, version=previous.version + 1)
        if _step(written) != _step(previous):
            written = with_step(written, at=self._clock())
        if isinstance(poll_at, _Scheduled):
            poll_at = self._default_poll_at(written)
        if not await self._store.replace(written, expected_version=previous.version, poll_at=poll_at):
            return None
        if written.terminal and written.finalized_at is None:
            return await self.finalize(written) or written
        return written

    def _default_poll_at(self, job: VideoJob) -> float | None:
        if job.finalized_at is not None:
            return None
        return self.safety_net_at() if job.terminal else job.next_poll_at

    async def finalize(self, job: VideoJob) -> VideoJob | None:
        """Run every effect, then mark the job finalized and take it off the schedule. On any failure the job
        stays scheduled and comes back after `retry_s`; returns the finalized job, or None if not (yet)."""
        if not job.terminal or job.finalized_at is not None:
            return None
        for effect in self._effects:
            try:
                await effect(job)
            except Exception:
                log.exception("terminal_effect_failed", job_id=job.id, effect=_name(effect))
                return None
        done = msgspec.structs.replace(job, finalized_at=self._clock(), version=job.version + 1)
        try:
            if await self._store.replace(done, expected_version=job.version, poll_at=None):
                return done
        except StoreUnavailable:
            log.warning("finalize_write_failed", job_id=job.id)
        # Someone wrote in between (a client delete); the job is still scheduled and is finalized then.
        return None


def _step(job: VideoJob) -> tuple[str, str, str | None]:
    return job.status, job.phase, job.provider


def _name(effect: TerminalEffect) -> str:
    return getattr(effect, "__qualname__", None) or type(effect).__name__

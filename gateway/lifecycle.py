"""What happens once a job is terminal: its effects (release the provider slot, settle usage, queue the webhook,
count it) run, then the job is marked finalized.

The terminal write keeps the job on the poll schedule, `retry_s` ahead, as a safety net: if this process dies
between that write and the finalized mark, or an effect fails, the poller of any replica claims the job again
and runs the effects once more. Every effect must therefore be idempotent per job (keyed by job id), which is
what makes usage settle exactly once whoever finalizes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import msgspec
import structlog

from gateway.errors import StoreUnavailable
from gateway.jobs import VideoJob
from gateway.store.base import JobStore

log = structlog.get_logger("gateway.lifecycle")


class TerminalEffect(Protocol):
    """Called with a terminal job, possibly more than once (after a crash or a race): must be idempotent."""

    async def __call__(self, job: VideoJob) -> None: ...


class Finalizer:
    def __init__(
        self,
        *,
        store: JobStore,
        effects: Sequence[TerminalEffect],
        clock: Callable[[], float],
        retry_s: float,
    ) -> None:
        self._store = store
        self._effects = list(effects)
        self._clock = clock
        self.retry_s = retry_s

    def add(self, effect: TerminalEffect) -> None:
        self._effects.append(effect)

    def safety_net_at(self) -> float:
        """Where a terminal write schedules the job, so it is finalized even if this process dies now."""
        return self._clock() + self.retry_s

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


def _name(effect: TerminalEffect) -> str:
    return getattr(effect, "__qualname__", None) or type(effect).__name__

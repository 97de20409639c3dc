"""How a sandbox job advances: queued, then running, then done, on a clock the caller reads and passes in.
Pure arithmetic shared by every emulator; it never reads a clock itself."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Phase = Literal["queued", "running", "done"]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    """Where a job stands; `fraction` is 0 while queued, grows while running and is 1 once done."""

    phase: Phase
    fraction: float


class JobTimeline(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A job spends `queue_s` then `run_s` (each times `time_scale`) after `created_at`, in clock seconds."""

    created_at: float
    queue_s: NonNegative
    run_s: NonNegative
    time_scale: NonNegative = 1.0

    @property
    def started_at(self) -> float:
        return self.created_at + self.queue_s * self.time_scale

    @property
    def finished_at(self) -> float:
        return self.started_at + self.run_s * self.time_scale

    def at(self, now: float) -> Progress:
        """The phase and progress at clock reading `now`; a reading before creation counts as queued."""
        if now < self.started_at:
            return Progress(phase="queued", fraction=0.0)
        if now < self.finished_at:
            run_span = self.finished_at - self.started_at
            return Progress(phase="running", fraction=(now - self.started_at) / run_span)
        return Progress(phase="done", fraction=1.0)

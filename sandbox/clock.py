"""How a sandbox job advances: queued, then running, then done, on a clock the caller reads and passes in (pure
arithmetic shared by every emulator); and the skew the control route adds to an emulator's clocks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import msgspec

Phase = Literal["queued", "running", "done"]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class Skew:
    """How far `POST /_sandbox/clock` has moved one emulator's time forward: added to every reading of both of its
    clocks (job phases, rate windows, timestamps and URL expiry alike)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def shifted(self, clock: Callable[[], float]) -> Callable[[], float]:
        return lambda: clock() + self.offset_s


class ClockAdvance(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The control route's body: move this emulator's time forward by `advance_s` (never back)."""

    advance_s: Annotated[float, msgspec.Meta(ge=0, le=365 * 86_400)]


class ClockReading(msgspec.Struct, frozen=True, kw_only=True):
    """The control route's reply: the total skew now, in seconds."""

    offset_s: float


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

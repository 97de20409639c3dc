"""Fault injection shared by the sandbox emulators: prompt markers that pick a job's outcome, switches queued
over a private `/_sandbox` control path, and call statistics. Knows no vendor's wire format."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated

import msgspec
from litestar import Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from sandbox.clock import ClockAdvance, ClockReading, Skew

FAULTS_PATH = "/_sandbox/faults"
STATS_PATH = "/_sandbox/stats"
CLOCK_PATH = "/_sandbox/clock"


class Outcome(enum.StrEnum):
    """How a job ends when one of its prompts carries the marker `[sandbox:<value>]`."""

    BLOCKED = "block"  # refused by the pre-generation check: the submit call itself fails
    UNSAFE = "unsafe"  # generated, then refused by the post-generation check
    FAILED = "fail"
    TIMED_OUT = "timeout"
    CANCELLED = "cancel"
    STUCK = "stuck"  # never leaves the running phase

    @property
    def marker(self) -> str:
        return f"[sandbox:{self.value}]"


def marker_outcome(prompts: Iterable[str]) -> Outcome | None:
    """The outcome the prompts ask for; with several markers the earliest in `Outcome` order wins."""
    text = "\n".join(prompts).lower()
    return next((outcome for outcome in Outcome if outcome.marker in text), None)


# ---------------------------------------------------------------------------------------------- switches


class FaultSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One switch: the next `times` calls of `action` ("*" = any) sleep `delay_s`, then answer
    `status_code` with `body` (raw text, may be malformed on purpose) or the vendor's own error for that
    status; with neither set, the call proceeds normally after the delay. `times = -1` lasts until cleared."""

    action: str = "*"
    status_code: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None
    body: str | None = None
    content_type: str = "application/json"
    delay_s: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    times: Annotated[int, msgspec.Meta(ge=-1)] = 1

    def __post_init__(self) -> None:
        if self.times == 0:
            raise ValueError("times must be positive, or -1 for until cleared")


class _Armed(msgspec.Struct, kw_only=True):
    spec: FaultSpec
    remaining: int


class TakenFault(msgspec.Struct, frozen=True, kw_only=True):
    """A switch a call consumed, and when (the emulator's clock): lets a benchmark replay what the provider said."""

    action: str
    status_code: int | None
    delay_s: float
    at: float


class FaultQueue:
    """Switches in arrival order; a call consumes the first one armed for its action, which is logged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._armed: list[_Armed] = []
        self._clock = clock
        self._taken: list[TakenFault] = []

    def push(self, spec: FaultSpec) -> int:
        self._armed.append(_Armed(spec=spec, remaining=spec.times))
        return len(self._armed)

    def clear(self) -> None:
        self._armed.clear()

    def take(self, action: str) -> FaultSpec | None:
        for armed in self._armed:
            if armed.spec.action not in (action, "*"):
                continue
            if armed.remaining > 0:
                armed.remaining -= 1
                if armed.remaining == 0:
                    self._armed.remove(armed)
            spec = armed.spec
            self._taken.append(
                TakenFault(action=action, status_code=spec.status_code, delay_s=spec.delay_s, at=self._clock())
            )
            return spec
        return None

    def taken(self) -> list[TakenFault]:
        return list(self._taken)

    def forget_taken(self) -> None:
        self._taken.clear()


async def apply_fault(fault: FaultSpec | None, vendor_error: Callable[[int], bytes]) -> Response[bytes] | None:
    """The reply a switch forces, after its delay; None when the call should be served normally."""
    if fault is None:
        return None
    if fault.delay_s > 0:
        await asyncio.sleep(fault.delay_s)
    if fault.body is not None:
        status_code = fault.status_code or 200
        return Response(fault.body.encode(), status_code=status_code, media_type=fault.content_type)
    if fault.status_code is not None:
        content = vendor_error(fault.status_code)
        return Response(content, status_code=fault.status_code, media_type="application/json")
    return None


# -------------------------------------------------------------------------------------------- statistics


class StatsReport(msgspec.Struct, frozen=True, kw_only=True):
    """Calls seen per action; per job id, poll calls and the most that were ever in flight at once; the switches
    calls consumed, in order."""

    calls: dict[str, int]
    job_calls: dict[str, int]
    job_max_in_flight: dict[str, int]
    faults_taken: list[TakenFault] = []


class CallStats:
    """Counts calls; the in-flight high-water mark proves whether a job was ever polled concurrently."""

    def __init__(self) -> None:
        self._calls: Counter[str] = Counter()
        self._job_calls: Counter[str] = Counter()
        self._in_flight: Counter[str] = Counter()
        self._max_in_flight: dict[str, int] = {}

    @contextlib.contextmanager
    def track(self, action: str, job_id: str | None = None) -> Iterator[None]:
        self._calls[action] += 1
        if job_id is None:
            yield
            return
        self._job_calls[job_id] += 1
        self._in_flight[job_id] += 1
        self._max_in_flight[job_id] = max(self._max_in_flight.get(job_id, 0), self._in_flight[job_id])
        try:
            yield
        finally:
            self._in_flight[job_id] -= 1

    def report(self) -> StatsReport:
        return StatsReport(
            calls=dict(self._calls),
            job_calls=dict(self._job_calls),
            job_max_in_flight=dict(self._max_in_flight),
        )

    def reset(self) -> None:
        self._calls.clear()
        self._job_calls.clear()
        self._max_in_flight.clear()


class QueuedReply(msgspec.Struct, frozen=True, kw_only=True):
    queued: int


def control_handlers(faults: FaultQueue, stats: CallStats, skew: Skew) -> list[HTTPRouteHandler]:
    """The private control routes (no auth; not part of any vendor API) for one emulator's state."""

    @post(CLOCK_PATH, status_code=200)
    async def advance_clock(data: JSONBody[ClockAdvance]) -> ClockReading:
        skew.offset_s += data.advance_s
        return ClockReading(offset_s=skew.offset_s)

    @post(FAULTS_PATH, status_code=201)
    async def push_fault(data: JSONBody[FaultSpec]) -> QueuedReply:
        return QueuedReply(queued=faults.push(data))

    @delete(FAULTS_PATH)
    async def clear_faults() -> None:
        faults.clear()

    @get(STATS_PATH)
    async def read_stats() -> StatsReport:
        return msgspec.structs.replace(stats.report(), faults_taken=faults.taken())

    @delete(STATS_PATH)
    async def reset_stats() -> None:
        stats.reset()
        faults.forget_taken()

    return [push_fault, clear_faults, read_stats, reset_stats, advance_clock]

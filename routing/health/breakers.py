"""Circuit breakers per provider from recent outcomes: the settings, states, the interface and the in-memory one.

The window is a ring of BUCKETS time buckets of window_s / BUCKETS each (constant memory whatever the traffic), so
an outcome counts for between 0.9 and 1.0 x window_s after it happened. No I/O and no clock of its own: time is
passed in. The Redis implementation, shared across replicas, is routing/health/redis_breakers.py."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from typing import Annotated, ClassVar, Protocol, runtime_checkable

import msgspec

BUCKETS = 10

_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class BreakerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Open when at least `min_calls` outcomes in the last `window_s` failed at `failure_ratio` or worse; after
    `cooldown_s` let `half_open_probes` calls through to decide whether it closes again."""

    window_s: _Seconds = 60.0
    """The span of recent outcomes the breaker looks at."""
    min_calls: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10
    """Outcomes needed in the window before the breaker may open."""
    failure_ratio: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.5
    """The share of failures in the window at or above which it opens."""
    cooldown_s: _Seconds = 30.0
    """How long an open breaker keeps the provider out before probing."""
    half_open_probes: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 1
    """Calls let through after the cooldown to decide whether it closes again."""


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's circuit as of now: what metrics export and `explain` prints."""

    state: CircuitState
    """`closed` (calls flow), `open` (the provider is left out) or `half_open` (probe calls only)."""
    calls: int
    """Calls counted in the current window."""
    failures: int
    """Failures among them."""
    opened_at: float | None
    """When the circuit last opened, unix seconds; null when closed."""
    probes_in_flight: int
    """Probe calls under way while half open."""


class HealthUnavailable(Exception):
    """The shared breaker state could not be read or written; the caller decides (the router fails open)."""

    status_code: ClassVar[int] = 503
    code: ClassVar[str] = "health_unavailable"
    failover: ClassVar[bool] = False


@runtime_checkable
class CircuitBreakers(Protocol):
    """One circuit per provider; every implementation passes the same contract suite
    (tests/routing/health/test_breakers.py)."""

    async def allow(self, provider: str) -> bool:
        """Closed: yes. Open: no until the cooldown ends, then half-open with at most `half_open_probes`
        probe calls in flight at once (each admitted probe must be followed by `record`)."""
        ...

    async def record(self, provider: str, *, ok: bool) -> CircuitState:
        """Count one outcome and return the state it leaves the circuit in. Half-open, a probe's success closes
        the circuit (and empties the window) and its failure reopens it with a fresh cooldown."""
        ...

    async def snapshot(self, provider: str) -> CircuitSnapshot: ...

    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]: ...


class Circuit(msgspec.Struct, kw_only=True):
    """The stored state of one circuit. `slots` is the bucket ring: slot -> (bucket index, calls, failures)."""

    state: CircuitState = CircuitState.CLOSED
    opened_at: float | None = None
    probes: int = 0
    probe_at: float = 0.0
    slots: dict[int, tuple[int, int, int]] = {}


def bucket_of(now: float, settings: BreakerSettings) -> int:
    """The index of the bucket `now` falls in; slot `index % BUCKETS` of the ring holds it."""
    return math.floor(now / (settings.window_s / BUCKETS))


def effective(circuit: Circuit, now: float, settings: BreakerSettings) -> tuple[CircuitState, int]:
    """The state and probes in flight as of `now`, which may differ from what is stored: an open circuit whose
    cooldown is over is half-open, and probes that never reported within `cooldown_s` (their caller died) are
    no longer counted, so a lost probe cannot hold the circuit half-open for ever."""
    state, probes = circuit.state, circuit.probes
    if state is CircuitState.OPEN and now >= (circuit.opened_at or 0.0) + settings.cooldown_s:
        state, probes = CircuitState.HALF_OPEN, 0
    if state is CircuitState.HALF_OPEN and probes > 0 and now >= circuit.probe_at + settings.cooldown_s:
        probes = 0
    return state, probes


def window_counts(circuit: Circuit, current_bucket: int) -> tuple[int, int]:
    """Calls and failures in the buckets still inside the window."""
    live = [(calls, fails) for index, calls, fails in circuit.slots.values() if index > current_bucket - BUCKETS]
    return sum(calls for calls, _ in live), sum(fails for _, fails in live)


def trips(calls: int, failures: int, settings: BreakerSettings) -> bool:
    """Whether a closed circuit opens; written as in the Lua script so both agree to the last bit."""
    return calls >= settings.min_calls and failures >= settings.failure_ratio * calls


def snapshot_of(circuit: Circuit, now: float, settings: BreakerSettings) -> CircuitSnapshot:
    state, probes = effective(circuit, now, settings)
    calls, failures = window_counts(circuit, bucket_of(now, settings))
    opened_at = None if state is CircuitState.CLOSED else circuit.opened_at
    return CircuitSnapshot(state=state, calls=calls, failures=failures, opened_at=opened_at, probes_in_flight=probes)


class MemoryCircuitBreakers:
    """One process's circuits; nothing is shared or survives a restart. No awaits inside, so each call is atomic."""

    def __init__(self, settings: BreakerSettings, *, clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock
        self._circuits: dict[str, Circuit] = {}

    def _circuit(self, provider: str) -> Circuit:
        return self._circuits.setdefault(provider, Circuit())

    async def allow(self, provider: str) -> bool:
        circuit, now = self._circuit(provider), self._clock()
        state, probes = effective(circuit, now, self._settings)
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN or probes >= self._settings.half_open_probes:
            return False
        circuit.state, circuit.probes, circuit.probe_at = CircuitState.HALF_OPEN, probes + 1, now
        return True

    async def record(self, provider: str, *, ok: bool) -> CircuitState:
        circuit, now = self._circuit(provider), self._clock()
        state, probes = effective(circuit, now, self._settings)
        if state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and probes == 0):
            # An outcome of a call admitted before the circuit opened: it says nothing new.
            return state
        if state is CircuitState.HALF_OPEN:
            if ok:
                del self._circuits[provider]
                return CircuitState.CLOSED
            return self._open(circuit, now)
        bucket = bucket_of(now, self._settings)
        slot = bucket % BUCKETS
        index, calls, fails = circuit.slots.get(slot, (bucket, 0, 0))
        if index != bucket:
            calls, fails = 0, 0
        circuit.slots[slot] = (bucket, calls + 1, fails + (0 if ok else 1))
        if trips(*window_counts(circuit, bucket), self._settings):
            return self._open(circuit, now)
        return CircuitState.CLOSED

    @staticmethod
    def _open(circuit: Circuit, now: float) -> CircuitState:
        circuit.state, circuit.opened_at, circuit.probes = CircuitState.OPEN, now, 0
        return CircuitState.OPEN

    async def snapshot(self, provider: str) -> CircuitSnapshot:
        return snapshot_of(self._circuits.get(provider, Circuit()), self._clock(), self._settings)

    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]:
        now = self._clock()
        return {p: snapshot_of(self._circuits.get(p, Circuit()), now, self._settings) for p in providers}

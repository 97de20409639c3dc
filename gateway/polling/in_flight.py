"""How many jobs each provider account has in flight, for the cadence's budget floor: read from the shared
concurrency slots at most once per `refresh_s` per provider and process, so the count costs no call per poll."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.cadence import Cadence
from routing.gate import ProviderGate


class InFlightCounts:
    def __init__(self, gate: ProviderGate | None, *, clock: Callable[[], float], refresh_s: float = 1.0) -> None:
        self._gate = gate
        self._clock = clock
        self._refresh_s = refresh_s
        self._counts: dict[str, tuple[int, float]] = {}
        self._reading: dict[str, asyncio.Task[int]] = {}

    async def count(self, provider: str, cadence: Cadence) -> int:
        """The provider's in-flight jobs, possibly `refresh_s` old; 0 (no stretching) for an account without a
        status window or without a gate. Concurrent callers share one read."""
        if self._gate is None or cadence.status_calls_per_s is None:
            return 0
        cached = self._counts.get(provider)
        if cached is not None and self._clock() - cached[1] < self._refresh_s:
            return cached[0]
        reading = self._reading.get(provider)
        if reading is None:
            reading = asyncio.create_task(self._read(self._gate, provider))
            self._reading[provider] = reading
            reading.add_done_callback(lambda _: self._reading.pop(provider, None))
        return await asyncio.shield(reading)

    async def _read(self, gate: ProviderGate, provider: str) -> int:
        count = await gate.in_flight(provider)  # fails open to 0: the status window stays the hard guard
        self._counts[provider] = (count, self._clock())
        return count

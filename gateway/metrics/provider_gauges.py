"""Circuit state and headroom gauges per provider, read from the `ProviderGate` (shared in Redis) when scraped.

Prometheus collectors are synchronous, so the `/metrics` handler awaits `refresh()` before the exposition; one
read at a time, at most once per `refresh_s`, and a scrape waits at most `timeout_s` for it (then shows the last
values). The read is never cancelled half-way: it may be flushing headroom readings."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.metrics.labels import LabelGuard
from routing.gate import ProviderGate
from routing.headroom.tracker import HeadroomView
from routing.health.breakers import CircuitSnapshot, CircuitState

log = structlog.get_logger("gateway.metrics")

CIRCUIT_VALUES = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class ProviderGauges:
    def __init__(
        self,
        registry: CollectorRegistry,
        guard: LabelGuard,
        *,
        refresh_s: float,
        timeout_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._guard = guard
        self._refresh_s = refresh_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._gate: ProviderGate | None = None
        self._enabled: dict[str, bool] = {}
        self._reading: asyncio.Task[None] | None = None
        self._refreshed_at = -math.inf
        provider = ["provider"]
        self._circuit = _gauge(
            registry, "video_gateway_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", provider
        )
        self._calls = _gauge(
            registry, "video_gateway_circuit_window_calls", "Outcomes in the breaker's window.", provider
        )
        self._failures = _gauge(
            registry, "video_gateway_circuit_window_failures", "Failed outcomes in the breaker's window.", provider
        )
        self._enabled_gauge = _gauge(
            registry, "video_gateway_provider_enabled", "1 if the provider is enabled in the config.", provider
        )
        self._available = _gauge(
            registry, "video_gateway_headroom_available", "1 if a generate call may be made now.", provider
        )
        self._remaining = _gauge(
            registry,
            "video_gateway_headroom_window_remaining",
            "Calls left in a configured window.",
            ["provider", "scope"],
        )
        self._limit = _gauge(
            registry, "video_gateway_headroom_window_limit", "A configured window's limit.", ["provider", "scope"]
        )
        self._in_flight = _gauge(
            registry, "video_gateway_provider_in_flight_jobs", "Jobs holding a concurrency slot.", provider
        )
        self._max_in_flight = _gauge(
            registry, "video_gateway_provider_max_in_flight_jobs", "The configured slot cap.", provider
        )
        self._cooldown = _gauge(
            registry,
            "video_gateway_headroom_cooldown_seconds",
            "Seconds until a provider-reported cooldown ends (0: none).",
            provider,
        )
        self._balance = _gauge(
            registry, "video_gateway_provider_balance_usd", "The balance the provider last reported.", provider
        )
        self._stamp = _gauge(
            registry, "video_gateway_provider_state_refreshed_timestamp_seconds", "When these were last read.", []
        )
        self._refresh_failures = Counter(
            "video_gateway_provider_state_refresh_failures_total",
            "Reads of the shared circuit and headroom state that failed or timed out (the gauges kept old values).",
            registry=registry,
        )

    def watch(self, gate: ProviderGate, enabled: Mapping[str, bool]) -> None:
        """Read these providers from this gate from now on (the lifespan builds both)."""
        self._gate, self._enabled = gate, dict(enabled)

    async def refresh(self) -> None:
        if self._gate is None or time.monotonic() - self._refreshed_at < self._refresh_s:
            return
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read(self._gate))
            self._reading.add_done_callback(self._read_done)
        done, _ = await asyncio.wait({self._reading}, timeout=self._timeout_s)
        if not done:
            log.warning("provider_gauges_read_slow", timeout_s=self._timeout_s)

    async def close(self) -> None:
        if self._reading is not None and not self._reading.done():
            self._reading.cancel()
            await asyncio.gather(self._reading, return_exceptions=True)

    def _read_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self._refreshed_at = time.monotonic()
            self._stamp.set(time.time())
            return
        self._refresh_failures.inc()
        log.warning("provider_gauges_read_failed", error=type(error).__name__)

    async def _read(self, gate: ProviderGate) -> None:
        circuits = await gate.breakers.snapshots(set(self._enabled))
        for provider, enabled in self._enabled.items():
            self._set(provider, enabled, circuits[provider], await gate.headroom.snapshot(provider))

    def _set(self, provider: str, enabled: bool, circuit: CircuitSnapshot, headroom: HeadroomView) -> None:
        label = self._guard.provider(provider)
        self._circuit.labels(label).set(CIRCUIT_VALUES[circuit.state])
        self._calls.labels(label).set(circuit.calls)
        self._failures.labels(label).set(circuit.failures)
        self._enabled_gauge.labels(label).set(1 if enabled else 0)
        self._available.labels(label).set(1 if headroom.available else 0)
        for window in headroom.windows:
            self._remaining.labels(provider, window.scope).set(window.remaining)
            self._limit.labels(provider, window.scope).set(window.limit)
        self._in_flight.labels(label).set(headroom.in_flight)
        if headroom.max_in_flight is not None:
            self._max_in_flight.labels(label).set(headroom.max_in_flight)
        cooldown_s = 0.0 if headroom.cooldown_until is None else max(0.0, headroom.cooldown_until - self._clock())
        self._cooldown.labels(label).set(cooldown_s)
        balances = [v.reading.balance_micros for v in headroom.readings if v.reading.balance_micros is not None]
        if balances:
            self._balance.labels(label).set(balances[0] / 1_000_000)


def _gauge(registry: CollectorRegistry, name: str, documentation: str, labels: list[str]) -> Gauge:
    return Gauge(name, documentation, labels, registry=registry)

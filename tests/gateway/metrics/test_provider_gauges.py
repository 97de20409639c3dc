"""Provider gauges read from an in-memory gate: cooldowns, balance, slots and windows as the gate sees them; a
failed read keeps the last values and is counted; reads happen at most once per interval; a slow read does not
hold the scrape and is never cancelled half-way."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gateway.metrics.labels import LabelGuard
from gateway.metrics.registry import Metrics
from providers import contract
from routing.gate import ProviderGate
from routing.headroom.config import HeadroomConfig, WindowConfig
from routing.headroom.tracker import Headroom
from routing.health.breakers import (
    BreakerSettings,
    CircuitSnapshot,
    CircuitState,
    HealthUnavailable,
    MemoryCircuitBreakers,
)
from tests.gateway.metrics.conftest import registry_series, value

VIDGEN = {"provider": "vidgen"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class UnreachableBreakers(MemoryCircuitBreakers):
    """Breakers whose shared state cannot be read, as when Redis is down."""

    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]:
        raise HealthUnavailable("redis down")


class SlowBreakers(MemoryCircuitBreakers):
    """Breakers whose read waits until `release` is set."""

    def __init__(self, settings: BreakerSettings, *, clock: Clock) -> None:
        super().__init__(settings, clock=clock)
        self.release = asyncio.Event()

    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]:
        await self.release.wait()
        return await super().snapshots(providers)


def build(clock: Clock, *, refresh_s: float = 0, timeout_s: float = 2.0) -> tuple[Metrics, Headroom]:
    guard = LabelGuard(providers={"vidgen"}, models=(), teams=(), keys=())
    metrics = Metrics(guard, clock=clock, provider_refresh_s=refresh_s, provider_refresh_timeout_s=timeout_s)
    config = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=5, per_s=60),), max_in_flight=3)
    return metrics, Headroom.in_memory({"vidgen": config}, clock=clock)


def breakers(clock: Clock, kind: type[MemoryCircuitBreakers] = MemoryCircuitBreakers) -> MemoryCircuitBreakers:
    return kind(BreakerSettings(min_calls=1), clock=clock)


async def test_gauges_show_what_the_gate_sees() -> None:
    """A 429 with Retry-After 30 s, a balance reading, one slot held and one window unit spent, an open circuit."""
    clock = Clock()
    metrics, headroom = build(clock)
    gate = ProviderGate(headroom, breakers(clock))
    headroom.record(contract.CapacityReport(provider="vidgen", scope="generate", retry_after_s=30.0))
    headroom.record(contract.CapacityReport(provider="vidgen", scope="balance", balance_micros=12_500_000))
    assert await headroom.acquire_slot("vidgen", "video_1")
    assert await headroom.try_take("vidgen", "generate")
    await gate.breakers.record("vidgen", ok=False)
    clock.now += 10
    metrics.providers.watch(gate, {"vidgen": True})
    await metrics.providers.refresh()
    series = registry_series(metrics.registry)
    assert value(series, "video_gateway_headroom_cooldown_seconds", **VIDGEN) == 20
    assert value(series, "video_gateway_headroom_available", **VIDGEN) == 0
    assert value(series, "video_gateway_provider_balance_usd", **VIDGEN) == 12.5
    assert value(series, "video_gateway_provider_in_flight_jobs", **VIDGEN) == 1
    assert value(series, "video_gateway_provider_max_in_flight_jobs", **VIDGEN) == 3
    assert value(series, "video_gateway_headroom_window_remaining", **VIDGEN, scope="generate") == 4
    assert value(series, "video_gateway_circuit_state", **VIDGEN) == 2
    assert value(series, "video_gateway_provider_state_refreshed_timestamp_seconds") > 0


async def test_a_failed_read_keeps_the_last_values_and_is_counted() -> None:
    """After a good read, an unreachable store leaves the gauges as they were and counts one failure."""
    clock = Clock()
    metrics, headroom = build(clock)
    working = ProviderGate(headroom, breakers(clock))
    await working.breakers.record("vidgen", ok=False)
    metrics.providers.watch(working, {"vidgen": True})
    await metrics.providers.refresh()
    metrics.providers.watch(ProviderGate(headroom, breakers(clock, UnreachableBreakers)), {"vidgen": True})
    await metrics.providers.refresh()
    series = registry_series(metrics.registry)
    assert value(series, "video_gateway_circuit_state", **VIDGEN) == 2
    assert value(series, "video_gateway_provider_state_refresh_failures_total") == 1


async def test_reads_happen_at_most_once_per_interval() -> None:
    """Within `provider_refresh_s` a second scrape shows the first read, even though the circuit opened since."""
    clock = Clock()
    metrics, headroom = build(clock, refresh_s=3_600)
    gate = ProviderGate(headroom, breakers(clock))
    metrics.providers.watch(gate, {"vidgen": True})
    await metrics.providers.refresh()
    await gate.breakers.record("vidgen", ok=False)
    assert await gate.breakers.snapshot("vidgen") == CircuitSnapshot(
        state=CircuitState.OPEN, calls=1, failures=1, opened_at=clock.now, probes_in_flight=0
    )
    await metrics.providers.refresh()
    assert value(registry_series(metrics.registry), "video_gateway_circuit_state", **VIDGEN) == 0


async def test_a_slow_read_does_not_hold_the_scrape_and_finishes_later() -> None:
    """The scrape returns after its timeout with no circuit value yet; the read goes on and lands when it can."""
    clock = Clock()
    metrics, headroom = build(clock, timeout_s=0.05)
    slow = SlowBreakers(BreakerSettings(), clock=clock)
    metrics.providers.watch(ProviderGate(headroom, slow), {"vidgen": True})
    await metrics.providers.refresh()
    assert value(registry_series(metrics.registry), "video_gateway_provider_enabled") == 0
    slow.release.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if value(registry_series(metrics.registry), "video_gateway_provider_enabled", **VIDGEN) == 1:
            break
    assert value(registry_series(metrics.registry), "video_gateway_provider_enabled", **VIDGEN) == 1
    assert value(registry_series(metrics.registry), "video_gateway_provider_state_refresh_failures_total") == 0
    await metrics.providers.close()

"""Reading metrics as a scraper does: the exposition parsed into series (name and labels) and their values; and
a Metrics with a sample in every metric. The usage, webhook and end-to-end tests import these readers too."""

from __future__ import annotations

import time

import httpx
import msgspec
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics.labels import LabelGuard
from gateway.metrics.registry import Metrics
from gateway.schema.job import Usage, VideoJob
from providers import contract
from routing.gate import ProviderGate
from routing.headroom.config import HeadroomConfig, WindowConfig
from routing.headroom.tracker import Headroom
from routing.health.breakers import BreakerSettings, MemoryCircuitBreakers

Series = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> dict[Series, float]:
    samples: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def registry_series(registry: CollectorRegistry) -> dict[Series, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in registry.collect() for s in family.samples}


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[Series, float]:
    reply = await client.get("/metrics", headers=headers or {})
    assert reply.status_code == 200, reply.text
    return parse(reply.text)


def value(samples: dict[Series, float], name: str, **labels: str) -> float:
    """The sum over the series of `name` whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, series), v in samples.items() if n == name and wanted <= set(series))


async def every_metric() -> Metrics:
    """A Metrics with a sample in every metric it defines: each recorder called once, and the provider gauges read
    from an in-memory gate with a window, a slot cap and a balance reading."""
    guard = LabelGuard(providers={"vidgen"}, models={"scenex"}, teams={"team-a"}, keys={"key-a"})
    metrics = Metrics(guard, clock=time.time, provider_refresh_s=0)
    metrics.upstream_call("vidgen", "generate", "200", 0.2)
    metrics.upstream_error("vidgen", "status", "timeout")
    metrics.routed("vidgen", "scenex", "cheapest")
    metrics.failed_over("vidgen", "rate_limited")
    metrics.refused("all_attempts_failed")
    metrics.poll_lag("vidgen", 0.3)
    usage = Usage(video_seconds=5, cost_micros=100_000, cost_source="price_table")
    job = VideoJob(id="video_1", team="team-a", key_id="key-a", model="scenex", created_at=1.0, updated_at=2.0)
    await metrics.job_finished(msgspec.structs.replace(job, provider="vidgen", status="completed", usage=usage))
    money = {"team": "team-a", "key_id": "key-a", "provider": "vidgen", "model": "scenex"}
    metrics.settled(**money, status="completed", video_seconds=5, cost_micros=100_000)
    metrics.reservation(team="team-a", outcome="reserved")
    metrics.reserved(team="team-a", reserved_micros=1)
    metrics.budget(team="team-a", period="month", limit_micros=10, spent_micros=1)
    metrics.quota_refused(quota="budget", team="team-a")
    metrics.webhook_delivery("delivered")
    config = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=5, per_s=60),), max_in_flight=3)
    headroom = Headroom.in_memory({"vidgen": config})
    headroom.record(contract.CapacityReport(provider="vidgen", scope="balance", balance_micros=12_000_000))
    gate = ProviderGate(headroom, MemoryCircuitBreakers(BreakerSettings(), clock=time.time))
    metrics.providers.watch(gate, {"vidgen": True})
    await metrics.providers.refresh()
    return metrics

"""Reading metrics as a scraper does: the exposition parsed into series (name and labels) and their values."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

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

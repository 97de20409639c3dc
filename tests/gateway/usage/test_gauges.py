"""The budget gauges publish what the shared book holds: a team's monthly limit, spent and reserved."""

from __future__ import annotations

import time

from gateway.metrics.labels import LabelGuard
from gateway.metrics.registry import Metrics
from gateway.usage.budget import MemoryBudgetBook
from gateway.usage.gauges import BudgetGauges
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from tests.gateway.metrics.conftest import registry_series, value
from tests.gateway.usage.conftest import hold, record


async def test_limit_spent_and_reserved_are_published_per_team() -> None:
    now = time.time()
    book = MemoryBudgetBook()
    quotas = QuotaSettings(teams={"team-a": QuotaLimits(monthly_budget_usd=10.0)})
    allowance = quotas.for_team("team-a").allowance()
    assert (
        await book.reserve(hold("video_1", cost_micros=400_000, created_at=now), team=allowance, key=allowance) is None
    )
    assert (
        await book.reserve(hold("video_2", cost_micros=250_000, created_at=now), team=allowance, key=allowance) is None
    )
    assert await book.settle(record("video_1", cost_micros=500_000, created_at=now))
    guard = LabelGuard(providers={"vidgen"}, models={"scenex"}, teams={"team-a"}, keys={"key-a"})
    metrics = Metrics(guard, clock=time.time, provider_refresh_s=0)

    await BudgetGauges(book, lambda: quotas, metrics, clock=lambda: now).publish()

    series = registry_series(metrics.registry)
    assert value(series, "video_gateway_budget_limit_usd", team="team-a", period="month") == 10.0
    assert value(series, "video_gateway_budget_spent_usd", team="team-a", period="month") == 0.5
    assert value(series, "video_gateway_budget_reserved_usd", team="team-a") == 0.25

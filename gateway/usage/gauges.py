"""Budget gauges for Prometheus: each team's monthly limit, spent and reserved, read from the shared budget book
every `interval_s` (never on the request path). Per process; every replica publishes the same shared figures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from gateway.errors import StoreUnavailable
from gateway.metrics.registry import Metrics
from gateway.usage.budget import BudgetBook
from gateway.usage.quota_settings import QuotaSettings
from gateway.usage.records import month_of
from gateway.usage.reports import budget_view

log = structlog.get_logger("gateway.usage.gauges")


class BudgetGauges:
    def __init__(
        self,
        book: BudgetBook,
        quotas: Callable[[], QuotaSettings],
        metrics: Metrics,
        *,
        clock: Callable[[], float],
        interval_s: float = 15.0,
    ) -> None:
        self._book = book
        self._quotas = quotas
        self._metrics = metrics
        self._clock = clock
        self._interval_s = interval_s
        self._stopping = asyncio.Event()

    async def publish(self) -> None:
        month = month_of(self._clock())
        view = await budget_view(self._book, self._quotas(), month=month)
        for row in view.data:
            if row.scope != "team":
                continue
            self._metrics.reserved(team=row.name, reserved_micros=row.reserved_micros)
            if row.monthly_budget_micros is not None:
                self._metrics.budget(
                    team=row.name, period="month", limit_micros=row.monthly_budget_micros, spent_micros=row.spent_micros
                )

    async def run(self) -> None:
        """Publish until `stop()`; a store outage skips a round (cancelling a Redis call half-way is unsafe)."""
        while not self._stopping.is_set():
            try:
                await self.publish()
            except StoreUnavailable:
                log.warning("budget_gauges_unavailable")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval_s)

    def stop(self) -> None:
        self._stopping.set()

"""The ledger sweep: every `sweep_interval_s` each replica trims the usage ledger and the old exactly-once
markers (`BudgetBook.trim`); the rest of the retention (jobs, webhook deliveries, idempotency keys) expires by
itself. Trimming is idempotent, so replicas sweeping at once only repeat each other's work."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from gateway.errors import StoreUnavailable
from gateway.store.retention import RetentionSettings
from gateway.usage.budget import BudgetBook

log = structlog.get_logger("gateway.usage.retention")


class LedgerSweep:
    def __init__(self, book: BudgetBook, settings: RetentionSettings, *, clock: Callable[[], float]) -> None:
        self._book = book
        self._settings = settings
        self._clock = clock
        self._stopping = asyncio.Event()

    async def sweep(self) -> None:
        await self._book.trim(self._clock(), keep_s=self._settings.ledger_s)

    async def run(self) -> None:
        """Sweep until `stop()`; a store outage skips a round (cancelling a Redis call half-way is unsafe)."""
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except StoreUnavailable:
                log.warning("ledger_sweep_unavailable")
            except Exception:
                log.exception("ledger_sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._settings.sweep_interval_s)

    def stop(self) -> None:
        self._stopping.set()

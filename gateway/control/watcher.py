"""A replica's side of the control plane: applies every new document version it learns of, from the change
notification or from a version check every `check_s` (so a missed notification leaves it stale that long at
most), says so with an immediate heartbeat, and writes key last-used times in batches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping

import msgspec
import structlog

from gateway.control.documents import Document, Kind, decode
from gateway.control.store import ControlStore
from gateway.errors import StoreUnavailable
from routing.rules import RulesError

log = structlog.get_logger("gateway.control")

Apply = Callable[[Document], None]


class ControlWatcher:
    def __init__(
        self,
        store: ControlStore,
        *,
        apply: Mapping[Kind, Apply],
        check_s: float,
        clock: Callable[[], float],
        on_applied: Callable[[], Awaitable[None]],
        take_used: Callable[[], dict[str, float]],
        flush_used_s: float,
    ) -> None:
        self._store = store
        self._apply = apply
        self._check_s = check_s
        self._clock = clock
        self._on_applied = on_applied
        self._take_used = take_used
        self._flush_used_s = flush_used_s
        self._wake = asyncio.Event()
        self._rejected: dict[Kind, int] = {}
        self.applied: dict[str, int] = {}
        self.applied_at: dict[str, float] = {}

    async def sync(self) -> bool:
        """Apply every document whose version moved; True when one did. A document this replica cannot use (its
        config lacks a provider the table names) is logged once and the one in force stays."""
        changed = False
        for kind, version in (await self._store.versions()).items():
            if version in (self.applied.get(kind), self._rejected.get(kind)):
                continue
            revision = await self._store.current(kind)
            if revision is None:
                continue
            try:
                self._apply[kind](decode(kind, revision.document))
            except (RulesError, msgspec.ValidationError) as exc:
                log.error("control_document_rejected", kind=kind, version=revision.version, error=str(exc))
                self._rejected[kind] = revision.version
                continue
            self.applied[kind], self.applied_at[kind] = revision.version, self._clock()
            log.info("control_document_applied", kind=kind, version=revision.version, actor=revision.actor)
            changed = True
        return changed

    async def catch_up(self) -> None:
        """Sync now and, when something was applied, tell the others (a heartbeat carrying the versions)."""
        if await self.sync():
            await self._on_applied()

    async def run(self) -> None:
        """Until cancelled: wake on a notification or every `check_s`, sync, and flush last-used times."""
        listener = asyncio.create_task(self._listen())
        flushed_at = self._clock()
        try:
            while True:
                # Not `wait_for`: on Python 3.11 it can swallow a cancellation that lands as the event is set,
                # and this loop would then outlive the shutdown that cancelled it.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._check_s):
                        await self._wake.wait()
                self._wake.clear()
                try:
                    await self.catch_up()
                    if self._clock() - flushed_at >= self._flush_used_s:
                        flushed_at = self._clock()
                        await self.flush_used()
                except StoreUnavailable:
                    log.warning("control_sync_failed")
        finally:
            listener.cancel()
            await asyncio.wait({listener}, timeout=2.0)  # the listener's own close is bounded too

    async def flush_used(self) -> None:
        await self._store.touch(self._take_used())

    async def _listen(self) -> None:
        """Notifications only hurry the timer along: any failure here leaves the timer, and a retry later."""
        while True:
            try:
                await self._store.listen(self._wake.set)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped subscription of any kind: the timer covers it
                log.warning("control_notifications_lost", error=type(exc).__name__)
            await asyncio.sleep(self._check_s * 4)

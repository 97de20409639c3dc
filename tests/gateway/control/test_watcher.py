"""The watcher keeps a replica current without notifications (the version check on its timer), and a document
this replica cannot use leaves the one in force."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec

from gateway.control.documents import Document, Kind
from gateway.control.plane import Change, ControlPlane
from gateway.control.store import MemoryControlStore, Wake
from gateway.control.watcher import ControlWatcher
from routing.rules import RoutingRules, RulesHolder
from tests.conftest import eventually


class DeafStore(MemoryControlStore):
    """A store whose notifications never arrive."""

    async def listen(self, wake: Wake) -> None:
        await asyncio.Event().wait()


def _watcher(store: MemoryControlStore, applied: list[Document], *, check_s: float = 0.05) -> ControlWatcher:
    rules = RulesHolder(known_providers={"vidgen"}, known_models={"scenex"})

    def routing(document: Document) -> None:
        assert isinstance(document, RoutingRules)
        rules.install(document, source="test")
        applied.append(document)

    async def beat() -> None:
        return None

    apply: dict[Kind, object] = {"routing": routing}
    return ControlWatcher(
        store,
        apply=apply,  # type: ignore[arg-type]
        check_s=check_s,
        clock=lambda: 0.0,
        on_applied=beat,
        take_used=dict,
        flush_used_s=60,
    )


async def _seeded(store: MemoryControlStore) -> tuple[ControlPlane, ControlWatcher, list[Document]]:
    """A plane seeded with the default routing table, and a watcher recording what it applies."""
    plane = ControlPlane(store, clock=lambda: 0.0)
    await plane.seed("routing", RoutingRules(), actor="test")
    applied: list[Document] = []
    return plane, _watcher(store, applied), applied


async def test_the_timer_applies_a_change_whose_notification_was_lost() -> None:
    """With no notification at all, the watcher still applies version 2 from its version check."""
    plane, watcher, applied = await _seeded(DeafStore())
    running = asyncio.create_task(watcher.run())
    try:
        await plane.write(
            "routing", Change(RoutingRules(default_strategy="fastest")), expected=1, actor="t", action="put"
        )

        async def on_v2() -> bool:
            return watcher.applied.get("routing") == 2

        await eventually(on_v2)
        assert applied[-1] == RoutingRules(default_strategy="fastest")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_table_naming_an_unknown_provider_is_not_applied() -> None:
    """A replica whose config lacks the provider a table allows keeps its rules and reports the old version."""
    plane, watcher, applied = await _seeded(MemoryControlStore())
    await watcher.sync()
    bad = {"rules": [{"name": "x", "allow": ["nanogpt"]}]}
    await plane.write("routing", Change(msgspec.convert(bad, RoutingRules)), expected=1, actor="t", action="put")
    assert await watcher.sync() is False
    assert watcher.applied == {"routing": 1}
    assert len(applied) == 1


class HandStore(MemoryControlStore):
    """A store whose notifications the test sends itself, through the wake the watcher listens with."""

    def __init__(self) -> None:
        super().__init__()
        self.wake: Wake | None = None

    async def listen(self, wake: Wake) -> None:
        self.wake = wake
        await asyncio.Event().wait()


async def test_a_shutdown_that_cancels_it_as_a_notification_arrives_still_stops_it() -> None:
    """The replica's shutdown cancels the watcher. A notification waking it in the same loop turn must not swallow
    that cancellation (asyncio.wait_for on Python 3.11 returned the wake instead), or the shutdown waits forever."""
    store = HandStore()
    watcher = _watcher(store, [], check_s=60.0)

    async def listening() -> bool:
        return store.wake is not None

    task = asyncio.create_task(watcher.run())
    await eventually(listening)
    await asyncio.sleep(0.01)  # parked on its wake (its timer is a minute)

    assert store.wake is not None
    store.wake()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)

    assert task in done
    assert task.cancelled()

"""The control store contract, run against the memory and the Redis implementation: compare-and-set on the
version, bounded history, the audit trail and its filters, change notifications, last-used times."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.control.store import AuditEntry, ControlStore, MemoryControlStore, Revision, StaleVersion
from gateway.control.store_redis import RedisControlStore
from tests.conftest import eventually

T0 = 1_750_000_000.0


@pytest.fixture(params=["memory", "redis"])
async def control(
    request: pytest.FixtureRequest, redis_prefix: str, redis_client: aioredis.Redis
) -> AsyncIterator[ControlStore]:
    if request.param == "memory":
        yield MemoryControlStore(history=3, audit_entries=10)
    else:
        yield RedisControlStore(redis_client, prefix=redis_prefix, history=3, audit_entries=10)


def _revision(version: int, *, kind: str = "routing", at: float = T0) -> Revision:
    document = msgspec.json.encode({"default_strategy": f"v{version}"})
    return Revision(kind=kind, version=version, document=document, actor="ops", at=at + version, action="put")  # type: ignore[arg-type]


def _audit(revision: Revision) -> AuditEntry:
    return AuditEntry(
        kind=revision.kind,
        version=revision.version,
        action="put",
        actor=revision.actor,
        at=revision.at,
        after=msgspec.Raw(revision.document),
    )


async def _commit(control: ControlStore, revision: Revision) -> None:
    await control.commit(revision, _audit(revision))


async def test_a_commit_moves_the_version_by_exactly_one(control: ControlStore) -> None:
    """Version 1 then 2 are taken; a second writer of 2 gets StaleVersion naming 2 and changes nothing."""
    await _commit(control, _revision(1))
    await _commit(control, _revision(2))
    with pytest.raises(StaleVersion) as stale:
        await _commit(control, msgspec.structs.replace(_revision(2), actor="late"))
    assert stale.value.current == 2
    current = await control.current("routing")
    assert current is not None
    assert (current.version, current.actor) == (2, "ops")
    assert await control.versions() == {"routing": 2}
    assert len(await control.audit(kind=None, since=0, until=float("inf"), limit=100)) == 2


async def test_a_first_write_must_name_version_one(control: ControlStore) -> None:
    """With nothing written, only version 1 commits; the store reports version 0 for a later one."""
    with pytest.raises(StaleVersion) as stale:
        await _commit(control, _revision(3))
    assert stale.value.current == 0
    assert await control.current("routing") is None
    assert await control.versions() == {}


async def test_history_keeps_the_newest_versions_only(control: ControlStore) -> None:
    """With a history of 3, versions 3, 4 and 5 are kept after five writes, newest first; 2 is gone."""
    for version in range(1, 6):
        await _commit(control, _revision(version))
    assert [r.version for r in await control.history("routing")] == [5, 4, 3]
    assert await control.revision("routing", 2) is None
    kept = await control.revision("routing", 3)
    assert kept is not None
    assert msgspec.json.decode(kept.document) == {"default_strategy": "v3"}


async def test_audit_filters_by_kind_and_time_newest_first(control: ControlStore) -> None:
    """Entries come newest first, only of the asked kind, within [since, until), at most `limit`."""
    for version in range(1, 4):
        await _commit(control, _revision(version))
    await _commit(control, _revision(1, kind="quotas", at=T0 + 10))
    everything = await control.audit(kind=None, since=0, until=float("inf"), limit=100)
    assert [(e.kind, e.version) for e in everything] == [("quotas", 1), ("routing", 3), ("routing", 2), ("routing", 1)]
    assert [e.version for e in await control.audit(kind="routing", since=T0 + 2, until=T0 + 3, limit=100)] == [2]
    assert [e.kind for e in await control.audit(kind="quotas", since=0, until=float("inf"), limit=100)] == ["quotas"]
    assert len(await control.audit(kind=None, since=0, until=float("inf"), limit=2)) == 2


async def test_audit_keeps_a_bounded_number_of_entries(control: ControlStore) -> None:
    """With room for 10 entries, twelve writes leave the ten newest."""
    for version in range(1, 13):
        await _commit(control, _revision(version))
    kept = await control.audit(kind=None, since=0, until=float("inf"), limit=100)
    assert [e.version for e in kept] == list(range(12, 2, -1))


async def test_a_commit_wakes_every_listener(control: ControlStore) -> None:
    """Each listener is called after a commit made elsewhere."""
    woken: list[int] = []
    listeners = [asyncio.create_task(control.listen(lambda i=i: woken.append(i))) for i in range(2)]
    try:
        await asyncio.sleep(0.1)  # the Redis subscription is made in the listener's task
        await _commit(control, _revision(1))

        async def both() -> bool:
            return sorted(set(woken)) == [0, 1]

        await eventually(both)
    finally:
        for listener in listeners:
            listener.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)


async def test_last_used_keeps_the_latest_time(control: ControlStore) -> None:
    """Two batches: a later time replaces an earlier one, an earlier one leaves the later in place."""
    await control.touch({"key-a": T0 + 5, "key-b": T0})
    await control.touch({"key-a": T0 + 1, "key-b": T0 + 9})
    assert await control.last_used() == {"key-a": T0 + 5, "key-b": T0 + 9}

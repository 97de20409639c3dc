"""The versioned document store on Redis: one hash of current versions, a hash of kept revisions per document,
audit sorted sets (by time: all, and per document) and a pub/sub channel. Every key shares the `{control}` hash
tag, so the commit script runs on one node of a Redis Cluster too."""

from __future__ import annotations

import asyncio
import contextlib
from typing import cast

import msgspec
import redis.asyncio as aioredis

from gateway.control.documents import KINDS, Kind
from gateway.control.store import AuditEntry, Revision, StaleVersion, Wake
from gateway.store.connect import RedisClient
from gateway.store.redis import store_errors

# KEYS: versions, history of the kind, audit (all), audit of the kind.
# ARGV: kind, new version, revision, audit entry, history kept, audit time, audit kept, channel.
# The version moves only from exactly one below: a stale writer changes nothing and learns the current version.
_COMMIT = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local version = tonumber(ARGV[2])
if version ~= current + 1 then return current end
redis.call('HSET', KEYS[1], ARGV[1], version)
redis.call('HSET', KEYS[2], version, ARGV[3])
local kept = tonumber(ARGV[5])
if version > kept then redis.call('HDEL', KEYS[2], version - kept) end
local audit_kept = tonumber(ARGV[7])
for i = 3, 4 do
  redis.call('ZADD', KEYS[i], ARGV[6], ARGV[4])
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -audit_kept - 1)
end
redis.call('PUBLISH', ARGV[8], ARGV[1] .. ':' .. version)
return -1
"""

# KEYS: last-used hash. ARGV: key id, time, key id, time, ... A later time wins whichever replica wrote first.
_TOUCH = """
for i = 1, #ARGV, 2 do
  local seen = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > seen then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
"""


class RedisControlStore:
    def __init__(self, client: RedisClient, *, prefix: str, history: int = 50, audit_entries: int = 10_000) -> None:
        self._redis = client
        self._base = f"{prefix}{{control}}:"
        self._channel = f"{prefix}control:changed"
        self._history_limit = history
        self._audit_limit = audit_entries
        self._commit = client.register_script(_COMMIT)
        self._touch = client.register_script(_TOUCH)

    @store_errors
    async def versions(self) -> dict[Kind, int]:
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(f"{self._base}versions"))
        by_name = {name.decode(): int(version) for name, version in raw.items()}
        return {kind: by_name[kind] for kind in KINDS if kind in by_name}

    @store_errors
    async def current(self, kind: Kind) -> Revision | None:
        version = await self._redis.hget(f"{self._base}versions", kind)
        return None if version is None else await self.revision(kind, int(version))

    @store_errors
    async def revision(self, kind: Kind, version: int) -> Revision | None:
        raw = await self._redis.hget(f"{self._base}history:{kind}", str(version))
        return None if raw is None else msgspec.json.decode(raw, type=Revision)

    @store_errors
    async def history(self, kind: Kind) -> list[Revision]:
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(f"{self._base}history:{kind}"))
        revisions = [msgspec.json.decode(value, type=Revision) for value in raw.values()]
        return sorted(revisions, key=lambda revision: revision.version, reverse=True)

    @store_errors
    async def commit(self, revision: Revision, audit: AuditEntry) -> None:
        keys = [
            f"{self._base}versions",
            f"{self._base}history:{revision.kind}",
            f"{self._base}audit",
            f"{self._base}audit:{revision.kind}",
        ]
        args = [
            revision.kind,
            revision.version,
            msgspec.json.encode(revision),
            msgspec.json.encode(audit),
            self._history_limit,
            repr(audit.at),
            self._audit_limit,
            self._channel,
        ]
        current = int(await self._commit(keys=keys, args=args))
        if current >= 0:
            raise StaleVersion(revision.kind, current)

    @store_errors
    async def audit(self, *, kind: Kind | None, since: float, until: float, limit: int) -> list[AuditEntry]:
        key = f"{self._base}audit" if kind is None else f"{self._base}audit:{kind}"
        high = "+inf" if until == float("inf") else f"({until!r}"
        raw = await self._redis.zrevrangebyscore(key, high, repr(since), start=0, num=limit)
        return [msgspec.json.decode(cast(bytes, entry), type=AuditEntry) for entry in raw]

    async def listen(self, wake: Wake) -> None:
        if not isinstance(self._redis, aioredis.Redis):
            await asyncio.Event().wait()  # a cluster client: the watchers' timer alone keeps replicas current
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            async for message in pubsub.listen():
                if message["type"] == "message":
                    wake()
        finally:
            # Bounded: a stop must never wait on a subscription connection that stopped answering.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), timeout=1.0)  # type: ignore[no-untyped-call]

    @store_errors
    async def touch(self, last_used: dict[str, float]) -> None:
        if last_used:
            args = [part for key_id, at in last_used.items() for part in (key_id, repr(at))]
            await self._touch(keys=[f"{self._base}last-used"], args=args)

    @store_errors
    async def last_used(self) -> dict[str, float]:
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(f"{self._base}last-used"))
        return {key_id.decode(): float(at) for key_id, at in raw.items()}

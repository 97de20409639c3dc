"""Which gateway replicas are alive: each one beats every few seconds, and a beat lapses after its TTL. The poller
asks before it fails a still-submitting record as one whose replica was lost; ops list the live ones with the
control-plane versions each has applied. Memory (one process) and Redis."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Protocol, cast

import msgspec

from gateway.store.connect import RedisClient
from gateway.store.redis import store_errors


def new_replica_id() -> str:
    """Host and process for ops to read, and a random tail so a restarted process with a reused pid is another."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class ReplicaStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What a beat says: who, since when, until when it counts as alive, and the version of each control-plane
    document it has applied (with when it applied it), as unix seconds."""

    id: str
    started_at: float
    beat_at: float
    until: float
    applied: dict[str, int] = {}
    applied_at: dict[str, float] = {}


class Replicas(Protocol):
    async def beat(self, status: ReplicaStatus) -> None:
        """`status.id` is alive until `status.until`."""
        ...

    async def alive(self, replica: str) -> bool: ...

    async def live(self) -> list[ReplicaStatus]:
        """Every replica whose last beat has not lapsed, by id."""
        ...


class MemoryReplicas:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._beats: dict[str, ReplicaStatus] = {}

    async def beat(self, status: ReplicaStatus) -> None:
        self._beats[status.id] = status

    async def alive(self, replica: str) -> bool:
        beat = self._beats.get(replica)
        return beat is not None and beat.until > self._clock()

    async def live(self) -> list[ReplicaStatus]:
        now = self._clock()
        return [beat for _, beat in sorted(self._beats.items()) if beat.until > now]


class RedisReplicas:
    """`replica:{id}` keys under the store's prefix, each expiring with its beat, and the `replicas` hash of the
    last status of each (lapsed entries are dropped when listed)."""

    def __init__(self, client: RedisClient, *, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock

    @store_errors
    async def beat(self, status: ReplicaStatus) -> None:
        ttl_ms = max(1, int((status.until - status.beat_at) * 1000))
        await self._redis.set(f"{self._prefix}replica:{status.id}", b"1", px=ttl_ms)
        await self._redis.hset(f"{self._prefix}replicas", status.id, msgspec.json.encode(status))

    @store_errors
    async def alive(self, replica: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}replica:{replica}"))

    @store_errors
    async def live(self) -> list[ReplicaStatus]:
        raw = cast(dict[bytes, bytes], await self._redis.hgetall(f"{self._prefix}replicas"))
        now = self._clock()
        beats = [msgspec.json.decode(value, type=ReplicaStatus) for value in raw.values()]
        lapsed = [beat.id for beat in beats if beat.until <= now]
        if lapsed:
            await self._redis.hdel(f"{self._prefix}replicas", *lapsed)
        return sorted((beat for beat in beats if beat.until > now), key=lambda beat: beat.id)

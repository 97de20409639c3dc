"""Which gateway replicas are alive: each one beats every few seconds, and a beat lapses after its TTL. The poller
asks before it fails a still-submitting record as one whose replica was lost. Memory (one process) and Redis."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Protocol

from gateway.store.connect import RedisClient
from gateway.store.redis import store_errors


def new_replica_id() -> str:
    """Host and process for ops to read, and a random tail so a restarted process with a reused pid is another."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Replicas(Protocol):
    async def beat(self, replica: str, *, ttl_s: float) -> None:
        """`replica` is alive for `ttl_s` from now."""
        ...

    async def alive(self, replica: str) -> bool: ...


class MemoryReplicas:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}

    async def beat(self, replica: str, *, ttl_s: float) -> None:
        self._until[replica] = self._clock() + ttl_s

    async def alive(self, replica: str) -> bool:
        return self._until.get(replica, 0.0) > self._clock()


class RedisReplicas:
    """`replica:{id}` keys under the store's prefix, each expiring with its beat."""

    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    @store_errors
    async def beat(self, replica: str, *, ttl_s: float) -> None:
        await self._redis.set(f"{self._prefix}replica:{replica}", b"1", px=max(1, int(ttl_s * 1000)))

    @store_errors
    async def alive(self, replica: str) -> bool:
        return bool(await self._redis.exists(f"{self._prefix}replica:{replica}"))

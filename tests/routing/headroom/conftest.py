"""Shared by the headroom tests: a backend that hands out "replicas" — Headroom instances over one shared state
(one MemoryStorage + MemoryHeadroomStore, or one Redis prefix with a client each) — and a config shorthand."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import redis.asyncio as aioredis
from limits.aio.storage import MemoryStorage

from routing.headroom.config import HeadroomConfig, WindowConfig
from routing.headroom.store import MemoryHeadroomStore
from routing.headroom.tracker import Headroom
from tests.conftest import REDIS_URL, WALL_START, FakeClock

T0 = WALL_START  # where every FakeClock() starts


class Backend:
    def __init__(self, kind: str, prefix: str) -> None:
        self.kind = kind
        self._prefix = prefix
        self._windows = MemoryStorage()
        self._store = MemoryHeadroomStore()
        self._replicas: list[Headroom] = []
        self._clients: list[aioredis.Redis] = []

    def replica(self, configs: Mapping[str, HeadroomConfig], clock: FakeClock) -> Headroom:
        """Another gateway process: its own Headroom (and Redis client), the same shared state."""
        if self.kind == "memory":
            headroom = Headroom(configs, windows=self._windows, store=self._store, clock=clock)
        else:
            client = aioredis.Redis.from_url(REDIS_URL)
            self._clients.append(client)
            headroom = Headroom.on_redis(configs, client, prefix=self._prefix, clock=clock)
        self._replicas.append(headroom)
        return headroom

    async def close(self) -> None:
        for headroom in self._replicas:
            await headroom.close()
        for client in self._clients:
            await client.aclose()


@contextlib.asynccontextmanager
async def open_backend(kind: str, prefix: str) -> AsyncIterator[Backend]:
    shared = Backend(kind, prefix)
    try:
        yield shared
    finally:
        await shared.close()


def config(*windows: tuple[str, int, int], **options: Any) -> HeadroomConfig:
    """`config(("generate", 5, 3600), max_in_flight=2)`: windows as (scope, limit, per_s)."""
    return HeadroomConfig(windows=tuple(WindowConfig(scope=s, limit=n, per_s=p) for s, n, p in windows), **options)

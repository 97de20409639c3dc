"""Shared by the headroom tests: a backend that hands out "replicas" — Headroom instances over one shared state
(one MemoryStorage + MemoryHeadroomStore, or one Redis prefix with a client each, on one Redis or the session's
Redis Cluster) — as the `backend` fixture of every headroom suite, and a config shorthand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage

from gateway.store.connect import RedisClient, redis_client, windows_storage
from routing.headroom.config import HeadroomConfig, WindowConfig
from routing.headroom.store import MemoryHeadroomStore
from routing.headroom.tracker import Headroom
from tests.conftest import ON_CLUSTER, REDIS_URL, WALL_START, FakeClock, backend_url

T0 = WALL_START  # where every FakeClock() starts


class Backend:
    def __init__(self, kind: str, prefix: str, *, url: str = REDIS_URL) -> None:
        self.kind = kind
        self._prefix = prefix
        self._url = url
        self._windows = MemoryStorage()
        self._store = MemoryHeadroomStore()
        self._replicas: list[Headroom] = []
        self._clients: list[RedisClient] = []

    def replica(self, configs: Mapping[str, HeadroomConfig], clock: FakeClock) -> Headroom:
        """Another gateway process: its own Headroom (and Redis client), the same shared state."""
        if self.kind == "memory":
            headroom = Headroom(configs, windows=self._windows, store=self._store, clock=clock)
        else:
            client = redis_client(self._url)
            self._clients.append(client)
            windows = windows_storage(client, key_prefix=f"{self._prefix}headroom")
            headroom = Headroom.on_redis(configs, client, windows=windows, prefix=self._prefix, clock=clock)
        self._replicas.append(headroom)
        return headroom

    async def close(self) -> None:
        for headroom in self._replicas:
            await headroom.close()
        for client in self._clients:
            await client.aclose()


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def backend(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Backend]:
    shared = Backend(request.param, redis_prefix, url=backend_url(request))
    try:
        yield shared
    finally:
        await shared.close()


def config(*windows: tuple[str, int, int], **options: Any) -> HeadroomConfig:
    """`config(("generate", 5, 3600), max_in_flight=2)`: windows as (scope, limit, per_s)."""
    return HeadroomConfig(windows=tuple(WindowConfig(scope=s, limit=n, per_s=p) for s, n, p in windows), **options)

"""Coalesces concurrent single-key reads into one MGET: under load, one round trip and one pass through the
Redis client serve every read that arrived in the same event-loop turn (auto-pipelining).

On a Redis Cluster an MGET must name keys of one slot: there `mget` splits the keys by slot and sends one MGET
per slot, pipelined per node (redis-py's `mget_nonatomic`); the reads are independent, so atomicity across them
was never needed."""

from __future__ import annotations

import asyncio
from typing import cast

from redis.asyncio.cluster import RedisCluster

from gateway.store.connect import RedisClient


async def mget(client: RedisClient, keys: list[str]) -> list[bytes | None]:
    """The values of `keys` in order (None where missing), on one node or across a cluster's slots."""
    # The client is made without decode_responses, so values are bytes.
    if isinstance(client, RedisCluster):
        return cast(list[bytes | None], await client.mget_nonatomic(keys))
    return cast(list[bytes | None], await client.mget(keys))


class BatchedReader:
    def __init__(self, client: RedisClient, *, max_batch: int = 512) -> None:
        self._redis = client
        self._max_batch = max_batch
        self._pending: dict[str, list[asyncio.Future[bytes | None]]] = {}
        self._flush_scheduled = False
        self._inflight: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> bytes | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes | None] = loop.create_future()
        self._pending.setdefault(key, []).append(future)
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        task = asyncio.get_running_loop().create_task(self._fetch(batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _fetch(self, batch: dict[str, list[asyncio.Future[bytes | None]]]) -> None:
        try:
            values = await mget(self._redis, list(batch))
        except BaseException as exc:  # every waiter sees the failure (or the cancellation) of its batch
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for futures, value in zip(batch.values(), values, strict=True):
            for future in futures:
                if not future.done():
                    future.set_result(value)

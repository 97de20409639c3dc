"""Coalesces concurrent Redis reads made within two event-loop turns into one round trip (auto-pipelining): under
load, one pass through the Redis client serves every call that arrived together.

- `BatchedReader`: single-key reads become one MGET.
- `BatchedScript` (from routing/batching.py, where the collecting itself lives, for routing's state too): calls of
  Lua scripts (the poller's compare-and-set writes, a create's job and budget scripts) become one pipeline: every
  `BatchedScript` of one client shares it (`ScriptPipeline`), so a write and a budget-hold update started together
  cost one round trip.

On a Redis Cluster an MGET must name keys of one slot: there `mget` splits the keys by slot and sends one MGET
per slot, pipelined per node (redis-py's `mget_nonatomic`); the reads are independent, so atomicity across them
was never needed."""

from __future__ import annotations

from typing import cast

from redis.asyncio.cluster import RedisCluster

from gateway.store.connect import RedisClient
from routing.batching import BatchedScript, Coalescer, ScriptCall, ScriptPipeline
from routing.round_trip import send_commands

__all__ = ["BatchedReader", "BatchedScript", "ScriptCall", "ScriptPipeline", "mget"]


async def mget(client: RedisClient, keys: list[str]) -> list[bytes | None]:
    """The values of `keys` in order (None where missing), on one node or across a cluster's slots."""
    # The client is made without decode_responses, so values are bytes.
    if isinstance(client, RedisCluster):
        return cast(list[bytes | None], await client.mget_nonatomic(keys))
    (reply,) = await send_commands(client, [("MGET", *keys)])
    if isinstance(reply, Exception):
        raise reply
    return cast(list[bytes | None], reply)


class BatchedReader(Coalescer[str, "bytes | None"]):
    def __init__(self, client: RedisClient, *, max_batch: int = 512) -> None:
        super().__init__(max_batch=max_batch)
        self._redis = client

    async def get(self, key: str) -> bytes | None:
        return await self._call(key)

    async def _run(self, items: list[str]) -> list[bytes | None]:
        return await mget(self._redis, items)

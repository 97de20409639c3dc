"""Coalesces concurrent Redis calls made in the same event-loop turn into one round trip (auto-pipelining): under
load, one pass through the Redis client serves every call that arrived together.

- `BatchedReader`: single-key reads become one MGET.
- `BatchedScript`: calls of Lua scripts (the poller's compare-and-set writes, a create's job and budget scripts)
  become one pipeline: every `BatchedScript` of one client shares it (`ScriptPipeline`), so a write and a
  budget-hold update started together cost one round trip.

On a Redis Cluster an MGET must name keys of one slot: there `mget` splits the keys by slot and sends one MGET
per slot, pipelined per node (redis-py's `mget_nonatomic`); the reads are independent, so atomicity across them
was never needed. Script calls are batched on a single node only; on a cluster each goes on its own, as each
script already names the keys of one slot."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Generic, TypeVar, cast

import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from gateway.store.connect import RedisClient

In = TypeVar("In")
Out = TypeVar("Out")
ScriptCall = tuple[Sequence[str], Sequence[str | bytes | int]]
"""(keys, args) of one script call."""


async def mget(client: RedisClient, keys: list[str]) -> list[bytes | None]:
    """The values of `keys` in order (None where missing), on one node or across a cluster's slots."""
    # The client is made without decode_responses, so values are bytes.
    if isinstance(client, RedisCluster):
        return cast(list[bytes | None], await client.mget_nonatomic(keys))
    return cast(list[bytes | None], await client.mget(keys))


class _Coalescer(Generic[In, Out]):
    """Collects the calls of one event-loop turn (at most `max_batch`) and runs them with one `_run`; each caller
    gets its own result, its own failure (an exception `_run` returns in its place), or the batch's failure."""

    def __init__(self, *, max_batch: int) -> None:
        self._max_batch = max_batch
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._flush_scheduled = False
        self._inflight: set[asyncio.Task[None]] = set()

    async def _call(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def _run(self, items: list[In]) -> list[Out]:
        raise NotImplementedError

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._settle(batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _settle(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
        except BaseException as exc:  # every waiter sees the failure (or the cancellation) of its batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


class BatchedReader(_Coalescer[str, "bytes | None"]):
    def __init__(self, client: RedisClient, *, max_batch: int = 512) -> None:
        super().__init__(max_batch=max_batch)
        self._redis = client

    async def get(self, key: str) -> bytes | None:
        return await self._call(key)

    async def _run(self, items: list[str]) -> list[bytes | None]:
        return await mget(self._redis, items)


class ScriptPipeline(_Coalescer[tuple[AsyncScript, ScriptCall], Any]):
    """The script calls of one single-node client made in one event-loop turn, whichever script each runs, sent as
    one pipeline (not a transaction: each call is atomic on its own, and succeeds or fails on its own, as it would
    alone). A call the server answers with NOSCRIPT (its script cache was flushed) is run again through redis-py's
    `Script`, which loads the script first."""

    def __init__(self, client: RedisClient, *, max_batch: int = 512) -> None:
        super().__init__(max_batch=max_batch)
        self._redis = client

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        return await self._call((script, (keys, args)))

    async def _run(self, items: list[tuple[AsyncScript, ScriptCall]]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for script, (keys, args) in items:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
        for n, result in enumerate(results):
            if isinstance(result, redis.exceptions.NoScriptError):
                script, (keys, args) = items[n]
                try:
                    results[n] = await script(keys=keys, args=args)
                except redis.exceptions.RedisError as exc:
                    results[n] = exc
        return results  # another call's error stays in its place: the calls around it did run


_PIPELINES: weakref.WeakKeyDictionary[RedisClient, ScriptPipeline] = weakref.WeakKeyDictionary()


def script_pipeline(client: RedisClient) -> ScriptPipeline:
    """The one `ScriptPipeline` of `client` (made on first use), which every `BatchedScript` over it shares."""
    pipeline = _PIPELINES.get(client)
    if pipeline is None:
        pipeline = _PIPELINES[client] = ScriptPipeline(client)
    return pipeline


class BatchedScript:
    """One Lua script whose concurrent calls go in the client's shared `ScriptPipeline` on a single node; on a
    cluster each call goes on its own (the keys of one call share a slot, those of a pipeline need not)."""

    def __init__(self, client: RedisClient, script: str) -> None:
        self._script = client.register_script(script)
        self._pipeline = None if isinstance(client, RedisCluster) else script_pipeline(client)

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        if self._pipeline is None:
            return await self._script(keys=keys, args=args)
        return await self._pipeline.run(self._script, keys, args)

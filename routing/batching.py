"""Coalesces concurrent Redis calls made within two event-loop turns into one round trip (auto-pipelining): under
load, one pass through the Redis client serves every call that arrived together.

- `Coalescer`: the collecting itself, for any batched call.
- `BatchedScript`: calls of Lua scripts (the poller's compare-and-set writes, the slot acquires, a create's job and
  budget scripts) become one pipeline: every `BatchedScript` of one client shares it (`ScriptPipeline`), so a job
  write and a budget-hold update started together cost one round trip.
- `BatchedHashes`: HGETALL reads (the gate's screen: circuits and headroom readings) become one pipeline, each key
  read once however many callers asked for it; `hash_reader` gives every reader of one client the same one.

Here in routing, the lowest layer that keeps state in Redis, so that routing's shared state and the gateway's store
(gateway/store/batching.py, which adds the MGET reader) batch the same way. On a single node a batch is one
`routing.round_trip.send_commands`. Script calls are batched on a single node only; on a cluster each goes on its
own, as each script already names the keys of one slot."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript

from routing.round_trip import pairs, send_commands

In = TypeVar("In")
Out = TypeVar("Out")
ScriptCall = tuple[Sequence[str], Sequence[str | bytes | int]]
"""(keys, args) of one script call."""


class Coalescer(Generic[In, Out]):
    """Collects the calls of two event-loop turns (at most `max_batch`) and runs them with one `_run`; each caller
    gets its own result, its own failure (an exception `_run` returns in its place), or the batch's failure.

    The first call of a batch starts the task that runs it; the task yields once more when it first runs, at the
    next turn of the loop, and takes the batch at the turn after, so every call made before then (in this turn, by
    callbacks queued before it, and by the requests whose I/O the next turn handles) joins. Under load that one turn
    more took a fifth of a create's round trips off, and 4% of its CPU (bench/RESULTS.md)."""

    def __init__(self, *, max_batch: int) -> None:
        self._max_batch = max_batch
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop  # the open batch's loop, set as it opens

    async def _call(self, item: In) -> Out:
        return await self._enqueue(item)

    def _enqueue(self, item: In) -> asyncio.Future[Out]:
        """Queue one call without yielding, so that several queued by one caller go in the same batch."""
        if self._pending:
            loop = self._loop  # a batch fills on the loop that opened it, within two of its turns
        else:
            loop = self._loop = asyncio.get_running_loop()
            task = loop.create_task(self._settle(self._pending))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._max_batch:
            self._pending = []  # full: its task runs it as it is, the next call starts another
        return future

    async def _run(self, items: list[In]) -> list[Out]:
        raise NotImplementedError

    async def _settle(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        await asyncio.sleep(0)  # one turn more: the calls the next turn's I/O makes join this batch
        if batch is self._pending:
            self._pending = []  # closed: calls from now on start the next batch
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


class ScriptPipeline(Coalescer[tuple[AsyncScript, ScriptCall], Any]):
    """The script calls of one single-node client made together (`Coalescer`), whichever script each runs, sent as
    one pipeline (not a transaction: each call is atomic on its own, and succeeds or fails on its own, as it would
    alone). A call the server answers with NOSCRIPT (its script cache was flushed) is run again through redis-py's
    `Script`, which loads the script first."""

    def __init__(self, client: aioredis.Redis, *, max_batch: int = 512) -> None:
        super().__init__(max_batch=max_batch)
        self._redis = client

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        return await self._call((script, (keys, args)))

    async def _run(self, items: list[tuple[AsyncScript, ScriptCall]]) -> list[Any]:
        commands = [("EVALSHA", script.sha, len(keys), *keys, *args) for script, (keys, args) in items]
        results = await send_commands(self._redis, commands)
        for n, result in enumerate(results):
            if isinstance(result, redis.exceptions.NoScriptError):
                script, (keys, args) = items[n]
                try:
                    results[n] = await script(keys=keys, args=args)
                except redis.exceptions.RedisError as exc:
                    results[n] = exc
        return results  # another call's error stays in its place: the calls around it did run


_PIPELINES: weakref.WeakKeyDictionary[aioredis.Redis, ScriptPipeline] = weakref.WeakKeyDictionary()


def script_pipeline(client: aioredis.Redis) -> ScriptPipeline:
    """The one `ScriptPipeline` of `client` (made on first use), which every `BatchedScript` over it shares."""
    pipeline = _PIPELINES.get(client)
    if pipeline is None:
        pipeline = _PIPELINES[client] = ScriptPipeline(client)
    return pipeline


class BatchedScript:
    """One Lua script whose concurrent calls go in the client's shared `ScriptPipeline` on a single node; on a
    cluster each call goes on its own (the keys of one call share a slot, those of a pipeline need not)."""

    def __init__(self, client: aioredis.Redis | RedisCluster, script: str) -> None:
        self._script = client.register_script(script)
        self._pipeline = None if isinstance(client, RedisCluster) else script_pipeline(client)

    async def __call__(self, *, keys: Sequence[str], args: Sequence[str | bytes | int]) -> Any:
        if self._pipeline is None:
            return await self._script(keys=keys, args=args)
        return await self._pipeline.run(self._script, keys, args)


class BatchedHashes(Coalescer[str, "dict[bytes, bytes]"]):
    """HGETALL of every key asked for together (`Coalescer`), in one pipeline (on a cluster redis-py sends it per
    node). A key several callers ask for is read once and its reply shared: a read sent after a caller asked is as
    fresh as one of its own, so sharing it changes nothing the caller can see (callers must not change the reply).
    Callers that share one instance (`hash_reader`) share its round trips: the gate's screen reads circuits and
    headroom together.
    The client is made without decode_responses, so fields and values are bytes."""

    def __init__(self, client: aioredis.Redis | RedisCluster, *, max_batch: int = 512) -> None:
        super().__init__(max_batch=max_batch)
        self._redis = client

    async def hgetall(self, key: str) -> dict[bytes, bytes]:
        return await self._call(key)

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[bytes, bytes]]:
        """The hashes at `keys`, in order, read in one batch; the first failure among them is raised."""
        replies, failure = [], None
        for future in [self._enqueue(key) for key in keys]:  # one batch answers them all: one wake-up, no gather
            try:
                replies.append(await future)
            except Exception as exc:  # each awaited, so no failure is left unretrieved
                failure = failure or exc
        if failure is not None:
            raise failure
        return replies

    async def _run(self, items: list[str]) -> list[dict[bytes, bytes]]:
        keys = list(dict.fromkeys(items))
        replies: list[Any]
        if isinstance(self._redis, RedisCluster):
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                replies = await pipe.execute(raise_on_error=False)
        else:
            sent = await send_commands(self._redis, [("HGETALL", key) for key in keys])
            replies = [reply if isinstance(reply, Exception) else pairs(reply) for reply in sent]
        by_key = dict(zip(keys, replies, strict=True))
        return [by_key[key] for key in items]  # an error reply stays the error of that key's callers


_HASH_READERS: weakref.WeakKeyDictionary[aioredis.Redis | RedisCluster, BatchedHashes] = weakref.WeakKeyDictionary()


def hash_reader(client: aioredis.Redis | RedisCluster) -> BatchedHashes:
    """The one `BatchedHashes` of `client` (made on first use): the circuit breakers and the headroom store read
    through it, so the gate's screen reads both in one round trip."""
    reader = _HASH_READERS.get(client)
    if reader is None:
        reader = _HASH_READERS[client] = BatchedHashes(client)
    return reader

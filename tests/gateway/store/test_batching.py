"""`BatchedScript` on a real Redis: calls of one event-loop turn share a pipeline, each with its own result, and
a script the server does not have yet is loaded rather than failing the calls."""

from __future__ import annotations

import asyncio
import uuid

import redis.asyncio as aioredis

from gateway.store.batching import BatchedScript


async def test_calls_made_together_each_get_their_own_result_from_a_script_never_loaded(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """A fresh script (its text is unique, so the server answers NOSCRIPT first) still answers every call."""
    script = f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
    batched = BatchedScript(redis_client, script)
    keys = [f"{redis_prefix}a", f"{redis_prefix}b", f"{redis_prefix}a"]

    results = await asyncio.gather(*(batched(keys=[key], args=[n + 1]) for n, key in enumerate(keys)))

    assert results == [1, 2, 4]
    assert await redis_client.get(f"{redis_prefix}a") == b"4"

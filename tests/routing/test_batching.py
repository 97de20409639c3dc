"""`BatchedScript` on a real Redis: calls of one event-loop turn share a pipeline, each with its own result or its
own error, and a script the server does not have yet is loaded rather than failing the calls."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from routing.batching import BatchedScript


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


@pytest.mark.parametrize("loaded", [False, True], ids=["script-not-loaded", "script-loaded"])
async def test_a_call_that_fails_fails_alone(redis_client: aioredis.Redis, redis_prefix: str, loaded: bool) -> None:
    """INCRBY on a key holding text is that call's error; the calls sent with it ran and get their results, whether
    the pipeline ran the script or each call was run again to load it."""
    script = f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])"
    batched = BatchedScript(redis_client, script)
    if loaded:
        assert await batched(keys=[f"{redis_prefix}warm"], args=[1]) == 1
    await redis_client.set(f"{redis_prefix}text", "not a number")
    keys = [f"{redis_prefix}a", f"{redis_prefix}text", f"{redis_prefix}b"]

    results = await asyncio.gather(*(batched(keys=[key], args=[5]) for key in keys), return_exceptions=True)

    assert (results[0], results[2]) == (5, 5)
    assert isinstance(results[1], redis.exceptions.ResponseError)
    assert await redis_client.get(f"{redis_prefix}b") == b"5"

"""`BatchedScript` on a real Redis: calls of one event-loop turn share a pipeline (whichever of the client's
scripts they run), each with its own result or its own error, and a script the server does not have yet is loaded
rather than failing the calls."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import AbstractConnection

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


async def test_calls_of_different_scripts_made_together_share_one_round_trip(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every BatchedScript of a client goes in its one pipeline: two scripts' calls made in the same turn are one
    write to the server (a round trip), each still with its own result."""
    incr = BatchedScript(redis_client, f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    append = BatchedScript(redis_client, f"-- {uuid.uuid4().hex}\nreturn redis.call('APPEND', KEYS[1], ARGV[1])")
    await incr(keys=[f"{redis_prefix}n"], args=[1])  # both loaded: no NOSCRIPT retry below
    await append(keys=[f"{redis_prefix}s"], args=["a"])
    sends = _count_sends(monkeypatch)

    results = await asyncio.gather(
        incr(keys=[f"{redis_prefix}n"], args=[2]),
        append(keys=[f"{redis_prefix}s"], args=["bc"]),
        incr(keys=[f"{redis_prefix}n"], args=[3]),
    )

    assert results == [3, 3, 6]
    assert sends == [1]


def _count_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times any connection writes to the server from now on (one element, counted up)."""
    sends = [0]
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sends[0] += 1
        await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sends

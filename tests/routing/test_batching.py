"""`BatchedScript` and `BatchedHashes` on a real Redis: calls of one event-loop turn share a pipeline, each with its
own result or its own error; a script the server does not have yet is loaded rather than failing the calls, and a
hash asked for by several callers is read once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from routing.batching import BatchedHashes, BatchedScript
from tests.routing.pipelines import RoundTrips, count_sends


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


async def test_hash_reads_made_together_go_in_one_round_trip_each_key_read_once(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifteen callers asking for two hashes, and one asking for two at once (one of them new), make one pipeline
    of three HGETALLs; each caller gets its own hash, an empty one where the key is missing."""
    a, b, missing = f"{redis_prefix}a", f"{redis_prefix}b", f"{redis_prefix}missing"
    await redis_client.hset(a, mapping={"x": "1"})
    await redis_client.hset(b, mapping={"y": "2", "z": "3"})
    hashes = BatchedHashes(redis_client)
    trips = RoundTrips(redis_client, monkeypatch)

    singles, many = await asyncio.gather(
        asyncio.gather(*(hashes.hgetall(a if n % 3 else b) for n in range(15))), hashes.hgetall_many([missing, a])
    )

    assert singles == [{b"x": b"1"} if n % 3 else {b"y": b"2", b"z": b"3"} for n in range(15)]
    assert many == [{}, {b"x": b"1"}]
    assert len(trips.sent) == 1
    assert sorted(trips.sent[0]) == [("HGETALL", a), ("HGETALL", b), ("HGETALL", missing)]


async def test_a_hash_read_after_a_batch_went_out_is_a_read_of_its_own(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller never gets a reply read before it asked: a write made between two reads shows in the second."""
    key = f"{redis_prefix}h"
    hashes = BatchedHashes(redis_client)
    trips = RoundTrips(redis_client, monkeypatch)

    assert await hashes.hgetall(key) == {}
    await redis_client.hset(key, "f", "v")
    assert await hashes.hgetall(key) == {b"f": b"v"}
    assert len(trips.commands("HGETALL")) == 2


async def test_a_hash_read_that_fails_fails_alone(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """HGETALL of a key holding text is the error of the callers of that key (and of a many-key read naming it);
    the reads sent with it get their hashes."""
    good, text = f"{redis_prefix}good", f"{redis_prefix}text"
    await redis_client.hset(good, "f", "v")
    await redis_client.set(text, "not a hash")
    hashes = BatchedHashes(redis_client)

    results = await asyncio.gather(
        hashes.hgetall(good), hashes.hgetall(text), hashes.hgetall_many([good, text]), return_exceptions=True
    )

    assert results[0] == {b"f": b"v"}
    assert isinstance(results[1], redis.exceptions.ResponseError)
    assert isinstance(results[2], redis.exceptions.ResponseError)


async def test_a_full_batch_goes_out_as_it_is_and_the_next_call_starts_another(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At `max_batch` calls a batch is closed: five reads made together at two a batch make three round trips, each
    caller still getting its own hash."""
    keys = [f"{redis_prefix}{n}" for n in range(5)]
    for n, key in enumerate(keys):
        await redis_client.hset(key, "n", n)
    hashes = BatchedHashes(redis_client, max_batch=2)
    trips = RoundTrips(redis_client, monkeypatch)

    replies = await asyncio.gather(*(hashes.hgetall(key) for key in keys))

    assert replies == [{b"n": str(n).encode()} for n in range(5)]
    assert sorted(len(trip) for trip in trips.sent) == [1, 2, 2]  # three batches; the order they reach Redis is free


async def test_calls_of_different_scripts_made_together_share_one_round_trip(
    redis_client: aioredis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every BatchedScript of a client goes in its one pipeline: two scripts' calls made in the same turn are one
    write to the server (a round trip), each still with its own result."""
    incr = BatchedScript(redis_client, f"-- {uuid.uuid4().hex}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")
    append = BatchedScript(redis_client, f"-- {uuid.uuid4().hex}\nreturn redis.call('APPEND', KEYS[1], ARGV[1])")
    await incr(keys=[f"{redis_prefix}n"], args=[1])  # both loaded: no NOSCRIPT retry below
    await append(keys=[f"{redis_prefix}s"], args=["a"])
    sends = count_sends(monkeypatch)

    results = await asyncio.gather(
        incr(keys=[f"{redis_prefix}n"], args=[2]),
        append(keys=[f"{redis_prefix}s"], args=["bc"]),
        incr(keys=[f"{redis_prefix}n"], args=[3]),
    )

    assert results == [3, 3, 6]
    assert sends == [1]

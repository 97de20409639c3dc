"""The idempotency-key store contract, against memory and Redis: one claimer wins, the holder's record is shown
to the others, completing and releasing work only for the claim's owner, and claims expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.store.connect import cluster_client
from gateway.store.idempotency import IdempotencyKeys, IdempotencyRecord, MemoryIdempotencyKeys, RedisIdempotencyKeys
from tests.conftest import ON_CLUSTER


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def keys(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[IdempotencyKeys]:
    if request.param == "memory":
        yield MemoryIdempotencyKeys()
    elif request.param == "redis":
        yield RedisIdempotencyKeys(redis_client, prefix=redis_prefix)
    else:
        async with cluster_client(request.getfixturevalue("redis_cluster_url")) as client:
            yield RedisIdempotencyKeys(client, prefix=redis_prefix)


async def test_the_first_claim_wins_and_the_others_see_it(keys: IdempotencyKeys) -> None:
    """Ten concurrent claims of one key: exactly one takes it; the rest get the winner's fingerprint and token."""
    results = await asyncio.gather(
        *(keys.claim("team-a:k", fingerprint=f"fp{i}", token=f"t{i}", ttl_s=30) for i in range(10))
    )

    winners = [i for i, held in enumerate(results) if held is None]
    assert len(winners) == 1
    winner = winners[0]
    expected = IdempotencyRecord(fingerprint=f"fp{winner}", token=f"t{winner}", job_id=None)
    assert all(held == expected for held in results if held is not None)


async def test_completing_records_the_job_for_later_requests(keys: IdempotencyKeys) -> None:
    """The owner's complete stores the job id; a later claim returns it; a stranger's token changes nothing."""
    assert await keys.claim("team-a:k", fingerprint="fp", token="mine", ttl_s=30) is None
    assert not await keys.complete("team-a:k", token="theirs", job_id="video_x", ttl_s=60)
    assert await keys.complete("team-a:k", token="mine", job_id="video_1", ttl_s=60)

    held = await keys.claim("team-a:k", fingerprint="other", token="later", ttl_s=30)
    assert held == IdempotencyRecord(fingerprint="fp", token="mine", job_id="video_1")


async def test_release_frees_the_key_only_for_its_owner(keys: IdempotencyKeys) -> None:
    """A stranger's release leaves the claim; the owner's release lets the next request claim."""
    assert await keys.claim("team-a:k", fingerprint="fp", token="mine", ttl_s=30) is None
    await keys.release("team-a:k", token="theirs")
    assert await keys.claim("team-a:k", fingerprint="fp", token="next", ttl_s=30) is not None
    await keys.release("team-a:k", token="mine")

    assert await keys.claim("team-a:k", fingerprint="fp", token="next", ttl_s=30) is None


async def test_keys_are_independent(keys: IdempotencyKeys) -> None:
    """Claiming one key (or one team's key) says nothing about another."""
    assert await keys.claim("team-a:k1", fingerprint="fp", token="a", ttl_s=30) is None
    assert await keys.claim("team-a:k2", fingerprint="fp", token="b", ttl_s=30) is None
    assert await keys.claim("team-b:k1", fingerprint="fp", token="c", ttl_s=30) is None


async def test_an_abandoned_claim_expires(keys: IdempotencyKeys) -> None:
    """A claim whose create died with its replica is gone after its lease; the key can be claimed again."""
    assert await keys.claim("team-a:k", fingerprint="fp", token="dead", ttl_s=0.05) is None
    await asyncio.sleep(0.1)

    assert await keys.claim("team-a:k", fingerprint="fp", token="alive", ttl_s=30) is None
    assert not await keys.complete("team-a:k", token="dead", job_id="video_1", ttl_s=60)

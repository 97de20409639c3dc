"""Idempotency records already expired before retention was added (PEXPIRE on Redis, an expiry time in memory);
this shows a completed record goes after the TTL it was completed with (`[retention] idempotency_s`, 24 h by
default) and that a record still within it answers the repeat."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from gateway.store.idempotency import IdempotencyKeys, MemoryIdempotencyKeys, RedisIdempotencyKeys
from tests.conftest import FakeClock, eventually


@pytest.fixture(params=["memory", "redis"])
async def kept(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, redis_prefix: str
) -> tuple[IdempotencyKeys, FakeClock | None]:
    if request.param == "memory":
        clock = FakeClock(time.time())
        return MemoryIdempotencyKeys(clock=clock), clock
    return RedisIdempotencyKeys(redis_client, prefix=redis_prefix), None


async def test_a_completed_record_expires_after_its_ttl(kept: tuple[IdempotencyKeys, FakeClock | None]) -> None:
    keys, clock = kept
    assert await keys.claim("team-a:old", fingerprint="fp", token="t1", ttl_s=30) is None
    assert await keys.complete("team-a:old", token="t1", job_id="video_1", ttl_s=1.0)
    assert await keys.claim("team-a:live", fingerprint="fp", token="t2", ttl_s=30) is None
    assert await keys.complete("team-a:live", token="t2", job_id="video_2", ttl_s=3600)

    if clock is not None:
        clock.advance(1.001)

    async def old_gone() -> bool:
        # A probe claim that finds the key free takes it; release it so the next probe sees the same.
        held = await keys.claim("team-a:old", fingerprint="fp", token="probe", ttl_s=30)
        if held is None:
            await keys.release("team-a:old", token="probe")
        return held is None

    await eventually(old_gone)
    live = await keys.claim("team-a:live", fingerprint="fp", token="t3", ttl_s=30)
    assert live is not None
    assert live.job_id == "video_2"


async def test_a_redis_record_carries_its_ttl(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    keys = RedisIdempotencyKeys(redis_client, prefix=redis_prefix)
    assert await keys.claim("team-a:k", fingerprint="fp", token="t", ttl_s=30) is None
    assert await keys.complete("team-a:k", token="t", job_id="video_1", ttl_s=86_400)
    assert 86_000_000 < await redis_client.pttl(f"{redis_prefix}idem:team-a:k") <= 86_400_000

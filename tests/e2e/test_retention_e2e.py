"""Retention through a served gateway (Vidgen emulator, both stores made from the settings' `[retention]`): a
finished job answers 404 and leaves the listing once its retention ran out, the Redis record and index entry are
gone, and the idempotency record carries the configured TTL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.config import Settings
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from tests.conftest import REDIS_URL, GatewayFactory, auth, eventually, gateway_settings, wait_terminal

RETENTION = """
[retention]
jobs_s = 1.0
index_grace_s = 0.0
idempotency_s = 30.0
ledger_s = 3600.0
"""


@pytest.fixture
def settings(vidgen_url: str) -> Settings:
    return gateway_settings(vidgen_url, extra=RETENTION)


@pytest.fixture(params=["memory", "redis"])
async def kept_store(request: pytest.FixtureRequest, settings: Settings, redis_prefix: str) -> AsyncIterator[JobStore]:
    if request.param == "memory":
        yield MemoryStore(retention=settings.retention)
        return
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix, retention=settings.retention)
    yield store
    await store.close()


async def test_a_finished_job_goes_after_its_retention(
    settings: Settings, kept_store: JobStore, serve_gateway: GatewayFactory, redis_client: aioredis.Redis
) -> None:
    async with serve_gateway(settings, store=kept_store) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        headers = {**auth(), "Idempotency-Key": "retention-1"}
        reply = await client.post("/v1/videos", json={"model": "scenex", "prompt": "a pier"}, headers=headers)
        assert reply.status_code == 202, reply.text
        video_id = reply.json()["id"]
        assert (await wait_terminal(client, video_id))["status"] == "completed"
        if isinstance(kept_store, RedisStore):
            pttl = await redis_client.pttl(kept_store.job_key(video_id))
            assert 0 < pttl <= 1000
            idem = [k async for k in redis_client.scan_iter(match=f"{kept_store.prefix}idem:*")]
            assert len(idem) == 1
            assert 0 < await redis_client.pttl(idem[0]) <= 30_000

        async def gone() -> bool:
            return (await client.get(f"/v1/videos/{video_id}", headers=auth())).status_code == 404

        await eventually(gone)
        listed = await client.get("/v1/videos", headers=auth())
        assert listed.status_code == 200
        assert listed.json()["data"] == []

        # The team's next create trims the expired id from its index (Redis; memory dropped it with the record).
        reply = await client.post("/v1/videos", json={"model": "scenex", "prompt": "a dune"}, headers=auth())
        assert reply.status_code == 202, reply.text
        if isinstance(kept_store, RedisStore):
            members = await redis_client.zrange(kept_store.team_key("team-a"), 0, -1)
            assert members == [reply.json()["id"].encode()]
        await wait_terminal(client, reply.json()["id"])

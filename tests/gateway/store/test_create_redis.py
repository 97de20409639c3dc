"""A create on Redis: on one node the team index and the record go in one script (one round trip, shared by the
creates made together); on a cluster, in two steps, the index first. Either way a create whose index write fails
stores nothing (no record, no schedule entry)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.exceptions

from gateway.store.redis import RedisStore
from tests.conftest import ON_CLUSTER, REDIS_URL, make_store
from tests.gateway.store.conftest import T0, make_job, page_ids
from tests.routing.pipelines import count_sends


@pytest.fixture(params=["redis", ON_CLUSTER])
async def redis_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[RedisStore]:
    async for made in make_store(request, redis_prefix):
        assert isinstance(made, RedisStore)
        yield made


async def test_creates_made_together_are_one_round_trip_on_one_node(
    redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        first = make_job(T0 - 1)
        await store.create(first, poll_at=T0)  # loads the script: no NOSCRIPT retry below
        jobs = [make_job(T0 + i, team=f"team-{i % 2}") for i in range(5)]
        sends = count_sends(monkeypatch)

        created = await asyncio.gather(*(store.create(job, poll_at=job.created_at) for job in jobs))

        assert sends == [1]
        assert created == [True] * 5
        assert await page_ids(store, "team-1", limit=10) == ([jobs[1].id, jobs[3].id], False)
        assert await store.claim_due(T0 + 10, limit=10, lease_s=1) == [first.id, *(j.id for j in jobs)]
    finally:
        await store.close()


async def test_a_create_whose_index_write_fails_stores_nothing(redis_store: RedisStore) -> None:
    """The team index holds a string (a WRONGTYPE for its ZADD): the create fails, and no record and no schedule
    entry are left behind; another team's create is not affected."""
    await redis_store.client.set(redis_store.team_key("broken"), "not an index")
    job = make_job(T0, team="broken")

    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await redis_store.create(job, poll_at=T0)

    assert await redis_store.get(job.id) is None
    assert await redis_store.next_due_at() is None
    other = make_job(T0 + 1)
    assert await redis_store.create(other, poll_at=T0)
    assert await redis_store.get(other.id) == other

"""Shared by the test_contract_* modules: jobs one second apart and a paging helper, for the JobStore contract
run against every store, and a `store` fixture that adds the Redis Cluster to tests/conftest.py's memory and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from gateway.schema.job import VideoJob, new_job_id
from gateway.store.base import JobStore, Order
from tests.conftest import ON_CLUSTER, make_store

T0 = 1_750_000_000.0


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[JobStore]:
    async for made in make_store(request, redis_prefix):
        yield made


def make_job(now: float, *, team: str = "team-a", **changes: object) -> VideoJob:
    job = VideoJob(id=new_job_id(now), team=team, key_id="key-a", model="scenex", created_at=now, updated_at=now)
    return msgspec.structs.replace(job, **changes)


async def create_jobs(store: JobStore, count: int, *, team: str = "team-a", start: float = T0) -> list[VideoJob]:
    """`count` jobs one second apart, so their ids sort by creation."""
    jobs = [make_job(start + i, team=team) for i in range(count)]
    for job in jobs:
        assert await store.create(job, poll_at=job.created_at)
    return jobs


async def page_ids(
    store: JobStore,
    team: str = "team-a",
    *,
    limit: int,
    after: str | None = None,
    order: Order = "asc",
    status: str | None = None,
) -> tuple[list[str], bool]:
    jobs, more = await store.list_team(team, limit=limit, after=after, order=order, status=status)
    return [job.id for job in jobs], more

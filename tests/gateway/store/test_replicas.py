"""Replica heartbeats, one contract over the in-process table, one Redis and a Redis Cluster: a beat makes its
replica alive for its TTL, other replicas are not, and a beat that is not renewed lapses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store.connect import redis_client
from gateway.store.replicas import MemoryReplicas, RedisReplicas, Replicas, ReplicaStatus
from tests.conftest import ON_CLUSTER, FakeClock, backend_url, eventually


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def replicas(request: pytest.FixtureRequest, redis_prefix: str, clock: FakeClock) -> AsyncIterator[Replicas]:
    """The memory table runs on the test's clock; Redis expires beats on its own (wall) time."""
    if request.param == "memory":
        yield MemoryReplicas(clock=clock)
        return
    client = redis_client(backend_url(request))
    yield RedisReplicas(client, prefix=redis_prefix)
    await client.aclose()


def _beat(replica: str, *, now: float, ttl_s: float) -> ReplicaStatus:
    return ReplicaStatus(id=replica, started_at=now, beat_at=now, until=now + ttl_s, applied={"routing": 3})


async def test_a_beat_makes_only_its_replica_alive(replicas: Replicas, clock: FakeClock) -> None:
    """After replica-a beats, replica-a is alive and replica-b, which never beat, is not."""
    await replicas.beat(_beat("replica-a", now=clock(), ttl_s=30.0))
    assert await replicas.alive("replica-a")
    assert not await replicas.alive("replica-b")


async def test_a_beat_not_renewed_lapses(replicas: Replicas, clock: FakeClock) -> None:
    """A beat with a TTL of 0.2 s is alive at first and, not renewed, lapses once 0.2 s have passed."""
    await replicas.beat(_beat("replica-a", now=clock(), ttl_s=0.2))
    assert await replicas.alive("replica-a")
    clock.advance(1.0)
    await eventually(lambda: _gone(replicas, "replica-a"), timeout_s=5.0)


async def _gone(replicas: Replicas, replica: str) -> bool:
    return not await replicas.alive(replica)

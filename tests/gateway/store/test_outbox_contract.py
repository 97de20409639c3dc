"""The webhook outbox contract, run against the in-memory and the Redis outbox: enqueue once per id, claim due
deliveries atomically with a lease (a dead claimer's delivery comes back), compare-and-set records."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.store.connect import cluster_client
from gateway.store.outbox import DeliveryAttempt, MemoryOutbox, Outbox, WebhookDelivery, delivery_id
from gateway.store.outbox_redis import RedisOutbox
from tests.conftest import ON_CLUSTER

T0 = 1_750_000_000.0


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def outbox(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[Outbox]:
    if request.param == "memory":
        yield MemoryOutbox()
    elif request.param == "redis":
        yield RedisOutbox(redis_client, prefix=redis_prefix)
    else:
        async with cluster_client(request.getfixturevalue("redis_cluster_url")) as client:
            yield RedisOutbox(client, prefix=redis_prefix)


def delivery(job_id: str, **changes: object) -> WebhookDelivery:
    record = WebhookDelivery(
        id=delivery_id(job_id),
        job_id=job_id,
        team="team-a",
        url="https://example.com/hook",
        body=b'{"id":"%s"}' % job_id.encode(),
        created_at=T0,
        next_attempt_at=T0,
    )
    return msgspec.structs.replace(record, **changes)


async def test_enqueue_stores_once_per_id(outbox: Outbox) -> None:
    """A second enqueue with the same id changes nothing and says so."""
    first = delivery("video_1")
    assert await outbox.enqueue(first, due_at=T0)
    assert not await outbox.enqueue(msgspec.structs.replace(first, body=b"{}"), due_at=T0 - 100)

    assert await outbox.get(first.id) == first
    assert await outbox.next_due_at() == T0
    assert await outbox.get("msg_missing") is None


async def test_a_claimed_delivery_is_hidden_until_its_lease_ends(outbox: Outbox) -> None:
    """Claiming pushes the due time to now + lease: nobody else sees it until then, and then it comes back."""
    await outbox.enqueue(delivery("video_1"), due_at=T0)
    await outbox.enqueue(delivery("video_2"), due_at=T0 + 50)

    assert await outbox.claim_due(T0, limit=10, lease_s=30) == ["msg_1"]
    assert await outbox.claim_due(T0 + 10, limit=10, lease_s=30) == []
    assert await outbox.claim_due(T0 + 31, limit=10, lease_s=30) == ["msg_1"]  # the claimer died: back again
    assert sorted(await outbox.claim_due(T0 + 100, limit=10, lease_s=30)) == ["msg_1", "msg_2"]


async def test_claims_respect_the_limit_and_due_order(outbox: Outbox) -> None:
    """The earliest due come first, at most `limit` per claim."""
    for index in range(5):
        await outbox.enqueue(delivery(f"video_{index}"), due_at=T0 + 5 - index)

    assert await outbox.claim_due(T0 + 10, limit=2, lease_s=30) == ["msg_4", "msg_3"]
    assert await outbox.claim_due(T0 + 10, limit=10, lease_s=30) == ["msg_2", "msg_1", "msg_0"]


async def test_concurrent_claimers_never_share_a_delivery(outbox: Outbox) -> None:
    """Twenty claimers at once over forty due deliveries: every delivery is claimed exactly once."""
    for index in range(40):
        await outbox.enqueue(delivery(f"video_{index:02d}"), due_at=T0)

    claims = await asyncio.gather(*(outbox.claim_due(T0, limit=3, lease_s=30) for _ in range(20)))

    claimed = [item for claim in claims for item in claim]
    assert sorted(claimed) == sorted(f"msg_{index:02d}" for index in range(40))


async def test_replace_is_compare_and_set_and_reschedules(outbox: Outbox) -> None:
    """A write against a stale version loses; a winning write records the attempt and the new due time."""
    first = delivery("video_1")
    await outbox.enqueue(first, due_at=T0)
    attempt = DeliveryAttempt(at=T0, duration_ms=12, status_code=500)
    retried = msgspec.structs.replace(first, attempts=(attempt,), next_attempt_at=T0 + 5, version=2)

    assert await outbox.replace(retried, expected_version=1, due_at=T0 + 5)
    assert not await outbox.replace(msgspec.structs.replace(retried, version=3), expected_version=1, due_at=T0)
    assert await outbox.get(first.id) == retried
    assert await outbox.next_due_at() == T0 + 5
    assert await outbox.claim_due(T0 + 4, limit=10, lease_s=30) == []
    assert await outbox.claim_due(T0 + 5, limit=10, lease_s=30) == ["msg_1"]


async def test_a_finished_delivery_leaves_the_schedule(outbox: Outbox) -> None:
    """Writing it delivered with no due time takes it off the schedule for good."""
    first = delivery("video_1")
    await outbox.enqueue(first, due_at=T0)
    await outbox.claim_due(T0, limit=10, lease_s=30)
    done = msgspec.structs.replace(first, state="delivered", finished_at=T0 + 1, version=2)

    assert await outbox.replace(done, expected_version=1, due_at=None)
    assert await outbox.next_due_at() is None
    assert await outbox.claim_due(T0 + 1_000, limit=10, lease_s=30) == []
    stored = await outbox.get(first.id)
    assert stored is not None
    assert stored.state == "delivered"


async def test_replacing_a_missing_delivery_fails(outbox: Outbox) -> None:
    """There is nothing to compare against: no write, no schedule entry."""
    assert not await outbox.replace(delivery("video_9"), expected_version=1, due_at=T0)
    assert await outbox.next_due_at() is None

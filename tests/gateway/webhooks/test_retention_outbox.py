"""Outbox retention, on the memory and the Redis outbox: a delivered or failed delivery goes once its retention
has run since its last attempt was recorded; a pending one (still retrying) stays, whatever its age."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from gateway.store.outbox import DeliveryAttempt, MemoryOutbox, Outbox, WebhookDelivery, delivery_id
from gateway.store.outbox_redis import RedisOutbox
from tests.conftest import FakeClock, eventually

KEEP_S = 1.0


@pytest.fixture(params=["memory", "redis"])
async def kept(
    request: pytest.FixtureRequest, redis_client: aioredis.Redis, redis_prefix: str
) -> AsyncIterator[tuple[Outbox, FakeClock | None]]:
    if request.param == "memory":
        clock = FakeClock(time.time())
        yield MemoryOutbox(retention_s=KEEP_S, clock=clock), clock
        return
    yield RedisOutbox(redis_client, prefix=redis_prefix, retention_s=KEEP_S), None


def delivery(job_id: str, now: float) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery_id(job_id),
        job_id=job_id,
        team="team-a",
        url="https://example.com/hook",
        body=b"{}",
        created_at=now,
        next_attempt_at=now,
    )


async def attempted(outbox: Outbox, record: WebhookDelivery, now: float, **changes: object) -> WebhookDelivery:
    """Record one attempt (as the dispatcher does) with the state changes given."""
    attempt = DeliveryAttempt(at=now, duration_ms=3, status_code=200 if changes.get("state") == "delivered" else 500)
    updated = msgspec.structs.replace(
        record, attempts=(*record.attempts, attempt), version=record.version + 1, **changes
    )
    due = None if updated.state != "pending" else now + 5
    assert await outbox.replace(updated, expected_version=record.version, due_at=due)
    return updated


async def test_finished_deliveries_expire_and_pending_ones_stay(kept: tuple[Outbox, FakeClock | None]) -> None:
    outbox, clock = kept
    now = time.time() if clock is None else clock()
    delivered, failed, retrying = (delivery(f"video_{i}", now) for i in range(3))
    for record in (delivered, failed, retrying):
        assert await outbox.enqueue(record, due_at=now)
    await attempted(outbox, delivered, now, state="delivered", finished_at=now, next_attempt_at=None)
    await attempted(outbox, failed, now, state="failed", finished_at=now, next_attempt_at=None)
    still = await attempted(outbox, retrying, now, next_attempt_at=now + 5)

    if clock is not None:
        clock.advance(KEEP_S + 0.001)

    async def finished_gone() -> bool:
        return await outbox.get(delivered.id) is None and await outbox.get(failed.id) is None

    await eventually(finished_gone)
    assert await outbox.get(retrying.id) == still
    assert await outbox.next_due_at() == now + 5


async def test_without_retention_finished_deliveries_stay(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """The outboxes made without a retention (as every other test makes them) keep a delivered record: no TTL."""
    outbox = RedisOutbox(redis_client, prefix=redis_prefix)
    now = time.time()
    record = delivery("video_1", now)
    assert await outbox.enqueue(record, due_at=now)
    await attempted(outbox, record, now, state="delivered", finished_at=now, next_attempt_at=None)
    assert await redis_client.pttl(outbox.key(record.id)) == -1

"""Hash slots of the Redis layout (what lets it run on a Redis Cluster): each multi-key write's keys share one slot,
and the records still spread over many slots."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.crc import key_slot

from gateway.schema.job import new_job_id
from gateway.store.outbox import delivery_id
from gateway.store.outbox_redis import RedisOutbox
from gateway.store.redis import RedisStore
from gateway.store.schedule import ShardedSchedule


def _slot(key: str) -> int:
    return int(key_slot(key.encode()))


def test_a_job_record_shares_its_slot_with_its_schedule_bucket_and_jobs_spread_over_every_bucket() -> None:
    client = aioredis.Redis()  # never connects: only key names are computed
    store = RedisStore(client, prefix="vg:")
    schedule = ShardedSchedule(client, prefix="vg:", name="poll", tag="poll")
    ids = [new_job_id(1_750_000_000.0 + i) for i in range(400)]
    for job_id in ids:
        assert _slot(store.job_key(job_id)) == _slot(schedule.key_of(job_id))
    assert len({_slot(store.job_key(job_id)) for job_id in ids}) == 16  # docs/architecture.md: 16 slots
    assert len({_slot(key) for key in store.poll_keys}) == 16  # docs/architecture.md: 16 slots
    assert _slot(store.team_key("team-a")) != _slot(store.team_key("team-b"))


def test_a_webhook_record_shares_its_slot_with_its_due_bucket() -> None:
    client = aioredis.Redis()
    outbox = RedisOutbox(client, prefix="vg:")
    schedule = ShardedSchedule(client, prefix="vg:", name="webhook_due", tag="webhook_due")
    ids = [delivery_id(new_job_id(1_750_000_000.0 + i)) for i in range(400)]
    for item_id in ids:
        assert _slot(outbox.key(item_id)) == _slot(schedule.key_of(item_id))
    assert len({_slot(outbox.key(item_id)) for item_id in ids}) == 16  # docs/architecture.md: 16 slots

"""The webhook outbox on Redis, shared by every replica: `webhook:{webhook_due-NN}<id>` strings (12-digit version,
then the msgpack record) and the `webhook_due:{webhook_due-NN}` zsets (id -> due unix time), the due schedule
sharded into buckets NN derived from the delivery id (`gateway.store.schedule`). A record and its bucket share
their hash tag, so each multi-key write is one Lua script in one slot, on a single node or a Redis Cluster.
With a retention, the write that marks a delivery delivered or failed gives its record that TTL."""

from __future__ import annotations

from typing import cast

import msgspec

from gateway.store.connect import RedisClient
from gateway.store.outbox import WebhookDelivery
from gateway.store.redis import CREATE_SCRIPT, REPLACE_SCRIPT, store_errors, ttl_ms
from gateway.store.schedule import ShardedSchedule

_VERSION_DIGITS = 12


class RedisOutbox:
    def __init__(self, client: RedisClient, *, prefix: str, retention_s: float | None = None) -> None:
        self._redis = client
        self._retention_s = retention_s
        self._prefix = prefix
        self._schedule = ShardedSchedule(client, prefix=prefix, name="webhook_due", tag="webhook_due")
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(WebhookDelivery)
        self._enqueue = client.register_script(CREATE_SCRIPT)
        self._replace = client.register_script(REPLACE_SCRIPT)

    def key(self, delivery_id: str) -> str:
        return f"{self._prefix}webhook:{self._schedule.tag_of(delivery_id)}{delivery_id}"

    def _record(self, delivery: WebhookDelivery) -> bytes:
        return b"%0*d" % (_VERSION_DIGITS, delivery.version) + self._encoder.encode(delivery)

    @store_errors
    async def enqueue(self, delivery: WebhookDelivery, *, due_at: float) -> bool:
        args: list[str | bytes] = [delivery.id, self._record(delivery), repr(due_at)]
        return bool(await self._enqueue(keys=[self.key(delivery.id), self._schedule.key_of(delivery.id)], args=args))

    @store_errors
    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        # The client is made without decode_responses, so values are bytes.
        record = cast(bytes | None, await self._redis.get(self.key(delivery_id)))
        return None if record is None else self._decoder.decode(memoryview(record)[_VERSION_DIGITS:])

    @store_errors
    async def replace(self, delivery: WebhookDelivery, *, expected_version: int, due_at: float | None) -> bool:
        expected = b"%0*d" % (_VERSION_DIGITS, expected_version)
        due = "" if due_at is None else repr(due_at)
        ttl: str | int = ""
        if self._retention_s is not None and delivery.state != "pending":
            ttl = ttl_ms(self._retention_s)
        args: list[str | bytes | int] = [delivery.id, expected, self._record(delivery), due, ttl]
        return bool(await self._replace(keys=[self.key(delivery.id), self._schedule.key_of(delivery.id)], args=args))

    @store_errors
    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        return await self._schedule.claim_due(now, limit=limit, lease_s=lease_s)

    @store_errors
    async def next_due_at(self) -> float | None:
        return await self._schedule.next_due_at()

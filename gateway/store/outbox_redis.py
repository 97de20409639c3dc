"""The webhook outbox on Redis, shared by every replica: `webhook:{id}` string (12-digit version, then the
msgpack record) and the `webhook_due` zset (id -> due unix time). Each multi-key write is one Lua script.
With a retention, the write that marks a delivery delivered or failed gives its record that TTL."""

from __future__ import annotations

from typing import cast

import msgspec
import redis.asyncio as aioredis

from gateway.store.outbox import WebhookDelivery
from gateway.store.redis import CLAIM_SCRIPT, REPLACE_SCRIPT, store_errors, ttl_ms

_VERSION_DIGITS = 12

_ENQUEUE = """
if redis.call('SET', KEYS[1], ARGV[2], 'NX') == false then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""


class RedisOutbox:
    def __init__(self, client: aioredis.Redis, *, prefix: str, retention_s: float | None = None) -> None:
        self._redis = client
        self._retention_s = retention_s
        self._prefix = prefix
        self._due_key = f"{prefix}webhook_due"
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(WebhookDelivery)
        self._enqueue = client.register_script(_ENQUEUE)
        self._replace = client.register_script(REPLACE_SCRIPT)
        self._claim = client.register_script(CLAIM_SCRIPT)

    def _key(self, delivery_id: str) -> str:
        return f"{self._prefix}webhook:{delivery_id}"

    def _record(self, delivery: WebhookDelivery) -> bytes:
        return b"%0*d" % (_VERSION_DIGITS, delivery.version) + self._encoder.encode(delivery)

    @store_errors
    async def enqueue(self, delivery: WebhookDelivery, *, due_at: float) -> bool:
        args: list[str | bytes] = [delivery.id, self._record(delivery), repr(due_at)]
        return bool(await self._enqueue(keys=[self._key(delivery.id), self._due_key], args=args))

    @store_errors
    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        # The client is made without decode_responses, so values are bytes.
        record = cast(bytes | None, await self._redis.get(self._key(delivery_id)))
        return None if record is None else self._decoder.decode(memoryview(record)[_VERSION_DIGITS:])

    @store_errors
    async def replace(self, delivery: WebhookDelivery, *, expected_version: int, due_at: float | None) -> bool:
        expected = b"%0*d" % (_VERSION_DIGITS, expected_version)
        due = "" if due_at is None else repr(due_at)
        ttl: str | int = ""
        if self._retention_s is not None and delivery.state != "pending":
            ttl = ttl_ms(self._retention_s)
        args: list[str | bytes | int] = [delivery.id, expected, self._record(delivery), due, ttl]
        return bool(await self._replace(keys=[self._key(delivery.id), self._due_key], args=args))

    @store_errors
    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        raw: list[bytes] = await self._claim(keys=[self._due_key], args=[repr(now), limit, repr(now + lease_s)])
        return [r.decode() for r in raw]

    @store_errors
    async def next_due_at(self) -> float | None:
        head = await self._redis.zrange(self._due_key, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

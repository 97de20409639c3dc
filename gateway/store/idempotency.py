"""Idempotency keys: a claim taken atomically by the first request ("in progress", with a short lease), then
completed with the job id for 24 h, or released if the create failed. Memory and Redis, one contract suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from gateway.store.connect import RedisClient
from gateway.store.redis import store_errors


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    fingerprint: str
    token: str
    job_id: str | None = None


class IdempotencyKeys(Protocol):
    async def claim(self, key: str, *, fingerprint: str, token: str, ttl_s: float) -> IdempotencyRecord | None:
        """Take the key for `ttl_s` unless it is held: None when taken, else the record holding it."""
        ...

    async def complete(self, key: str, *, token: str, job_id: str, ttl_s: float) -> bool:
        """Record the job made under our claim and keep it `ttl_s`; False if the claim is no longer ours."""
        ...

    async def release(self, key: str, *, token: str) -> None:
        """Drop our claim (the create failed) so a retry can proceed; someone else's claim is left alone."""
        ...


# Expired keys are dropped when touched, and all at once every this many claims (a long-lived dev process).
_SWEEP_EVERY = 1024


class MemoryIdempotencyKeys:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._records: dict[str, tuple[IdempotencyRecord, float]] = {}
        self._claims = 0

    def _live(self, key: str) -> IdempotencyRecord | None:
        held = self._records.get(key)
        if held is None or held[1] <= self._clock():
            self._records.pop(key, None)
            return None
        return held[0]

    async def claim(self, key: str, *, fingerprint: str, token: str, ttl_s: float) -> IdempotencyRecord | None:
        self._claims += 1
        if self._claims % _SWEEP_EVERY == 0:
            now = self._clock()
            self._records = {k: held for k, held in self._records.items() if held[1] > now}
        current = self._live(key)
        if current is not None:
            return current
        self._records[key] = (IdempotencyRecord(fingerprint=fingerprint, token=token), self._clock() + ttl_s)
        return None

    async def complete(self, key: str, *, token: str, job_id: str, ttl_s: float) -> bool:
        current = self._live(key)
        if current is None or current.token != token:
            return False
        self._records[key] = (msgspec.structs.replace(current, job_id=job_id), self._clock() + ttl_s)
        return True

    async def release(self, key: str, *, token: str) -> None:
        current = self._live(key)
        if current is not None and current.token == token:
            del self._records[key]


_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HMGET', KEYS[1], 'fingerprint', 'token', 'job') end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1], 'token', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return false
"""

_COMPLETE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'job', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class RedisIdempotencyKeys:
    """One hash per key under `idem:`, expiring with its claim (short) or its record (24 h)."""

    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._prefix = f"{prefix}idem:"
        self._claim = client.register_script(_CLAIM)
        self._complete = client.register_script(_COMPLETE)
        self._release = client.register_script(_RELEASE)

    @store_errors
    async def claim(self, key: str, *, fingerprint: str, token: str, ttl_s: float) -> IdempotencyRecord | None:
        held: list[bytes | None] | None = await self._claim(
            keys=[self._prefix + key], args=[fingerprint, token, _ms(ttl_s)]
        )
        if held is None:
            return None
        stored_fingerprint, stored_token, job_id = (b.decode() if b is not None else None for b in held)
        return IdempotencyRecord(fingerprint=stored_fingerprint or "", token=stored_token or "", job_id=job_id)

    @store_errors
    async def complete(self, key: str, *, token: str, job_id: str, ttl_s: float) -> bool:
        return bool(await self._complete(keys=[self._prefix + key], args=[token, job_id, _ms(ttl_s)]))

    @store_errors
    async def release(self, key: str, *, token: str) -> None:
        await self._release(keys=[self._prefix + key], args=[token])


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))

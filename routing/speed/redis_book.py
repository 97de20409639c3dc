"""Observed speeds shared by every replica through Redis. An observation is one Lua script (the EWMA step and the
count, atomic per provider x model); reads come from this process's copy, refreshed in the background at most every
`refresh_s`, so ranking never waits on Redis. A Redis error is logged and leaves the copy as it was: speed only
orders candidates, it never blocks a job.

Layout under the prefix: hash `speed`, field `{provider}/{model}` -> `"{count} {ewma_s}"`."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import redis.asyncio as aioredis
import redis.exceptions
import structlog
from redis.asyncio.cluster import RedisCluster

from routing.speed.book import Observed, SpeedBook

log = structlog.get_logger("routing.speed")

# KEYS[1] the hash; ARGV: field, seconds, alpha. The same step as routing.speed.book.ewma; returns the stored value.
_OBSERVE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local seconds, alpha = tonumber(ARGV[2]), tonumber(ARGV[3])
local count, average = 1, seconds
if current then
  local gap = string.find(current, ' ', 1, true)
  local previous = tonumber(string.sub(current, gap + 1))
  count = tonumber(string.sub(current, 1, gap - 1)) + 1
  average = previous + alpha * (seconds - previous)
end
local value = string.format('%d %.17g', count, average)
redis.call('HSET', KEYS[1], ARGV[1], value)
return value
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _parse(value: bytes | str) -> Observed:
    count, _, average = _text(value).partition(" ")
    return Observed(ewma_s=float(average), count=int(count))


class RedisSpeedBook(SpeedBook):
    """Every replica's observations in one hash; this replica reads its copy (see the module docstring)."""

    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        *,
        prefix: str,
        alpha: float = 0.2,
        refresh_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(alpha=alpha)
        self._redis = client
        self._key = f"{prefix}speed"
        self._observe = client.register_script(_OBSERVE)
        self._refresh_s = refresh_s
        self._clock = clock
        self._refreshed_at = -math.inf
        self._refreshing: asyncio.Task[None] | None = None

    async def observe(self, provider: str, model: str, seconds: float) -> None:
        args = [f"{provider}/{model}", repr(float(seconds)), repr(self._alpha)]
        try:
            stored = await self._observe(keys=[self._key], args=args)
        except redis.exceptions.RedisError as exc:
            log.warning("speed_observe_failed", provider=provider, model=model, error=type(exc).__name__)
            return
        self._put(provider, model, _parse(stored))

    async def refresh(self) -> None:
        self._refreshed_at = self._clock()
        try:
            raw = await self._redis.hgetall(self._key)
        except redis.exceptions.RedisError as exc:
            log.warning("speed_refresh_failed", error=type(exc).__name__)
            return
        seen = {}
        for field, value in raw.items():
            provider, _, model = _text(field).partition("/")
            seen[(provider, model)] = _parse(value)
        self._replace_all(seen)

    async def close(self) -> None:
        if self._refreshing is not None:
            await self._refreshing

    def expected_s(self, provider: str, model: str) -> float | None:
        self._refresh_soon()
        return super().expected_s(provider, model)

    def observed(self, provider: str, model: str) -> Observed | None:
        self._refresh_soon()
        return super().observed(provider, model)

    def of(self, provider: str) -> dict[str, float]:
        self._refresh_soon()
        return super().of(provider)

    def _refresh_soon(self) -> None:
        """Start a background refresh if the copy is older than `refresh_s` and none is running."""
        if self._clock() - self._refreshed_at < self._refresh_s:
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._refreshed_at = self._clock()
        self._refreshing = loop.create_task(self.refresh())

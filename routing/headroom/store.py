"""Where the `Headroom` tracker keeps the state it owns: concurrency slots (leases) and the last provider readings,
in process memory or in Redis. Times come from the caller's clock; this module decides nothing about headroom.

Redis layout under the prefix: `headroom:{provider}:slots` zset (job id -> lease expiry, unix s),
`headroom:{provider}:readings` hash (scope -> 20-char receipt time, then the msgpack `Reading`). Every script
touches one key (a flush of several providers' readings is one script per provider), so on a Redis Cluster each
stays in one slot, and providers' keys spread over the slots."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar, ParamSpec, Protocol, TypeVar

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from providers import contract
from routing.batching import BatchedScript, hash_reader

P = ParamSpec("P")
R = TypeVar("R")

_AT_CHARS = 20

# KEYS[1] slots; ARGV: now, lease expiry, cap (-1: none), job id, key ttl. Re-acquiring a held slot renews it.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) == false then
  local cap = tonumber(ARGV[3])
  if cap >= 0 and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS[1] slots; ARGV: now, lease expiry, job id, key ttl. A lease that already ran out is not revived.
_RENEW = """
local held = redis.call('ZSCORE', KEYS[1], ARGV[3])
if held == false or tonumber(held) <= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS[1] one provider's readings hash; ARGV (scope, record) pairs. An older reading never overwrites a newer one
# (replicas flush out of order); the fixed-width receipt time compares as a string.
_PUT_READINGS = """
for i = 1, #ARGV, 2 do
  local scope, record = ARGV[i], ARGV[i + 1]
  local current = redis.call('HGET', KEYS[1], scope)
  if current == false or string.sub(current, 1, 20) <= string.sub(record, 1, 20) then
    redis.call('HSET', KEYS[1], scope, record)
  end
end
return 1
"""


class HeadroomUnavailable(Exception):
    """The shared headroom state (Redis) cannot be reached; routing cannot tell who has capacity."""

    status_code: ClassVar[int] = 503
    code: ClassVar[str] = "headroom_unavailable"
    failover: ClassVar[bool] = False


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """One thing a provider said about its capacity, and when we heard it (the injected clock)."""

    # Encoded under its former name, so readings already stored in Redis still decode.
    report: contract.CapacityReport = msgspec.field(name="headroom")
    at: float


class HeadroomStore(Protocol):
    """The slots and readings one `Headroom` tracker keeps, shared by every replica that uses the same store."""

    async def acquire_slot(self, provider: str, job_id: str, *, now: float, lease_s: float, cap: int | None) -> bool:
        """Hold (or renew) `job_id`'s slot unless `cap` unexpired slots are held by other jobs."""
        ...

    async def renew_slot(self, provider: str, job_id: str, *, now: float, lease_s: float) -> bool:
        """Extend a held, unexpired slot; False if there is none."""
        ...

    async def release_slot(self, provider: str, job_id: str) -> None: ...

    async def in_flight(self, provider: str, *, now: float) -> int: ...

    async def put_readings(self, readings: Sequence[Reading]) -> None:
        """Keep each reading as the latest of its (provider, scope) unless a newer one is already kept."""
        ...

    async def readings(self, provider: str) -> list[Reading]: ...


class MemoryHeadroomStore:
    """One process only: the same contract as `RedisHeadroomStore`, for a single replica and for tests."""

    def __init__(self) -> None:
        self._slots: dict[str, dict[str, float]] = {}
        self._readings: dict[str, dict[str, Reading]] = {}

    def _live(self, provider: str, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(provider, {})
        for job_id in [job_id for job_id, expiry in slots.items() if expiry <= now]:
            del slots[job_id]
        return slots

    async def acquire_slot(self, provider: str, job_id: str, *, now: float, lease_s: float, cap: int | None) -> bool:
        slots = self._live(provider, now)
        if job_id not in slots and cap is not None and len(slots) >= cap:
            return False
        slots[job_id] = now + lease_s
        return True

    async def renew_slot(self, provider: str, job_id: str, *, now: float, lease_s: float) -> bool:
        slots = self._live(provider, now)
        if job_id not in slots:
            return False
        slots[job_id] = now + lease_s
        return True

    async def release_slot(self, provider: str, job_id: str) -> None:
        self._slots.get(provider, {}).pop(job_id, None)

    async def in_flight(self, provider: str, *, now: float) -> int:
        return len(self._live(provider, now))

    async def put_readings(self, readings: Sequence[Reading]) -> None:
        for reading in readings:
            kept = self._readings.setdefault(reading.report.provider, {})
            current = kept.get(reading.report.scope)
            if current is None or current.at <= reading.at:
                kept[reading.report.scope] = reading

    async def readings(self, provider: str) -> list[Reading]:
        return list(self._readings.get(provider, {}).values())


def _unavailable(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis transport failures become the one routing error, here where the calls are made."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise HeadroomUnavailable("the shared headroom state (Redis) is unreachable") from exc

    return wrapper


class RedisHeadroomStore:
    """Shared by every replica: each read-modify-write is one Lua script, so replicas never race. Concurrent slot
    acquires and renewals share a pipeline on a single node (each script still atomic, with its own result and
    error: the creates in flight claim together, and a replica taking jobs over renews their slots together).
    Readings are read through the client's `hash_reader`, which the gate's screen shares with the circuit breakers
    (one round trip for both)."""

    def __init__(self, client: aioredis.Redis | RedisCluster, *, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix
        self._hashes = hash_reader(client)
        self._acquire = BatchedScript(client, _ACQUIRE)
        self._renew = BatchedScript(client, _RENEW)
        self._put = client.register_script(_PUT_READINGS)
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Reading)

    def _slots_key(self, provider: str) -> str:
        return f"{self._prefix}headroom:{provider}:slots"

    def _readings_key(self, provider: str) -> str:
        return f"{self._prefix}headroom:{provider}:readings"

    @_unavailable
    async def acquire_slot(self, provider: str, job_id: str, *, now: float, lease_s: float, cap: int | None) -> bool:
        args: list[str | int] = [repr(now), repr(now + lease_s), -1 if cap is None else cap, job_id, _ttl_s(lease_s)]
        return bool(await self._acquire(keys=[self._slots_key(provider)], args=args))

    @_unavailable
    async def renew_slot(self, provider: str, job_id: str, *, now: float, lease_s: float) -> bool:
        args: list[str | int] = [repr(now), repr(now + lease_s), job_id, _ttl_s(lease_s)]
        return bool(await self._renew(keys=[self._slots_key(provider)], args=args))

    @_unavailable
    async def release_slot(self, provider: str, job_id: str) -> None:
        await self._redis.zrem(self._slots_key(provider), job_id)

    @_unavailable
    async def in_flight(self, provider: str, *, now: float) -> int:
        return int(await self._redis.zcount(self._slots_key(provider), f"({now!r}", "+inf"))

    @_unavailable
    async def put_readings(self, readings: Sequence[Reading]) -> None:
        by_provider: dict[str, list[str | bytes]] = {}
        for reading in readings:
            record = f"{reading.at:0{_AT_CHARS}.6f}".encode() + self._encoder.encode(reading)
            by_provider.setdefault(reading.report.provider, []).extend([reading.report.scope, record])
        puts = [self._put(keys=[self._readings_key(p)], args=args) for p, args in by_provider.items()]
        if len(puts) == 1:  # the usual case, one reply's readings: no task to gather it with
            await puts[0]
        else:
            await asyncio.gather(*puts)

    @_unavailable
    async def readings(self, provider: str) -> list[Reading]:
        records = await self._hashes.hgetall(self._readings_key(provider))
        return [self._decoder.decode(memoryview(record)[_AT_CHARS:]) for record in records.values()]


def _ttl_s(lease_s: float) -> int:
    """The slots key outlives its longest lease, so a provider nobody uses any more leaves nothing behind."""
    return math.ceil(lease_s) + 1

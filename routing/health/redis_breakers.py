"""Circuit breakers in Redis, shared by every replica: each read-modify-write is one Lua script, so it is atomic.

One hash per provider at `{prefix}breaker:{provider}`: state, opened_at, probes, probe_at and the bucket ring
(`i<slot>`, `c<slot>`, `f<slot>`). Time comes from the injected clock as an argument, never Redis TIME."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from routing.health.breakers import (
    BUCKETS,
    BreakerSettings,
    Circuit,
    CircuitSnapshot,
    CircuitState,
    HealthUnavailable,
    bucket_of,
    snapshot_of,
)

P = ParamSpec("P")
R = TypeVar("R")

# Mirrors routing.health.breakers.effective and window_counts; the contract suite runs both implementations.
_FUNCTIONS = """
local function load(key)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
local function num(h, field) return tonumber(h[field] or '0') end
local function effective(h, now, cooldown_s)
  local state, probes = h['state'] or 'closed', num(h, 'probes')
  if state == 'open' and now >= num(h, 'opened_at') + cooldown_s then state, probes = 'half_open', 0 end
  if state == 'half_open' and probes > 0 and now >= num(h, 'probe_at') + cooldown_s then probes = 0 end
  return state, probes
end
local function window(h, bucket, buckets)
  local calls, fails = 0, 0
  for s = 0, buckets - 1 do
    local index = tonumber(h['i' .. s])
    if index and index > bucket - buckets then
      calls, fails = calls + tonumber(h['c' .. s]), fails + tonumber(h['f' .. s])
    end
  end
  return calls, fails
end
"""

# KEYS: circuit. ARGV: now, cooldown_s, half_open_probes. Returns 1 when the call may go ahead.
_ALLOW = (
    _FUNCTIONS
    + """
local now = tonumber(ARGV[1])
local state, probes = effective(load(KEYS[1]), now, tonumber(ARGV[2]))
if state == 'closed' then return 1 end
if state == 'open' or probes >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probes', probes + 1, 'probe_at', ARGV[1])
return 1
"""
)

# KEYS: circuit. ARGV: now, ok (1/0), bucket, buckets, min_calls, failure_ratio, cooldown_s. Returns the state.
_RECORD = (
    _FUNCTIONS
    + """
local h = load(KEYS[1])
local state, probes = effective(h, tonumber(ARGV[1]), tonumber(ARGV[7]))
local ok = ARGV[2] == '1'
if state == 'open' or (state == 'half_open' and probes == 0) then return state end
if state == 'half_open' and ok then
  redis.call('DEL', KEYS[1])
  return 'closed'
end
if state == 'closed' then
  local bucket, buckets = tonumber(ARGV[3]), tonumber(ARGV[4])
  local slot = bucket % buckets
  local calls, fails = 0, 0
  if tonumber(h['i' .. slot]) == bucket then calls, fails = num(h, 'c' .. slot), num(h, 'f' .. slot) end
  calls = calls + 1
  if not ok then fails = fails + 1 end
  h['i' .. slot], h['c' .. slot], h['f' .. slot] = bucket, calls, fails
  redis.call('HSET', KEYS[1], 'i' .. slot, ARGV[3], 'c' .. slot, calls, 'f' .. slot, fails)
  local total, failed = window(h, bucket, buckets)
  if total < tonumber(ARGV[5]) or failed < tonumber(ARGV[6]) * total then return 'closed' end
end
redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'probes', 0)
return 'open'
"""
)


def _health_errors(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis transport failures become one routing error, here where the calls are made."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise HealthUnavailable("the shared circuit breaker state is unreachable") from exc

    return wrapper


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _circuit(raw: dict[Any, Any]) -> Circuit:
    """The stored hash as a Circuit, for the same snapshot logic the in-memory breakers use."""
    fields = {_text(k): _text(v) for k, v in raw.items()}
    slots = {
        slot: (int(fields[f"i{slot}"]), int(fields[f"c{slot}"]), int(fields[f"f{slot}"]))
        for slot in range(BUCKETS)
        if f"i{slot}" in fields
    }
    return Circuit(
        state=CircuitState(fields.get("state", CircuitState.CLOSED)),
        opened_at=float(fields["opened_at"]) if "opened_at" in fields else None,
        probes=int(fields.get("probes", 0)),
        probe_at=float(fields.get("probe_at", 0.0)),
        slots=slots,
    )


class RedisCircuitBreakers:
    def __init__(
        self,
        client: aioredis.Redis | RedisCluster,
        settings: BreakerSettings,
        *,
        clock: Callable[[], float],
        prefix: str = "vg:",
    ) -> None:
        self._redis = client
        self._settings = settings
        self._clock = clock
        self._prefix = prefix
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)

    def _key(self, provider: str) -> str:
        return f"{self._prefix}breaker:{provider}"

    @_health_errors
    async def allow(self, provider: str) -> bool:
        s = self._settings
        args: list[str | int] = [repr(self._clock()), repr(s.cooldown_s), s.half_open_probes]
        return bool(await self._allow(keys=[self._key(provider)], args=args))

    @_health_errors
    async def record(self, provider: str, *, ok: bool) -> CircuitState:
        s, now = self._settings, self._clock()
        args: list[str | int] = [
            repr(now),
            int(ok),
            bucket_of(now, s),
            BUCKETS,
            s.min_calls,
            repr(s.failure_ratio),
            repr(s.cooldown_s),
        ]
        return CircuitState(_text(await self._record(keys=[self._key(provider)], args=args)))

    @_health_errors
    async def snapshot(self, provider: str) -> CircuitSnapshot:
        raw = await self._redis.hgetall(self._key(provider))
        return snapshot_of(_circuit(raw), self._clock(), self._settings)

    @_health_errors
    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]:
        names = list(providers)
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._key(name))
            raws: list[dict[Any, Any]] = await pipe.execute()
        now = self._clock()
        return {name: snapshot_of(_circuit(raw), now, self._settings) for name, raw in zip(names, raws, strict=True)}

"""Circuit breakers in Redis, shared by every replica: each read-modify-write is one Lua script, so it is atomic.

One hash per provider at `{prefix}breaker:{provider}`: state, opened_at, probes, probe_at and the bucket ring
(`i<slot>`, `c<slot>`, `f<slot>`). Time comes from the injected clock as an argument, never Redis TIME.

Successes while quiet are counted here and written later. A success only changes what the breaker decides when
the window holds failures (it dilutes their ratio) or when it closes a half-open circuit. So while this replica
last saw the circuit closed with no failure in its window (a reply of the record script, or a read: the create
path's screen reads every create), and holds no probe, a success adds to a count per bucket in this process
instead of a Lua call per submit. The counts go to Redis with the next outcome that does make a call (a failure,
a success once the circuit is no longer quiet) or with the first success of a later bucket, so at most one
bucket's worth (window_s / 10) waits; a failure always counts every success before it. Until then another
replica's failures are judged against fewer calls than were made, so the circuit may open sooner than the exact
count would open it, never later. This replica's own reads (`snapshot(s)`) include what it holds back.

`allow` makes no call either while such a quiet reading is younger than the cooldown (and one bucket): a circuit
opened since cannot be half-open yet, so no probe is ever skipped; the one difference is that a call may pass a
circuit another replica opened after that reading (the create path's screen reads just before its claim), as a call
admitted just before it opened passes now, and its outcome is ignored the same way."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from routing.batching import hash_reader
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

# KEYS: circuit. ARGV: now, cooldown_s, half_open_probes. Returns 1 when the call may go ahead, 2 when it may as
# a half-open probe, 0 when not.
_ALLOW = (
    _FUNCTIONS
    + """
local now = tonumber(ARGV[1])
local state, probes = effective(load(KEYS[1]), now, tonumber(ARGV[2]))
if state == 'closed' then return 1 end
if state == 'open' or probes >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probes', probes + 1, 'probe_at', ARGV[1])
return 2
"""
)

# KEYS: circuit. ARGV: now, ok (1/0), bucket, buckets, min_calls, failure_ratio, cooldown_s, then (bucket,
# successes) pairs held back by the caller, counted before this outcome. Returns {state, failures in the window}
# (the failures only when closed, else -1).
_RECORD = (
    _FUNCTIONS
    + """
local h = load(KEYS[1])
local state, probes = effective(h, tonumber(ARGV[1]), tonumber(ARGV[7]))
local ok = ARGV[2] == '1'
if state == 'open' or (state == 'half_open' and probes == 0) then return {state, -1} end
if state == 'half_open' and ok then
  redis.call('DEL', KEYS[1])
  return {'closed', 0}
end
if state == 'closed' then
  local bucket, buckets = tonumber(ARGV[3]), tonumber(ARGV[4])
  local function add(at, calls_added, fails_added)
    if at <= bucket - buckets then return end
    local slot = at % buckets
    local index = tonumber(h['i' .. slot])
    if index ~= nil and index > at then return end
    local calls, fails = 0, 0
    if index == at then calls, fails = num(h, 'c' .. slot), num(h, 'f' .. slot) end
    calls, fails = calls + calls_added, fails + fails_added
    h['i' .. slot], h['c' .. slot], h['f' .. slot] = at, calls, fails
    redis.call('HSET', KEYS[1], 'i' .. slot, at, 'c' .. slot, calls, 'f' .. slot, fails)
  end
  for i = 8, #ARGV, 2 do add(tonumber(ARGV[i]), tonumber(ARGV[i + 1]), 0) end
  if ok then add(bucket, 1, 0) else add(bucket, 1, 1) end
  local total, failed = window(h, bucket, buckets)
  if total < tonumber(ARGV[5]) or failed < tonumber(ARGV[6]) * total then return {'closed', failed} end
end
redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'probes', 0)
return {'open', -1}
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


def _with_held(circuit: Circuit, held: dict[int, int], current_bucket: int) -> Circuit:
    """`circuit` with the successes this replica holds back counted in, as the record script would count them."""
    if not held or circuit.state is not CircuitState.CLOSED:
        return circuit
    slots = dict(circuit.slots)
    for bucket, successes in held.items():
        slot = bucket % BUCKETS
        index, calls, fails = slots.get(slot, (bucket, 0, 0))
        if bucket <= current_bucket - BUCKETS or index > bucket:
            continue
        if index < bucket:
            calls, fails = 0, 0
        slots[slot] = (bucket, calls + successes, fails)
    return msgspec.structs.replace(circuit, slots=slots)


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
        # The snapshots' reads, shared with the headroom store on the same client: a screen reads both at once.
        self._hashes = hash_reader(client)
        self._settings = settings
        self._clock = clock
        self._prefix = prefix
        self._allow = client.register_script(_ALLOW)
        self._record = client.register_script(_RECORD)
        # Per provider: successes held back per bucket, when (clock) a reply last said quiet, probes admitted here.
        self._held: dict[str, dict[int, int]] = {}
        self._quiet_since: dict[str, float] = {}
        self._probes: dict[str, int] = {}

    def _key(self, provider: str) -> str:
        return f"{self._prefix}breaker:{provider}"

    def _saw(self, provider: str, state: CircuitState, failures: int, now: float) -> None:
        """Note what a reply said: quiet (closed, no failure in the window) as of now, or not."""
        if state is CircuitState.CLOSED and failures == 0:
            self._quiet_since[provider] = now
        else:
            self._quiet_since.pop(provider, None)

    def _quiet_for(self, provider: str, now: float) -> float:
        """How long ago a reply last said the circuit was quiet; infinite if the last one did not."""
        return now - self._quiet_since.get(provider, -math.inf)

    @_health_errors
    async def allow(self, provider: str) -> bool:
        s, now = self._settings, self._clock()
        if self._quiet_for(provider, now) < min(s.cooldown_s, s.window_s / BUCKETS):
            return True
        args: list[str | int] = [repr(now), repr(s.cooldown_s), s.half_open_probes]
        admitted = int(await self._allow(keys=[self._key(provider)], args=args))
        if admitted == 2:  # a probe: its outcome must reach Redis at once
            self._probes[provider] = self._probes.get(provider, 0) + 1
            self._quiet_since.pop(provider, None)
        return admitted > 0

    @_health_errors
    async def record(self, provider: str, *, ok: bool) -> CircuitState:
        s, now = self._settings, self._clock()
        bucket = bucket_of(now, s)
        probing = self._probes.get(provider, 0)
        quiet = self._quiet_for(provider, now) < s.window_s / BUCKETS
        if ok and not probing and quiet and all(b == bucket for b in self._held.get(provider, {})):
            held = self._held.setdefault(provider, {})
            held[bucket] = held.get(bucket, 0) + 1
            return CircuitState.CLOSED
        if probing:
            self._probes[provider] = probing - 1
        # Taken out before the call: successes held back while it is in flight wait for the next one.
        held = self._held.pop(provider, {})
        args: list[str | int] = [
            repr(now),
            int(ok),
            bucket,
            BUCKETS,
            s.min_calls,
            repr(s.failure_ratio),
            repr(s.cooldown_s),
        ]
        for held_bucket, successes in held.items():
            args += [held_bucket, successes]
        try:
            state, failures = await self._record(keys=[self._key(provider)], args=args)
        except BaseException:
            for held_bucket, successes in held.items():  # not written: held back again, for the next call
                again = self._held.setdefault(provider, {})
                again[held_bucket] = again.get(held_bucket, 0) + successes
            raise
        said = CircuitState(_text(state))
        self._saw(provider, said, int(failures), now)
        return said

    @_health_errors
    async def snapshot(self, provider: str) -> CircuitSnapshot:
        return (await self.snapshots([provider]))[provider]

    @_health_errors
    async def snapshots(self, providers: Iterable[str]) -> dict[str, CircuitSnapshot]:
        names = list(providers)
        raws = await self._hashes.hgetall_many([self._key(name) for name in names])
        now, snapshots = self._clock(), {}
        for name, raw in zip(names, raws, strict=True):
            stored = _circuit(raw)
            seen = snapshot_of(stored, now, self._settings)
            self._saw(name, seen.state, seen.failures, now)
            held = self._held.get(name)
            snapshots[name] = (
                snapshot_of(_with_held(stored, held, bucket_of(now, self._settings)), now, self._settings)
                if held
                else seen
            )
        return snapshots

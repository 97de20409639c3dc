"""The budget book in Redis, shared by every replica: each write is one Lua script, so reservations from any number
of replicas never pass a limit together and a job settles into the ledger once.

Layout under the prefix, every key starting `usage:{usage}:` (written `U` here): `U:holds` zset (job id -> hold
expiry), `U:hold:<job>` hash (cost_micros, video_seconds, msgpack record), `U:month:<YYYY-MM>:<scope>` hash
(spent/reserved micros and seconds), `U:month:<YYYY-MM>:scopes` set, `U:active:<scope>` set (concurrency slots),
`U:settled:<YYYY-MM>` set (the exactly-once marker) and `U:settled_months` set (the months that have one, for
retention), `U:ledger` stream (the append-only records), `U:day:<YYYY-MM-DD>` hash
(`<counter>|<json [team, key, provider, model]>` -> count). Scopes are `team:<name>` and `key:<id>`.

Hash slots (Redis Cluster): every usage key carries the one hash tag `{usage}`, so the whole book is one slot. A
reserve checks and moves a team's and a key's month together with the global hold index; a settle writes the
exactly-once marker, the ledger, the day aggregate, both months and the hold in one step: each must be one script,
so all of those keys must share a slot. Tagging by team instead would spread the book over slots, but only the
global pieces make it answerable without a scan: the hold index the expiry sweep reads, the ledger read in
settlement order, the day aggregates and the month's scope list the reports read. Per-team they would become one
of each per team, read by fanning out over an index of teams written outside the scripts, and a gateway with one
busy team would gain nothing. The book is three scripts per job (reserve, resize, settle) against the job store's
claims and writes for the job's whole life, which the store spreads over 16 slots: in bench/cluster_load.py (200
jobs) the `{usage}` slot took 2% of the commands sent and 16% of all the commands Redis ran (its scripts are the
longest), the job and schedule slots 76%. One slot for it keeps every usage script and read as on a single node."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any, ParamSpec, TypeVar, cast

import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from gateway.errors import StoreUnavailable
from gateway.store.batching import BatchedScript
from gateway.usage.budget import month_end
from gateway.usage.quota_settings import Allowance
from gateway.usage.records import (
    DayAggregate,
    Hold,
    LedgerRecord,
    Quota,
    Refusal,
    ScopeKind,
    ScopeTotals,
    increments,
    scope_id,
)

P = ParamSpec("P")
R = TypeVar("R")

# Amounts are kept as integer strings and passed through as strings: Lua numbers print large values in exponent
# form, which HINCRBY refuses. `minus` negates one ("-0" is not an integer to Redis).
_DROP = """
local function minus(v) if v == '0' then return '0' end return '-' .. v end
local function drop(holds, hold, team_month, key_month, team_active, key_active, job)
  redis.call('SREM', team_active, job)
  redis.call('SREM', key_active, job)
  local held = redis.call('HMGET', hold, 'cost_micros', 'video_seconds')
  if not held[1] then return 0 end
  for _, month in ipairs({team_month, key_month}) do
    redis.call('HINCRBY', month, 'reserved_micros', minus(held[1]))
    redis.call('HINCRBY', month, 'reserved_seconds', minus(held[2]))
  end
  redis.call('DEL', hold)
  redis.call('ZREM', holds, job)
  return 1
end
"""

# KEYS: holds, hold, team month, key month, team active, key active, month scopes.
# ARGV: job, expiry, cost, seconds, record, team scope, key scope, then per scope (team at 8, key at 11) its
# max concurrent jobs, budget micros and video seconds, '' for none.
_RESERVE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {1} end
local scopes = {{'team', KEYS[3], KEYS[5], 8}, {'key', KEYS[4], KEYS[6], 11}}
for _, s in ipairs(scopes) do
  local cap = ARGV[s[4]]
  local active = redis.call('SCARD', s[3])
  if cap ~= '' and active >= tonumber(cap) then
    return {0, s[1], 'max_concurrent_jobs', cap, tostring(active), '0', '1'}
  end
end
local checks = {{'monthly_budget_usd', 1, 'spent_micros', 'reserved_micros', 3},
                {'monthly_video_seconds', 2, 'spent_seconds', 'reserved_seconds', 4}}
for _, s in ipairs(scopes) do
  for _, c in ipairs(checks) do
    local limit = ARGV[s[4] + c[2]]
    if limit ~= '' then
      local spent = redis.call('HGET', s[2], c[3]) or '0'
      local reserved = redis.call('HGET', s[2], c[4]) or '0'
      if tonumber(spent) + tonumber(reserved) + tonumber(ARGV[c[5]]) > tonumber(limit) then
        return {0, s[1], c[1], limit, spent, reserved, ARGV[c[5]]}
      end
    end
  end
end
for _, s in ipairs(scopes) do
  redis.call('HINCRBY', s[2], 'reserved_micros', ARGV[3])
  redis.call('HINCRBY', s[2], 'reserved_seconds', ARGV[4])
  redis.call('SADD', s[3], ARGV[1])
end
redis.call('SADD', KEYS[7], ARGV[6], ARGV[7])
redis.call('HSET', KEYS[2], 'cost_micros', ARGV[3], 'video_seconds', ARGV[4], 'record', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return {1}
"""

# KEYS: holds, hold, team month, key month. ARGV: job, expiry, cost, seconds, record.
_RESIZE = (
    _DROP
    + """
local held = redis.call('HMGET', KEYS[2], 'cost_micros', 'video_seconds')
if not held[1] then return 0 end
for _, month in ipairs({KEYS[3], KEYS[4]}) do
  redis.call('HINCRBY', month, 'reserved_micros', minus(held[1]))
  redis.call('HINCRBY', month, 'reserved_micros', ARGV[3])
  redis.call('HINCRBY', month, 'reserved_seconds', minus(held[2]))
  redis.call('HINCRBY', month, 'reserved_seconds', ARGV[4])
end
redis.call('HSET', KEYS[2], 'cost_micros', ARGV[3], 'video_seconds', ARGV[4], 'record', ARGV[5])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""
)

# KEYS: holds, hold, team month, key month, team active, key active. ARGV: job.
_RELEASE = _DROP + "return drop(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1])"

# KEYS: settled, ledger, day, team month, key month, month scopes, holds, hold, team active, key active, settled
# months. ARGV: job, record, cost, seconds, team scope, key scope, month, then (day field, amount) pairs.
_SETTLE = (
    _DROP
    + """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SADD', KEYS[11], ARGV[7])
redis.call('XADD', KEYS[2], '*', 'job', ARGV[1], 'record', ARGV[2])
for i = 8, #ARGV, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
for _, month in ipairs({KEYS[4], KEYS[5]}) do
  redis.call('HINCRBY', month, 'spent_micros', ARGV[3])
  redis.call('HINCRBY', month, 'spent_seconds', ARGV[4])
end
redis.call('SADD', KEYS[6], ARGV[5], ARGV[6])
drop(KEYS[7], KEYS[8], KEYS[4], KEYS[5], KEYS[9], KEYS[10], ARGV[1])
return 1
"""
)


def _unavailable(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis transport failures become the store error, here where the calls are made: admission then refuses
    (503) rather than admitting a job it cannot account for."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable("the usage store is unreachable") from exc

    return wrapper


def _limit(value: int | None) -> str:
    return "" if value is None else str(value)


class RedisBudgetBook:
    def __init__(self, client: aioredis.Redis | RedisCluster, *, prefix: str) -> None:
        self._redis = client
        self._prefix = f"{prefix}usage:{{usage}}:"
        self._holds_key = f"{self._prefix}holds"
        self._ledger_key = f"{self._prefix}ledger"
        self._settled_months_key = f"{self._prefix}settled_months"
        # A create's reserve and resize share a round trip with what runs beside them (concurrent creates' calls, the
        # job write the resize is started with): each call stays one atomic script.
        self._reserve = BatchedScript(client, _RESERVE)
        self._resize = BatchedScript(client, _RESIZE)
        self._release = client.register_script(_RELEASE)
        self._settle = client.register_script(_SETTLE)
        self._holds_codec = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(Hold))
        self._record_codec = (msgspec.msgpack.Encoder(), msgspec.msgpack.Decoder(LedgerRecord))

    def _hold_key(self, job_id: str) -> str:
        return f"{self._prefix}hold:{job_id}"

    def _month_key(self, month: str, kind: ScopeKind, name: str) -> str:
        return f"{self._prefix}month:{month}:{scope_id(kind, name)}"

    def _active_key(self, kind: ScopeKind, name: str) -> str:
        return f"{self._prefix}active:{scope_id(kind, name)}"

    def _hold_keys(self, team: str, key_id: str, job_id: str, month: str) -> list[str]:
        """holds, hold, team month, key month, team active, key active."""
        return [
            self._holds_key,
            self._hold_key(job_id),
            self._month_key(month, "team", team),
            self._month_key(month, "key", key_id),
            self._active_key("team", team),
            self._active_key("key", key_id),
        ]

    @_unavailable
    async def reserve(self, hold: Hold, *, team: Allowance, key: Allowance) -> Refusal | None:
        keys = [*self._hold_keys(hold.team, hold.key_id, hold.job_id, hold.month)]
        keys.append(f"{self._prefix}month:{hold.month}:scopes")
        args: list[str | bytes] = [
            hold.job_id,
            repr(hold.expires_at),
            str(hold.cost_micros),
            str(hold.video_seconds),
            self._holds_codec[0].encode(hold),
            scope_id("team", hold.team),
            scope_id("key", hold.key_id),
        ]
        for allowance in (team, key):
            args += [_limit(allowance.max_concurrent_jobs), _limit(allowance.budget_micros)]
            args.append(_limit(allowance.video_seconds))
        reply = cast(list[Any], await self._reserve(keys=keys, args=args))
        if int(reply[0]) == 1:
            return None
        kind, quota, *numbers = (v.decode() if isinstance(v, bytes) else str(v) for v in reply[1:])
        limit, used, reserved, requested = (int(n) for n in numbers)
        return Refusal(
            scope=cast(ScopeKind, kind),
            name=hold.team if kind == "team" else hold.key_id,
            quota=cast(Quota, quota),
            limit=limit,
            used=used,
            reserved=reserved,
            requested=requested,
        )

    @_unavailable
    async def resize(self, hold: Hold) -> bool:
        keys = self._hold_keys(hold.team, hold.key_id, hold.job_id, hold.month)[:4]
        record = self._holds_codec[0].encode(hold)
        args: list[str | bytes] = [
            hold.job_id,
            repr(hold.expires_at),
            str(hold.cost_micros),
            str(hold.video_seconds),
            record,
        ]
        return bool(await self._resize(keys=keys, args=args))

    @_unavailable
    async def release(self, job_id: str) -> bool:
        raw = cast(bytes | None, await self._redis.hget(self._hold_key(job_id), "record"))
        if raw is None:
            return False
        held = self._holds_codec[1].decode(raw)
        keys = self._hold_keys(held.team, held.key_id, job_id, held.month)
        return bool(await self._release(keys=keys, args=[job_id]))

    @_unavailable
    async def settle(self, record: LedgerRecord) -> bool:
        team, key, month = record.team, record.key_id, record.month
        holds, hold, team_month, key_month, team_active, key_active = self._hold_keys(team, key, record.job_id, month)
        keys = [
            f"{self._prefix}settled:{month}",
            self._ledger_key,
            f"{self._prefix}day:{record.day}",
            team_month,
            key_month,
            f"{self._prefix}month:{month}:scopes",
            holds,
            hold,
            team_active,
            key_active,
            self._settled_months_key,
        ]
        dims = json.dumps([record.team, record.key_id, record.provider, record.model])
        args: list[str | bytes] = [
            record.job_id,
            self._record_codec[0].encode(record),
            str(record.cost_micros),
            str(record.video_seconds),
            scope_id("team", team),
            scope_id("key", key),
            month,
        ]
        for counter, amount in increments(record).items():
            args += [f"{counter}|{dims}", str(amount)]
        return bool(await self._settle(keys=keys, args=args))

    @_unavailable
    async def expired(self, now: float, *, limit: int) -> list[str]:
        raw = cast(list[bytes], await self._redis.zrangebyscore(self._holds_key, "-inf", repr(now), start=0, num=limit))
        return [r.decode() for r in raw]

    @_unavailable
    async def holds(self) -> list[Hold]:
        ids = [r.decode() for r in cast(list[bytes], await self._redis.zrange(self._holds_key, 0, -1))]
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(self._hold_key(job_id), "record")
            records = await pipe.execute()
        return [self._holds_codec[1].decode(r) for r in records if r is not None]

    @_unavailable
    async def totals(self, kind: ScopeKind, name: str, month: str) -> ScopeTotals:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._month_key(month, kind, name))
            pipe.scard(self._active_key(kind, name))
            kept, active = await pipe.execute()
        fields = {k.decode(): int(v) for k, v in kept.items()}
        return ScopeTotals(**fields, active_jobs=int(active))

    @_unavailable
    async def scopes(self, month: str) -> list[tuple[ScopeKind, str]]:
        found: list[tuple[ScopeKind, str]] = []
        for raw in cast(set[bytes], await self._redis.smembers(f"{self._prefix}month:{month}:scopes")):
            kind, _, name = raw.decode().partition(":")
            found.append(("team" if kind == "team" else "key", name))
        return sorted(found)

    @_unavailable
    async def aggregates(self, days: Sequence[str]) -> list[DayAggregate]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(f"{self._prefix}day:{day}")
            kept = await pipe.execute()
        found: list[DayAggregate] = []
        for day, fields in zip(days, kept, strict=True):
            groups: dict[tuple[str, ...], dict[str, int]] = {}
            for field, amount in fields.items():
                counter, _, dims = field.decode().partition("|")
                groups.setdefault(tuple(json.loads(dims)), {})[counter] = int(amount)
            for (team, key, provider, model), counters in groups.items():
                found.append(DayAggregate(day=day, team=team, key_id=key, provider=provider, model=model, **counters))
        return found

    @_unavailable
    async def trim(self, now: float, *, keep_s: float) -> None:
        # Stream ids are the Redis millisecond of the append, which follows `settled_at` closely; exact (not `~`)
        # so what is kept does not depend on the stream's node size, at a cost paid once per sweep.
        cutoff = now - keep_s
        await self._redis.xtrim(self._ledger_key, minid=str(max(0, int(cutoff * 1000))), approximate=False)
        months = [m.decode() for m in cast(set[bytes], await self._redis.smembers(self._settled_months_key))]
        ended = [month for month in months if month_end(month) <= cutoff]
        if ended:
            # The markers first, then the index: a failure in between leaves a month the next sweep drops again.
            await self._redis.delete(*(f"{self._prefix}settled:{month}" for month in ended))
            await self._redis.srem(self._settled_months_key, *ended)

    async def records(self, *, settled_from: float = 0.0) -> AsyncIterator[LedgerRecord]:
        # Stream ids start with the (Redis) millisecond they were appended at, just after `settled_at`; a day of
        # margin covers any clock skew between replicas and Redis, the filter below does the rest.
        after = f"{max(0, int(settled_from * 1000) - 86_400_000)}" if settled_from else "-"
        while True:
            try:
                entries = cast(
                    list[tuple[bytes, dict[bytes, bytes]]],
                    await self._redis.xrange(self._ledger_key, min=after, max="+", count=500),
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                raise StoreUnavailable("the usage store is unreachable") from exc
            for _, fields in entries:
                record = self._record_codec[1].decode(fields[b"record"])
                if record.settled_at >= settled_from:
                    yield record
            if len(entries) < 500:
                return
            after = "(" + entries[-1][0].decode()

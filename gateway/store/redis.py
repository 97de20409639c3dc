"""Redis store: the state every replica shares. Each write that touches several keys is one Lua script.

Layout under the prefix: `job:{id}` string (12-digit version, then the msgpack record; one string so reads
batch into MGET), `team:{team}` zset (lex-ordered ids), `poll` zset (id -> due unix time).

Retention (when given): a finalized job's record is written with a TTL, in the same script that takes it off the
schedule; a create trims its team's index of ids created before the index cutoff (ids start with the creation
time in hex ms, so that is one ZREMRANGEBYLEX). Listing skips ids whose record is gone."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast

import msgspec
import redis.asyncio as aioredis
import redis.exceptions

from gateway.errors import StoreUnavailable
from gateway.schema.job import VideoJob
from gateway.store.base import Order
from gateway.store.batching import BatchedReader
from gateway.store.connect import redis_client
from gateway.store.retention import RetentionSettings

P = ParamSpec("P")
R = TypeVar("R")

_VERSION_DIGITS = 12

# ARGV[4]: '' or the lowest id the team index keeps (older ones are trimmed: amortized over creates).
_CREATE = """
if redis.call('SET', KEYS[1], ARGV[2], 'NX') == false then return 0 end
if ARGV[4] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[2], '-', '(' .. ARGV[4]) end
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
"""

# Compare-and-set on the 12-digit version prefix, and (re)schedule or unschedule, at once (also the outbox's).
# ARGV[5], when given and not '', is the record's time to live in ms (a finished record's retention).
REPLACE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false or string.sub(current, 1, 12) ~= ARGV[2] then return 0 end
if ARGV[5] ~= nil and ARGV[5] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[5])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
if ARGV[4] == '' then redis.call('ZREM', KEYS[2], ARGV[1]) else redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
return 1
"""

# Take what is due and push each one's due time out by the lease (also the outbox's).
CLAIM_SCRIPT = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[3], id) end
return ids
"""


def _store_errors(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis transport failures become one gateway error, here where the calls are made."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable("the job store is unreachable") from exc

    return wrapper


# The other Redis-backed stores (webhook outbox, idempotency keys) map transport failures the same way.
store_errors = _store_errors


def ttl_ms(seconds: float) -> int:
    """A TTL for PX: whole milliseconds, at least one."""
    return max(1, int(seconds * 1000))


def oldest_kept_id(created_before: float) -> str:
    """The lowest job id created at or after `created_before` can have (see `new_job_id`)."""
    return f"video_{max(0, int(created_before * 1000)):012x}"


class RedisStore:
    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "vg:", retention: RetentionSettings | None = None
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._retention = retention
        self._poll_key = f"{prefix}poll"
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(VideoJob)
        self._create = client.register_script(_CREATE)
        self._replace = client.register_script(REPLACE_SCRIPT)
        self._claim = client.register_script(CLAIM_SCRIPT)
        self._reads = BatchedReader(client)

    @property
    def client(self) -> aioredis.Redis:
        """The connection other shared state (headroom, circuit breakers) rides on."""
        return self._redis

    @property
    def prefix(self) -> str:
        return self._prefix

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str,
        retention: RetentionSettings | None = None,
        sentinel_password: str | None = None,
    ) -> RedisStore:
        """A plain `redis://` URL, or `redis+sentinel://` for a sentinel-managed primary (gateway.store.connect)."""
        return cls(redis_client(url, sentinel_password=sentinel_password), prefix=prefix, retention=retention)

    @property
    def retention(self) -> RetentionSettings | None:
        return self._retention

    def _job_key(self, job_id: str) -> str:
        return f"{self._prefix}job:{job_id}"

    def _team_key(self, team: str) -> str:
        return f"{self._prefix}team:{team}"

    @_store_errors
    async def create(self, job: VideoJob, *, poll_at: float) -> bool:
        keys = [self._job_key(job.id), self._team_key(job.team), self._poll_key]
        cutoff = ""
        if self._retention is not None:
            cutoff = oldest_kept_id(job.created_at - self._retention.jobs_s - self._retention.index_grace_s)
        args: list[str | bytes | int] = [job.id, self._record(job), repr(poll_at), cutoff]
        return bool(await self._create(keys=keys, args=args))

    def _record(self, job: VideoJob) -> bytes:
        return b"%0*d" % (_VERSION_DIGITS, job.version) + self._encoder.encode(job)

    def _decode(self, record: bytes) -> VideoJob:
        return self._decoder.decode(memoryview(record)[_VERSION_DIGITS:])

    @_store_errors
    async def get(self, job_id: str) -> VideoJob | None:
        record = await self._reads.get(self._job_key(job_id))
        return None if record is None else self._decode(record)

    @_store_errors
    async def replace(self, job: VideoJob, *, expected_version: int, poll_at: float | None) -> bool:
        keys = [self._job_key(job.id), self._poll_key]
        due = "" if poll_at is None else repr(poll_at)
        expected = b"%0*d" % (_VERSION_DIGITS, expected_version)
        ttl: str | int = ""
        if self._retention is not None and job.finalized_at is not None:
            ttl = ttl_ms(self._retention.jobs_s)
        args: list[str | bytes | int] = [job.id, expected, self._record(job), due, ttl]
        return bool(await self._replace(keys=keys, args=args))

    @_store_errors
    async def unschedule(self, job_id: str) -> None:
        await self._redis.zrem(self._poll_key, job_id)

    @_store_errors
    async def delete(self, job_id: str) -> None:
        job = await self.get(job_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._job_key(job_id))
            pipe.zrem(self._poll_key, job_id)
            if job is not None:
                pipe.zrem(self._team_key(job.team), job_id)
            await pipe.execute()

    @_store_errors
    async def list_team(
        self, team: str, *, limit: int, after: str | None, order: Order, status: str | None
    ) -> tuple[list[VideoJob], bool]:
        page: list[VideoJob] = []
        cursor = after
        batch = limit + 1 if status is None else max(50, limit * 4)
        while True:
            ids = await self._ids_after(team, cursor, order, batch)
            for job in await self._fetch(ids):
                if job.deleted_at is not None or (status is not None and job.status != status):
                    continue
                if len(page) == limit:
                    return page, True
                page.append(job)
            if len(ids) < batch:
                return page, False
            cursor = ids[-1]

    async def _ids_after(self, team: str, cursor: str | None, order: Order, count: int) -> list[str]:
        key = self._team_key(team)
        if order == "asc":
            low = "-" if cursor is None else f"({cursor}"
            raw = await self._redis.zrangebylex(key, low, "+", start=0, num=count)
        else:
            high = "+" if cursor is None else f"({cursor}"
            raw = await self._redis.zrevrangebylex(key, high, "-", start=0, num=count)
        return [r.decode() if isinstance(r, bytes) else r for r in raw]

    async def _fetch(self, ids: list[str]) -> list[VideoJob]:
        if not ids:
            return []
        records = cast(list[bytes | None], await self._redis.mget([self._job_key(job_id) for job_id in ids]))
        return [self._decode(r) for r in records if r is not None]

    @_store_errors
    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        raw: list[bytes] = await self._claim(keys=[self._poll_key], args=[repr(now), limit, repr(now + lease_s)])
        return [r.decode() for r in raw]

    @_store_errors
    async def next_due_at(self) -> float | None:
        head = await self._redis.zrange(self._poll_key, 0, 0, withscores=True)
        return float(head[0][1]) if head else None

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()

"""Redis store: the state every replica shares, on one node or a Redis Cluster (same code, same keys).

Layout under the prefix: `job:{poll-NN}<id>` string (12-digit version, then the msgpack record; one string so
reads batch into MGET), `team:{<team>}` zset (lex-ordered ids), `poll:{poll-NN}` zsets (id -> due unix time),
the poll schedule sharded into buckets NN derived from the job id (`gateway.store.schedule`).

Hash slots (Redis Cluster): a job's record and its schedule bucket share the `{poll-NN}` tag, so the writes that
must be atomic over both (compare-and-set plus (un)schedule, create plus schedule, delete) stay one Lua script
in one slot; jobs spread over the buckets' slots. A team's index is tagged by team (one slot per team) and is
written in its own step on a cluster: a create adds the id to the index first and then creates the record, a delete
removes the record first and then the id. Either way a failure in between leaves at most an index id without a
record, which listing skips (as it skips records retention dropped); listing also skips a record of another team,
so an id that collided with another team's job could never leak it. On a single node (or a Sentinel-managed
primary), where a script may name keys of any slot, a create is one script doing both steps in the same order:
one round trip, shared with the concurrent creates' (`BatchedScript`). Listing reads its page's records with MGET
per slot on a cluster (the client's `mget_nonatomic`), one MGET on a single node; single reads are batched per slot,
and on a single node concurrent compare-and-set writes share one pipeline (`gateway.store.batching`). The layout
changed from the single-node one (no deployment had data to keep).

Retention (when given): a finalized job's record is written with a TTL, in the same script that takes it off the
schedule; a create trims its team's index of ids created before the index cutoff (ids start with the creation
time in hex ms, so that is one ZREMRANGEBYLEX). Listing skips ids whose record is gone."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import msgspec
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from gateway.errors import StoreUnavailable
from gateway.schema.job import VideoJob
from gateway.store.base import Order
from gateway.store.batching import BatchedReader, BatchedScript, mget
from gateway.store.connect import RedisClient, redis_client
from gateway.store.retention import RetentionSettings
from gateway.store.schedule import ShardedSchedule

P = ParamSpec("P")
R = TypeVar("R")

_VERSION_DIGITS = 12

# KEYS[1] a team index; ARGV[1] the id; ARGV[2] '' or the lowest id the index keeps (older ones are trimmed:
# amortized over creates).
_INDEX = """
if ARGV[2] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[2]) end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
return 1
"""

# KEYS[1] a team index, KEYS[2] the record, KEYS[3] its schedule bucket; ARGV as _INDEX's then CREATE_SCRIPT's
# (id, cutoff, record, due). Single node only: the index is in another slot than the record.
_INDEX_AND_CREATE = """
if ARGV[2] ~= '' then redis.call('ZREMRANGEBYLEX', KEYS[1], '-', '(' .. ARGV[2]) end
redis.call('ZADD', KEYS[1], 0, ARGV[1])
if redis.call('SET', KEYS[2], ARGV[3], 'NX') == false then return 0 end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return 1
"""

# KEYS[1] the record, KEYS[2] its schedule bucket (one slot). Also the outbox's enqueue.
CREATE_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[2], 'NX') == false then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"""

# KEYS[1] the record, KEYS[2] its schedule bucket (one slot).
_DELETE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
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
    def __init__(self, client: RedisClient, *, prefix: str = "vg:", retention: RetentionSettings | None = None) -> None:
        self._redis = client
        self._prefix = prefix
        self._retention = retention
        self._schedule = ShardedSchedule(client, prefix=prefix, name="poll", tag="poll")
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(VideoJob)
        self._index = client.register_script(_INDEX)
        self._create = client.register_script(CREATE_SCRIPT)
        # A single node takes a create in one script: concurrent creates share a round trip.
        self._index_and_create = None if isinstance(client, RedisCluster) else BatchedScript(client, _INDEX_AND_CREATE)
        self._replace = BatchedScript(client, REPLACE_SCRIPT)  # concurrent polls' writes share a round trip
        self._delete = client.register_script(_DELETE)
        self._reads = BatchedReader(client)

    @property
    def client(self) -> RedisClient:
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

    @property
    def poll_keys(self) -> list[str]:
        """The poll schedule's bucket keys (ops and tests read the whole schedule from them)."""
        return self._schedule.keys

    def job_key(self, job_id: str) -> str:
        return f"{self._prefix}job:{self._schedule.tag_of(job_id)}{job_id}"

    def team_key(self, team: str) -> str:
        return f"{self._prefix}team:{{{team}}}"

    @_store_errors
    async def create(self, job: VideoJob, *, poll_at: float) -> bool:
        cutoff = ""
        if self._retention is not None:
            cutoff = oldest_kept_id(job.created_at - self._retention.jobs_s - self._retention.index_grace_s)
        record, due = self._record(job), repr(poll_at)
        if self._index_and_create is not None:
            keys = [self.team_key(job.team), self.job_key(job.id), self._schedule.key_of(job.id)]
            return bool(await self._index_and_create(keys=keys, args=[job.id, cutoff, record, due]))
        # The index first: an id there without a record is skipped by listing (see the module docstring).
        await self._index(keys=[self.team_key(job.team)], args=[job.id, cutoff])
        keys = [self.job_key(job.id), self._schedule.key_of(job.id)]
        return bool(await self._create(keys=keys, args=[job.id, record, due]))

    def _record(self, job: VideoJob) -> bytes:
        return b"%0*d" % (_VERSION_DIGITS, job.version) + self._encoder.encode(job)

    def _decode(self, record: bytes) -> VideoJob:
        return self._decoder.decode(memoryview(record)[_VERSION_DIGITS:])

    @_store_errors
    async def get(self, job_id: str) -> VideoJob | None:
        record = await self._reads.get(self.job_key(job_id))
        return None if record is None else self._decode(record)

    @_store_errors
    async def replace(self, job: VideoJob, *, expected_version: int, poll_at: float | None) -> bool:
        keys = [self.job_key(job.id), self._schedule.key_of(job.id)]
        due = "" if poll_at is None else repr(poll_at)
        expected = b"%0*d" % (_VERSION_DIGITS, expected_version)
        ttl: str | int = ""
        if self._retention is not None and job.finalized_at is not None:
            ttl = ttl_ms(self._retention.jobs_s)
        args: list[str | bytes | int] = [job.id, expected, self._record(job), due, ttl]
        return bool(await self._replace(keys=keys, args=args))

    @_store_errors
    async def unschedule(self, job_id: str) -> None:
        await self._schedule.unschedule(job_id)

    @_store_errors
    async def delete(self, job_id: str) -> None:
        job = await self.get(job_id)
        # The record (and its schedule entry) first, then the index id: see the module docstring.
        await self._delete(keys=[self.job_key(job_id), self._schedule.key_of(job_id)], args=[job_id])
        if job is not None:
            await self._redis.zrem(self.team_key(job.team), job_id)

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
                if job.team != team or job.deleted_at is not None or (status is not None and job.status != status):
                    continue
                if len(page) == limit:
                    return page, True
                page.append(job)
            if len(ids) < batch:
                return page, False
            cursor = ids[-1]

    async def _ids_after(self, team: str, cursor: str | None, order: Order, count: int) -> list[str]:
        key = self.team_key(team)
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
        records = await mget(self._redis, [self.job_key(job_id) for job_id in ids])
        return [self._decode(r) for r in records if r is not None]

    @_store_errors
    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        return await self._schedule.claim_due(now, limit=limit, lease_s=lease_s)

    @_store_errors
    async def next_due_at(self) -> float | None:
        return await self._schedule.next_due_at()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()

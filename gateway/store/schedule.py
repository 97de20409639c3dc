"""A due-time schedule sharded into hash-tagged buckets, so that it and the records it schedules fit Redis Cluster.

Why buckets: a write that changes a record AND its place on the schedule (compare-and-set plus reschedule, create
plus schedule, finish plus unschedule) must be one Lua script to stay atomic, and a script's keys must share one
hash slot on a cluster. One global schedule zset would force every record into its slot (no spreading at all). So
the schedule is `BUCKETS` zsets `<name>:{<tag>-NN}`, a record's bucket NN is derived from its id (crc32 % BUCKETS),
and the record's key carries the same `{<tag>-NN}` hash tag: record and bucket share a slot, and load spreads over
`BUCKETS` slots (so over every primary of a small cluster). On a single node the tags are plain characters and
nothing changes but the key names.

Claiming reads the head of every bucket (one pipeline: one round trip on a single node, one per primary on a
cluster), picks the `limit` earliest due overall (ties by id, as one zset would order them), and claims those
with one script per bucket (one pipeline of them on a single node) that re-checks each id is still due before it
pushes it out by the lease; an id another claimer took in between is skipped, so concurrent claimers never share
one, and the claim looks again for the rest of its `limit` until nothing is due (each round, some claimer takes
what it saw: no livelock)."""

from __future__ import annotations

import asyncio
import zlib

from gateway.store.batching import BatchedScript
from gateway.store.connect import RedisClient

BUCKETS = 16

# KEYS[1] a bucket; ARGV[1] now, ARGV[2] the lease's end, ARGV[3...] ids: each one still due is leased and returned.
_CLAIM_IDS = """
local claimed = {}
for i = 3, #ARGV do
  local due = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if due ~= false and tonumber(due) <= tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    claimed[#claimed + 1] = ARGV[i]
  end
end
return claimed
"""


def bucket_of(item_id: str) -> int:
    return zlib.crc32(item_id.encode()) % BUCKETS


class ShardedSchedule:
    """The buckets of one schedule: `{prefix}{name}:{<tag>-NN}`; records keyed with `tag_of(id)` share their slot."""

    def __init__(self, client: RedisClient, *, prefix: str, name: str, tag: str) -> None:
        self._redis = client
        self._tag = tag
        self._keys = [f"{prefix}{name}:{{{tag}-{b:02d}}}" for b in range(BUCKETS)]
        self._claim = BatchedScript(client, _CLAIM_IDS)  # a claim's per-bucket scripts go in one pipeline

    @property
    def keys(self) -> list[str]:
        """Every bucket's key."""
        return list(self._keys)

    def tag_of(self, item_id: str) -> str:
        """The hash tag the record of `item_id` carries in its key: the one of its bucket."""
        return f"{{{self._tag}-{bucket_of(item_id):02d}}}"

    def key_of(self, item_id: str) -> str:
        return self._keys[bucket_of(item_id)]

    async def unschedule(self, item_id: str) -> None:
        await self._redis.zrem(self.key_of(item_id), item_id)

    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        claimed: list[str] = []
        while len(claimed) < limit:
            due = await self._due(now, limit - len(claimed))
            if not due:
                break
            claimed += await self._claim_ids(due, now, lease_s)
        return claimed

    async def _due(self, now: float, limit: int) -> list[str]:
        """The `limit` earliest due ids over all buckets (ties by id, as one zset orders them)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys:
                pipe.zrangebyscore(key, "-inf", repr(now), start=0, num=limit, withscores=True)
            heads: list[list[tuple[bytes, float]]] = await pipe.execute()
        return [item_id for _, item_id in sorted((s, m.decode()) for head in heads for m, s in head)[:limit]]

    async def _claim_ids(self, due: list[str], now: float, lease_s: float) -> list[str]:
        """Those of `due` still due, leased; in `due`'s order."""
        by_bucket: dict[int, list[str]] = {}
        for item_id in due:
            by_bucket.setdefault(bucket_of(item_id), []).append(item_id)
        lease_end = repr(now + lease_s)
        claims = [self._claim(keys=[self._keys[b]], args=[repr(now), lease_end, *ids]) for b, ids in by_bucket.items()]
        claimed = {raw.decode() for reply in await asyncio.gather(*claims) for raw in reply}
        return [item_id for item_id in due if item_id in claimed]

    async def next_due_at(self) -> float | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys:
                pipe.zrange(key, 0, 0, withscores=True)
            heads: list[list[tuple[bytes, float]]] = await pipe.execute()
        scores = [float(head[0][1]) for head in heads if head]
        return min(scores) if scores else None

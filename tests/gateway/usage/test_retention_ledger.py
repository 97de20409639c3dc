"""Ledger retention, on the memory and the Redis budget book: `trim` drops the ledger records settled before the
cutoff and keeps the later ones, drops the exactly-once markers only of months that ended before the cutoff (a
job of a later month still cannot settle twice), and leaves the day aggregates alone."""

from __future__ import annotations

import asyncio
import datetime
import time

import redis.asyncio as aioredis

from gateway.usage.budget import BudgetBook, month_end
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.records import day_of, month_of
from tests.gateway.usage.conftest import record

JAN_2020 = datetime.datetime(2020, 1, 15, 12, tzinfo=datetime.UTC).timestamp()


async def test_trim_drops_records_settled_before_the_cutoff(book: BudgetBook) -> None:
    old = record("job-old", created_at=time.time() - 31)
    assert await book.settle(old)
    await asyncio.sleep(0.05)  # the Redis stream id (append ms) of the next record is past the cutoff
    cutoff = time.time()
    await asyncio.sleep(0.05)
    new = record("job-new", created_at=time.time() - 31)
    assert await book.settle(new)

    await book.trim(cutoff + 10, keep_s=10)

    assert [r.job_id async for r in book.records()] == ["job-new"]
    assert not await book.settle(new)  # its month is running: the marker stays
    assert not await book.settle(old)  # the marker outlives the trimmed record
    aggregates = await book.aggregates([day_of(new.created_at)])
    assert sum(a.jobs for a in aggregates) == 2


async def test_markers_go_only_for_months_ended_before_the_cutoff(book: BudgetBook) -> None:
    old = record("job-2020", created_at=JAN_2020)
    recent = record("job-recent", created_at=time.time() - 31)
    assert await book.settle(old)
    assert await book.settle(recent)

    await book.trim(time.time(), keep_s=30 * 86_400.0)

    assert not await book.settle(recent)
    assert await book.settle(old)  # January 2020's markers are gone: past retention nothing guards it
    (january,) = await book.aggregates([day_of(JAN_2020)])
    assert january.jobs == 2  # the aggregates are kept; only the marker went (hence the ledger_s bound)


async def test_the_redis_marker_index_forgets_trimmed_months(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    book = RedisBudgetBook(redis_client, prefix=redis_prefix)
    assert await book.settle(record("job-2020", created_at=JAN_2020))
    assert await book.settle(record("job-recent", created_at=time.time() - 31))
    months = await redis_client.smembers(f"{redis_prefix}usage:{{usage}}:settled_months")
    assert months == {b"2020-01", month_of(time.time() - 31).encode()}

    await book.trim(time.time(), keep_s=30 * 86_400.0)

    assert await redis_client.smembers(f"{redis_prefix}usage:{{usage}}:settled_months") == {
        month_of(time.time() - 31).encode()
    }
    assert not await redis_client.exists(f"{redis_prefix}usage:{{usage}}:settled:2020-01")


def test_month_end_is_the_next_month_start_utc() -> None:
    assert month_end("2020-01") == datetime.datetime(2020, 2, 1, tzinfo=datetime.UTC).timestamp()
    assert month_end("2024-12") == datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC).timestamp()

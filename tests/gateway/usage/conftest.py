"""Shared pieces of the usage tests: a finance key, a keyring with it, holds and ledger records to feed a book, and
the `book` fixture: the memory book, and the Redis one on one Redis and on the session's Redis Cluster."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.store import connect
from gateway.usage.budget import BudgetBook, MemoryBudgetBook
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.records import Hold, LedgerRecord, SettledStatus
from tests.conftest import ON_CLUSTER, TEAM_A_KEY, TEAM_B_KEY, backend_url

FINANCE_KEY = "vgk_test_finance_" + secrets.token_hex(8)
# A fixed instant (2025-03-15 12:00 UTC), so days and months in assertions are known.
MID_MARCH = 1742040000.0


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def book(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[BudgetBook]:
    if request.param == "memory":
        yield MemoryBudgetBook()
        return
    client = connect.redis_client(backend_url(request))
    yield RedisBudgetBook(client, prefix=redis_prefix)
    await client.aclose()


def usage_keyring() -> KeyRing:
    """The two team keys of conftest, plus a finance key (`usage` scope only) of its own team."""
    return KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(TEAM_B_KEY): Caller(key_id="key-b", team="team-b", scopes=frozenset({"videos"})),
            digest(FINANCE_KEY): Caller(key_id="key-fin", team="finance", scopes=frozenset({"usage"})),
        }
    )


def hold(
    job_id: str,
    *,
    cost_micros: int = 100_000,
    video_seconds: int = 5,
    team: str = "team-a",
    key_id: str = "key-a",
    created_at: float = MID_MARCH,
    expires_at: float | None = None,
    provider: str = "vidgen",
    model: str = "scenex",
) -> Hold:
    return Hold(
        job_id=job_id,
        team=team,
        key_id=key_id,
        provider=provider,
        model=model,
        created_at=created_at,
        cost_micros=cost_micros,
        video_seconds=video_seconds,
        expires_at=expires_at if expires_at is not None else time.time() + 3600,
    )


def record(
    job_id: str,
    *,
    cost_micros: int = 100_000,
    video_seconds: int = 5,
    status: SettledStatus = "completed",
    team: str = "team-a",
    key_id: str = "key-a",
    created_at: float = MID_MARCH,
    provider: str = "vidgen",
    model: str = "scenex",
) -> LedgerRecord:
    return LedgerRecord(
        job_id=job_id,
        team=team,
        key_id=key_id,
        provider=provider,
        model=model,
        status=status,
        requested_seconds=video_seconds,
        video_seconds=video_seconds,
        size="832x480",
        estimated_cost_micros=cost_micros,
        cost_micros=cost_micros,
        cost_source="price_table",
        created_at=created_at,
        completed_at=created_at + 30,
        settled_at=created_at + 31,
    )

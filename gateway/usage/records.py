"""What the budget book keeps: holds (reservations), ledger records, per-day aggregates and per-month totals.

Every number of a job is filed under the UTC day and month it was created (admitted) in, so its reservation, its
settlement and its aggregates always land in the same period, whenever it finishes. Money in integer micro-dollars."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Literal

import msgspec

CostSource = Literal["provider", "price_table", "not_billed"]
Quota = Literal["requests", "max_concurrent_jobs", "monthly_budget_usd", "monthly_video_seconds"]
ScopeKind = Literal["team", "key"]
SettledStatus = Literal["completed", "failed", "cancelled"]


def day_of(ts: float) -> str:
    """The UTC calendar day of a unix time, `YYYY-MM-DD`."""
    return _day(int(ts // 86_400))


def month_of(ts: float) -> str:
    """The UTC calendar month of a unix time, `YYYY-MM`: the budget period."""
    return _day(int(ts // 86_400))[:7]


@functools.lru_cache(maxsize=64)
def _day(day: int) -> str:
    """Day `day` since the epoch, `YYYY-MM-DD` (UTC days are 86,400 s in unix time; a create asks several times)."""
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def scope_id(kind: ScopeKind, name: str) -> str:
    return f"{kind}:{name}"


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """A job's reservation: the most it may cost, held against its team's and key's month from admission until
    settlement; it also holds one concurrency slot of each. Past `expires_at` a sweep releases it (the replica
    that made it died before the job was stored)."""

    job_id: str
    team: str
    key_id: str
    provider: str
    model: str
    created_at: float
    cost_micros: int
    video_seconds: int
    expires_at: float

    @property
    def month(self) -> str:
        return month_of(self.created_at)

    @property
    def day(self) -> str:
        return day_of(self.created_at)


class LedgerRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One settled job, appended once. `video_seconds` is what was billed (0 when nothing was);
    `requested_seconds` what the job asked for."""

    job_id: str
    team: str
    key_id: str
    provider: str
    model: str
    status: SettledStatus
    requested_seconds: int
    video_seconds: int
    size: str | None
    estimated_cost_micros: int
    cost_micros: int
    cost_source: CostSource
    error_code: str | None = None
    created_at: float
    completed_at: float | None
    settled_at: float

    @property
    def month(self) -> str:
        return month_of(self.created_at)

    @property
    def day(self) -> str:
        return day_of(self.created_at)


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """Which quota of which scope refused a reservation, and the numbers that made it refuse."""

    scope: ScopeKind
    name: str
    quota: Quota
    limit: int
    used: int
    reserved: int
    requested: int


class ScopeTotals(msgspec.Struct, frozen=True, kw_only=True):
    """One scope's month: settled spend and open reservations; `active_jobs` is now, not per month."""

    spent_micros: int = 0
    reserved_micros: int = 0
    spent_seconds: int = 0
    reserved_seconds: int = 0
    active_jobs: int = 0


COUNTERS = ("jobs", "succeeded", "failed", "cancelled", "video_seconds", "cost_micros")


class DayAggregate(msgspec.Struct, frozen=True, kw_only=True):
    """The settled jobs of one day x team x key x provider x model."""

    day: str
    team: str
    key_id: str
    provider: str
    model: str
    jobs: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    video_seconds: int = 0
    cost_micros: int = 0


def increments(record: LedgerRecord) -> dict[str, int]:
    """What one settled job adds to its day's aggregate counters."""
    outcome = {"completed": "succeeded", "failed": "failed", "cancelled": "cancelled"}[record.status]
    return {"jobs": 1, outcome: 1, "video_seconds": record.video_seconds, "cost_micros": record.cost_micros}

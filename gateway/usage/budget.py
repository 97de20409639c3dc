"""The budget book: holds (reserve, resize, release), settlement into the ledger, and what reports read.

One protocol, two implementations passing one contract suite: `MemoryBudgetBook` here (one process, `make run`)
and `RedisBudgetBook` (gateway/usage/budget_redis.py, shared by every replica). Each write is atomic: no two
reservations can together pass a limit, and a job settles into the ledger at most once."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import msgspec

from gateway.usage.quota_settings import Allowance
from gateway.usage.records import (
    DayAggregate,
    Hold,
    LedgerRecord,
    Refusal,
    ScopeKind,
    ScopeTotals,
    increments,
    scope_id,
)


class BudgetBook(Protocol):
    async def reserve(self, hold: Hold, *, team: Allowance, key: Allowance) -> Refusal | None:
        """Check the team's then the key's concurrency, then their monthly budget and video seconds, and keep the
        hold (and a concurrency slot of each) only if all pass; the refusal otherwise. A job id already held
        passes without counting twice."""
        ...

    async def resize(self, hold: Hold) -> bool:
        """Set a held job's amounts, provider, model and expiry (once a candidate accepted); False if not held."""
        ...

    async def release(self, job_id: str) -> bool:
        """Drop a job's hold and concurrency slots without charging anything; False if it was not held."""
        ...

    async def settle(self, record: LedgerRecord) -> bool:
        """Unless the job is already in the ledger: append the record, add it to its day's aggregates and its
        month's spend, and drop its hold and slots, all at once. True only for the call that wrote it."""
        ...

    async def expired(self, now: float, *, limit: int) -> list[str]:
        """Ids of holds past their expiry (for the sweep, which releases them)."""
        ...

    async def holds(self) -> list[Hold]:
        """Every open hold: what is reserved and not settled."""
        ...

    async def totals(self, kind: ScopeKind, name: str, month: str) -> ScopeTotals: ...

    async def scopes(self, month: str) -> list[tuple[ScopeKind, str]]:
        """Every team and key that reserved or spent in the month."""
        ...

    async def aggregates(self, days: Sequence[str]) -> list[DayAggregate]: ...

    def records(self, *, settled_from: float = 0.0) -> AsyncIterator[LedgerRecord]:
        """The ledger in the order it was written, from the records settled at `settled_from` (unix s) on."""
        ...

    async def trim(self, now: float, *, keep_s: float) -> None:
        """Retention: drop the ledger records settled more than `keep_s` before `now`, and the exactly-once
        markers of every month that ended more than `keep_s` before `now`. Day and month aggregates stay.

        Which marker must outlive what: settlement runs as a terminal effect until the job record is marked
        finalized, and again on any replica holding a stale unfinalized copy, so a job's marker must outlive every
        moment its record can still be finalized. Records are filed under their creation month; a job is finalized
        within `index_grace_s` of its creation and its record expires `jobs_s` after that, so the config's
        `ledger_s >= jobs_s + index_grace_s` makes a month's markers outlive every record of that month (the
        records themselves are trimmed by settlement time; losing one never weakens the marker)."""
        ...


class _Month(msgspec.Struct, kw_only=True):
    spent_micros: int = 0
    reserved_micros: int = 0
    spent_seconds: int = 0
    reserved_seconds: int = 0


class MemoryBudgetBook:
    """One process; each method runs without awaiting, so it is atomic under asyncio."""

    def __init__(self) -> None:
        self._holds: dict[str, Hold] = {}
        self._months: dict[tuple[str, str], _Month] = {}
        self._active: dict[str, set[str]] = {}
        self._settled: dict[str, set[str]] = {}  # month -> job ids settled (the exactly-once marker)
        self._ledger: list[LedgerRecord] = []
        self._days: dict[str, dict[tuple[str, str, str, str], dict[str, int]]] = {}

    def _month(self, kind: ScopeKind, name: str, month: str) -> _Month:
        return self._months.setdefault((month, scope_id(kind, name)), _Month())

    def _scopes(self, hold: Hold | LedgerRecord) -> list[tuple[ScopeKind, str]]:
        return [("team", hold.team), ("key", hold.key_id)]

    async def reserve(self, hold: Hold, *, team: Allowance, key: Allowance) -> Refusal | None:
        if hold.job_id in self._holds:
            return None
        checks = list(zip(self._scopes(hold), (team, key), strict=True))
        for (kind, name), allowance in checks:
            active = len(self._active.get(scope_id(kind, name), ()))
            cap = allowance.max_concurrent_jobs
            if cap is not None and active >= cap:
                return Refusal(
                    scope=kind, name=name, quota="max_concurrent_jobs", limit=cap, used=active, reserved=0, requested=1
                )
        for (kind, name), allowance in checks:
            month = self._months.get((hold.month, scope_id(kind, name))) or _Month()  # a refusal creates nothing
            refusal = _over_budget(kind, name, allowance, month, hold)
            if refusal is not None:
                return refusal
        for kind, name in self._scopes(hold):
            month = self._month(kind, name, hold.month)
            month.reserved_micros += hold.cost_micros
            month.reserved_seconds += hold.video_seconds
            self._active.setdefault(scope_id(kind, name), set()).add(hold.job_id)
        self._holds[hold.job_id] = hold
        return None

    async def resize(self, hold: Hold) -> bool:
        held = self._holds.get(hold.job_id)
        if held is None:
            return False
        for kind, name in self._scopes(held):
            month = self._month(kind, name, held.month)
            month.reserved_micros += hold.cost_micros - held.cost_micros
            month.reserved_seconds += hold.video_seconds - held.video_seconds
        self._holds[hold.job_id] = hold
        return True

    async def release(self, job_id: str) -> bool:
        return self._drop(job_id)

    def _drop(self, job_id: str) -> bool:
        held = self._holds.pop(job_id, None)
        if held is None:
            return False
        for kind, name in self._scopes(held):
            month = self._month(kind, name, held.month)
            month.reserved_micros -= held.cost_micros
            month.reserved_seconds -= held.video_seconds
            self._active.get(scope_id(kind, name), set()).discard(job_id)
        return True

    async def settle(self, record: LedgerRecord) -> bool:
        settled = self._settled.setdefault(record.month, set())
        if record.job_id in settled:
            return False
        settled.add(record.job_id)
        self._ledger.append(record)
        dims = (record.team, record.key_id, record.provider, record.model)
        counters = self._days.setdefault(record.day, {}).setdefault(dims, {})
        for name, amount in increments(record).items():
            counters[name] = counters.get(name, 0) + amount
        for kind, name in self._scopes(record):
            month = self._month(kind, name, record.month)
            month.spent_micros += record.cost_micros
            month.spent_seconds += record.video_seconds
        self._drop(record.job_id)
        for kind, name in self._scopes(record):
            self._active.get(scope_id(kind, name), set()).discard(record.job_id)
        return True

    async def expired(self, now: float, *, limit: int) -> list[str]:
        return [h.job_id for h in self._holds.values() if h.expires_at <= now][:limit]

    async def holds(self) -> list[Hold]:
        return list(self._holds.values())

    async def totals(self, kind: ScopeKind, name: str, month: str) -> ScopeTotals:
        kept = self._months.get((month, scope_id(kind, name))) or _Month()
        active = len(self._active.get(scope_id(kind, name), ()))
        return ScopeTotals(
            spent_micros=kept.spent_micros,
            reserved_micros=kept.reserved_micros,
            spent_seconds=kept.spent_seconds,
            reserved_seconds=kept.reserved_seconds,
            active_jobs=active,
        )

    async def scopes(self, month: str) -> list[tuple[ScopeKind, str]]:
        found: list[tuple[ScopeKind, str]] = []
        for kept_month, scope in self._months:
            kind, _, name = scope.partition(":")
            if kept_month == month and kind in ("team", "key"):
                found.append(("team" if kind == "team" else "key", name))
        return sorted(set(found))

    async def aggregates(self, days: Sequence[str]) -> list[DayAggregate]:
        return [
            DayAggregate(day=day, team=team, key_id=key, provider=provider, model=model, **counters)
            for day in days
            for (team, key, provider, model), counters in self._days.get(day, {}).items()
        ]

    async def records(self, *, settled_from: float = 0.0) -> AsyncIterator[LedgerRecord]:
        for record in list(self._ledger):
            if record.settled_at >= settled_from:
                yield record

    async def trim(self, now: float, *, keep_s: float) -> None:
        cutoff = now - keep_s
        self._ledger = [record for record in self._ledger if record.settled_at >= cutoff]
        for month in [m for m in self._settled if month_end(m) <= cutoff]:
            del self._settled[month]


def month_end(month: str) -> float:
    """When a `YYYY-MM` month ends (the next one starts), UTC unix time."""
    year, number = (int(part) for part in month.split("-"))
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return datetime.datetime(year, number, 1, tzinfo=datetime.UTC).timestamp()


def _over_budget(kind: ScopeKind, name: str, allowance: Allowance, month: _Month, hold: Hold) -> Refusal | None:
    budget = allowance.budget_micros
    if budget is not None and month.spent_micros + month.reserved_micros + hold.cost_micros > budget:
        return Refusal(
            scope=kind,
            name=name,
            quota="monthly_budget_usd",
            limit=budget,
            used=month.spent_micros,
            reserved=month.reserved_micros,
            requested=hold.cost_micros,
        )
    seconds = allowance.video_seconds
    if seconds is not None and month.spent_seconds + month.reserved_seconds + hold.video_seconds > seconds:
        return Refusal(
            scope=kind,
            name=name,
            quota="monthly_video_seconds",
            limit=seconds,
            used=month.spent_seconds,
            reserved=month.reserved_seconds,
            requested=hold.video_seconds,
        )
    return None

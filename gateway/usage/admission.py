"""Admission: before any upstream call, the caller's request rate, then its team's and key's concurrency and
monthly budget; the estimated cost is reserved (held) atomically, so concurrent creates cannot overspend.

A refusal is 429 `rate_limited` with `Retry-After` or 429 `quota_exceeded` naming the quota and its numbers."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence

import structlog
from limits import RateLimitItem
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from gateway.auth import Caller
from gateway.errors import ConcurrencyExceeded, QuotaExceeded, RateLimited, StoreUnavailable
from gateway.schema.job import VideoJob
from gateway.usage.budget import BudgetBook
from gateway.usage.hooks import NO_HOOKS, UsageHooks
from gateway.usage.quota_settings import QuotaSettings
from gateway.usage.records import Hold, Refusal, ScopeKind
from routing.router import Candidate

log = structlog.get_logger("gateway.usage")

# A hold outlives its job's deadline by this much before a sweep may take it back: only a hold whose job was
# never stored (its replica died in between) should ever be swept, never one whose job is still running.
HOLD_MARGIN_S = 3600.0
_SWEEP_BATCH = 50
# How often, on the clock, an admission that fits its quotas also sweeps: an orphan hold is rare (its replica died
# between admission and storing the job) and only matters once it fills a quota, and a refused reservation always
# sweeps first. A sweep on every create was one Redis round trip per create for nothing.
_SWEEP_EVERY_S = 60.0


class Admission:
    def __init__(
        self,
        quotas: QuotaSettings,
        book: BudgetBook,
        windows: Storage,
        *,
        clock: Callable[[], float],
        pending_hold_s: float,
        hooks: UsageHooks = NO_HOOKS,
    ) -> None:
        """`pending_hold_s`: how long a hold made at admission lasts until its job is accepted upstream; it must
        outlast the submit (with failover) and the poller's resolution of a job whose replica died mid-submit."""
        self._quotas = quotas
        self._book = book
        self._limiter = MovingWindowRateLimiter(windows)
        self._clock = clock
        self._pending_hold_s = pending_hold_s
        self._hooks = hooks
        self._next_sweep_at = -math.inf

    @property
    def book(self) -> BudgetBook:
        return self._book

    @property
    def quotas(self) -> QuotaSettings:
        return self._quotas

    def replace_quotas(self, quotas: QuotaSettings) -> None:
        """The control plane's `[quotas]` from now on (one reference swap; a create already admitted keeps its
        holds)."""
        self._quotas = quotas

    async def check_rate(self, caller: Caller) -> None:
        """One unit of the key's then the team's request windows; refused with the wait until one frees up."""
        scopes: list[tuple[ScopeKind, str, list[RateLimitItem]]] = [
            ("key", caller.key_id, self._quotas.for_key(caller.key_id).rates()),
            ("team", caller.team, self._quotas.for_team(caller.team).rates()),
        ]
        for kind, name, items in scopes:
            for item in items:
                try:
                    if await self._limiter.hit(item, "requests", kind, name):
                        continue
                    stats = await self._limiter.get_window_stats(item, "requests", kind, name)
                except StorageError as exc:
                    raise StoreUnavailable("the request-rate windows are unreachable") from exc
                retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
                self._hooks.on_refused("requests", caller.team)
                raise RateLimited(
                    f"{kind} {name!r} is over its request rate ({item}); retry in {retry_after_s} s",
                    code="rate_limit_exceeded",
                    headers={"Retry-After": str(retry_after_s)},
                )

    @contextlib.asynccontextmanager
    async def admitted(self, job: VideoJob, candidates: Sequence[Candidate]) -> AsyncIterator[None]:
        """Hold the most any of `candidates` may cost (failover can land on a pricier one) for the block; the
        hold is released if the block raises (the job was never accepted), kept otherwise until settlement."""
        await self._reserve(job, candidates)
        try:
            yield
        except BaseException:
            await self.release(job.id)
            self._hooks.on_reservation("released", job.team)
            raise

    async def _reserve(self, job: VideoJob, candidates: Sequence[Candidate]) -> None:
        """Reserve the hold; an expired orphan hold is swept before a refusal stands (and every _SWEEP_EVERY_S)."""
        if self._clock() >= self._next_sweep_at:
            await self.sweep()
        hold = Hold(
            job_id=job.id,
            team=job.team,
            key_id=job.key_id,
            provider=job.provider or candidates[0].provider,
            model=job.model,
            created_at=job.created_at,
            cost_micros=max(c.estimated_cost_micros for c in candidates),
            video_seconds=max(c.seconds for c in candidates),
            expires_at=job.created_at + self._pending_hold_s,
        )
        team = self._quotas.for_team(job.team).allowance()
        key = self._quotas.for_key(job.key_id).allowance()
        refusal = await self._book.reserve(hold, team=team, key=key)
        if refusal is not None and await self.sweep():
            refusal = await self._book.reserve(hold, team=team, key=key)
        if refusal is not None:
            self._hooks.on_refused(refusal.quota, job.team)
            self._hooks.on_reservation("refused", job.team)
            log.info("quota_refused", team=job.team, key_id=job.key_id, scope=refusal.scope, quota=refusal.quota)
            raise quota_exceeded(refusal)
        self._hooks.on_reservation("reserved", job.team)

    async def accepted(
        self, job: VideoJob, candidate: Candidate, *, deadline_at: float, reported_cost_micros: int | None = None
    ) -> bool:
        """Size the hold to what the accepted job will cost — the provider's own figure when its reply gave one
        (NanoGPT's 202 `cost`), else the candidate's estimate — and keep it until well past the job's deadline.
        Best effort: False if the store failed, and then the admission-time hold simply stays until settlement
        (the caller may try again: a resize sets absolute amounts, and one after settlement finds no hold)."""
        hold = Hold(
            job_id=job.id,
            team=job.team,
            key_id=job.key_id,
            provider=candidate.provider,
            model=candidate.model,
            created_at=job.created_at,
            cost_micros=candidate.estimated_cost_micros if reported_cost_micros is None else reported_cost_micros,
            video_seconds=candidate.seconds,
            expires_at=deadline_at + HOLD_MARGIN_S,
        )
        try:
            await self._book.resize(hold)
        except StoreUnavailable:
            return False
        return True

    async def release(self, job_id: str) -> None:
        """Give a hold back (the submit failed); a store failure leaves it to the sweep."""
        try:
            await self._book.release(job_id)
        except StoreUnavailable:
            log.warning("usage_hold_release_failed", job_id=job_id)

    async def sweep(self) -> int:
        """Release holds past their expiry: their replica died between admission and storing the job."""
        self._next_sweep_at = self._clock() + _SWEEP_EVERY_S
        expired = await self._book.expired(self._clock(), limit=_SWEEP_BATCH)
        for job_id in expired:
            if await self._book.release(job_id):
                log.warning("usage_hold_expired", job_id=job_id)
        return len(expired)


def quota_exceeded(refusal: Refusal) -> QuotaExceeded:
    """The 429 naming the scope, the quota and its numbers."""
    who = f"{refusal.scope} {refusal.name!r}"
    match refusal.quota:
        case "max_concurrent_jobs":
            return ConcurrencyExceeded(
                f"{who} already has {refusal.used} jobs running, its max_concurrent_jobs is {refusal.limit}",
                code="max_concurrent_jobs",
            )
        case "monthly_video_seconds":
            return QuotaExceeded(
                f"{who} is over its monthly_video_seconds: limit {refusal.limit} s, used {refusal.used} s,"
                f" reserved {refusal.reserved} s, this job needs up to {refusal.requested} s",
                code="monthly_video_seconds",
            )
        case _:
            return QuotaExceeded(
                f"{who} is over its monthly_budget_usd: limit {_usd(refusal.limit)}, spent {_usd(refusal.used)},"
                f" reserved {_usd(refusal.reserved)}, this job needs up to {_usd(refusal.requested)}",
                code="monthly_budget_usd",
            )


def _usd(micros: int) -> str:
    return f"${micros // 1_000_000}.{micros % 1_000_000:06d}"

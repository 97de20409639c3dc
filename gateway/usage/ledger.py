"""Settlement, the terminal effect that turns a finished job into its one ledger record: what it cost by each
provider's billing rule, recorded once whoever finalizes (gateway/videos/writer.py), and its hold released."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from gateway.schema.job import TerminalEffect, VideoJob
from gateway.usage.budget import BudgetBook
from gateway.usage.hooks import NO_HOOKS, UsageHooks
from gateway.usage.records import CostSource, LedgerRecord, SettledStatus

log = structlog.get_logger("gateway.usage")


def charge(job: VideoJob, *, cancels_upstream: bool) -> tuple[int, int, CostSource]:
    """(cost micros, billed video seconds, source) of a terminal job.

    - completed: the provider's reported cost where it gives one (NanoGPT), else the price table (set by the
      poller as `job.usage`);
    - failed or blocked: nothing. NanoGPT refunds failed jobs automatically (providers.md §4.8); the others
      document no charge for a failure, and when in doubt a failed job costs 0;
    - cancelled before a provider accepted it, or at a provider that can cancel (VideoGen): nothing;
    - cancelled at a provider that cannot cancel (Vidgen, NanoGPT, videogenapi): the provider goes on and bills
      it, so it costs what the provider pre-charged (NanoGPT's submit `cost`) or else the price table."""
    if job.usage is not None:
        return job.usage.cost_micros, job.usage.video_seconds, job.usage.cost_source
    if job.status == "completed":
        return job.estimated_cost_micros, job.seconds or 0, "price_table"
    if job.status == "cancelled" and job.upstream is not None and not cancels_upstream:
        reported = job.upstream.reported_cost_micros
        if reported is not None:
            return reported, job.seconds or 0, "provider"
        return job.estimated_cost_micros, job.seconds or 0, "price_table"
    return 0, 0, "not_billed"


def ledger_record(job: VideoJob, *, settled_at: float, cancels_upstream: bool) -> LedgerRecord:
    cost, seconds, source = charge(job, cancels_upstream=cancels_upstream)
    status: SettledStatus = (
        "completed" if job.status == "completed" else ("cancelled" if job.status == "cancelled" else "failed")
    )
    return LedgerRecord(
        job_id=job.id,
        team=job.team,
        key_id=job.key_id,
        provider=job.provider or "none",
        model=job.model,
        status=status,
        requested_seconds=job.seconds or 0,
        video_seconds=seconds,
        size=job.size,
        estimated_cost_micros=job.estimated_cost_micros,
        cost_micros=cost,
        cost_source=source,
        error_code=None if job.error is None else job.error.code,
        created_at=job.created_at,
        completed_at=job.completed_at,
        settled_at=settled_at,
    )


def settlement(
    book: BudgetBook,
    *,
    clock: Callable[[], float],
    cancels_upstream: Callable[[str], bool],
    hooks: UsageHooks = NO_HOOKS,
) -> TerminalEffect:
    """The terminal effect; idempotent per job id (the book writes a job's record at most once)."""

    async def settle_usage(job: VideoJob) -> None:
        record = ledger_record(job, settled_at=clock(), cancels_upstream=cancels_upstream(job.provider or ""))
        if await book.settle(record):
            log.info(
                "usage_settled",
                job_id=job.id,
                team=record.team,
                provider=record.provider,
                status=record.status,
                cost_micros=record.cost_micros,
                cost_source=record.cost_source,
            )
            hooks.on_settled(record)

    return settle_usage

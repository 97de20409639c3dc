"""`[retention]` settings: how long each kind of shared record is kept before it is removed, so Redis (or a
long-lived memory process) stops growing. Decoded with the rest of the config; every span is in seconds."""

from __future__ import annotations

import heapq
from typing import Annotated

import msgspec

DAY_S = 86_400.0
_Span = Annotated[float, msgspec.Meta(gt=0)]


class RetentionSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    jobs_s: _Span = 30 * DAY_S
    """A finalized job's record expires this long after its last write (its finalization, or a later asset-link
    refresh or client delete): then `GET /v1/videos/{id}` answers 404."""
    index_grace_s: Annotated[float, msgspec.Meta(ge=0)] = DAY_S
    """A job's entry in its team's listing index is trimmed (when the team next creates a job) once the job was
    created more than `jobs_s + index_grace_s` ago. The grace covers a job's life before it is finalized, so an
    entry outlives its record and a running job never drops out of the list."""
    webhooks_s: _Span = 7 * DAY_S
    """A webhook delivery expires this long after its last attempt (delivered or failed)."""
    idempotency_s: _Span = DAY_S
    """A completed Idempotency-Key record (the key -> job id) is kept this long."""
    ledger_s: _Span = 400 * DAY_S
    """Usage ledger records are kept this long after settlement (day and month aggregates are kept forever); a
    month's exactly-once settlement markers go once the month ended this long ago. At least `jobs_s +
    index_grace_s`."""
    sweep_interval_s: _Span = 3_600.0
    """How often each replica trims the ledger and the old markers (the rest expires by itself)."""

    def __post_init__(self) -> None:
        # The exactly-once marker of a job must outlive every moment its record can still be finalized (see
        # gateway/usage/budget.py `BudgetBook.trim`): that holds when the marker outlives the record.
        if self.ledger_s < self.jobs_s + self.index_grace_s:
            raise ValueError(
                f"ledger_s ({self.ledger_s:g}) must be at least jobs_s + index_grace_s"
                f" ({self.jobs_s + self.index_grace_s:g})"
            )


class Expiries:
    """The memory stores' TTLs: when each record lapses. A record written again gets its new time; the entry of
    its older time is skipped when reached."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def expire_at(self, item: str, at: float) -> None:
        self._at[item] = at
        heapq.heappush(self._heap, (at, item))

    def forget(self, item: str) -> None:
        self._at.pop(item, None)

    def lapsed(self, now: float) -> list[str]:
        """The records whose time has come, forgotten as they are returned."""
        gone: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            at, item = heapq.heappop(self._heap)
            if self._at.get(item) == at:  # else a stale entry: written again since
                del self._at[item]
                gone.append(item)
        return gone

"""Observer callbacks for metrics: called after the fact, never able to change an outcome. No-ops by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gateway.usage.records import LedgerRecord, Quota


def _ignore_settled(record: LedgerRecord) -> None:
    return None


def _ignore_refused(quota: Quota, team: str) -> None:
    return None


def _ignore_reservation(outcome: str, team: str) -> None:
    return None


class UsageHooks(NamedTuple):
    """`on_settled(record)`: once per ledger record actually written (never for a duplicate settlement).
    `on_refused(quota, team)`: once per refused create, naming the quota (`requests` for the rate).
    `on_reservation(outcome, team)`: a budget hold `reserved`, `refused` or `released` (its job never accepted)."""

    on_settled: Callable[[LedgerRecord], None] = _ignore_settled
    on_refused: Callable[[Quota, str], None] = _ignore_refused
    on_reservation: Callable[[str, str], None] = _ignore_reservation


NO_HOOKS = UsageHooks()

"""What a provider's own reading (a 429's Retry-After, a quota, a balance) means for routing: whether it keeps the
provider out now, until when and why, and which requests it concerns."""

from __future__ import annotations

import math

import msgspec

from providers import contract
from routing.headroom.config import GENERATE, HeadroomConfig
from routing.headroom.store import Reading

# Readings about one operation or one model only block requests for that scope; any other scope
# ("account", "month", "balance", "daily", "rate", ...) speaks for the whole provider account.
_OPERATION_SCOPES = frozenset({GENERATE, "status", "cancel", "upload", "file"})
_QUOTA_LABELS = {"month": "monthly", "daily": "daily", "day": "daily"}


class ReadingView(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's last reading for one scope; `blocked_until`/`reason` are set while it keeps the provider out."""

    reading: contract.Headroom
    at: float
    blocked_until: float | None = None
    reason: str | None = None


def applies(reading_scope: str, scopes: tuple[str, ...]) -> bool:
    """Whether a reading for `reading_scope` concerns a call in `scopes` (a narrow scope only its own calls)."""
    narrow = reading_scope in _OPERATION_SCOPES or reading_scope.startswith("model:")
    return reading_scope in scopes or not narrow


def judge(reading: Reading, config: HeadroomConfig, now: float) -> ReadingView:
    """Whether a reading keeps its provider out now, until when and why (first matching rule wins)."""
    said, at = reading.headroom, reading.at
    hold_until = at + config.recheck_after_s
    floor_micros = round(config.min_balance_usd * 1_000_000)
    if said.retry_after_s is not None:
        until = at + said.retry_after_s
        on = "" if said.scope == "account" else f" ({said.scope})"
        why = f"cooling down {_seconds(until - now)} s after a 429{on}"
    elif said.used is not None and said.limit is not None and said.used >= said.limit:
        until = said.reset_at or hold_until
        why = f"{_QUOTA_LABELS.get(said.scope, said.scope)} quota used {said.used}/{said.limit}"
    elif said.remaining == 0:
        until = said.reset_at or hold_until
        why = f"{said.scope} exhausted, {'resets' if said.reset_at else 'rechecking'} in {_seconds(until - now)} s"
    elif said.balance_micros is not None and said.balance_micros < floor_micros:
        until = hold_until
        why = f"balance ${said.balance_micros / 1_000_000:.2f} below ${config.min_balance_usd:.2f}"
    else:
        return ReadingView(reading=said, at=at)
    if until <= now:
        return ReadingView(reading=said, at=at)
    return ReadingView(reading=said, at=at, blocked_until=until, reason=f"{said.provider}: {why}")


def _seconds(duration_s: float) -> int:
    return max(1, math.ceil(duration_s))

"""The `[quotas]` config section: request rate, concurrency and monthly budgets per team and per key.

Decoded with the rest of the settings (gateway/config.py); nothing here touches state."""

from __future__ import annotations

from typing import Annotated

import msgspec
from limits import RateLimitItem, parse_many

from routing.catalogue import usd_to_micros

_Positive = Annotated[int, msgspec.Meta(ge=1)]


class QuotaLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One team's or one key's limits; each one left out does not apply.

    `requests` is a `limits` rate string, moving window: "60/minute", or several, "10/second;500/hour"."""

    requests: str | None = None
    """A request rate, moving window shared by every replica, in `limits` notation: `"60/minute"`, or several,
    `"10/second;500/hour"`."""
    max_concurrent_jobs: _Positive | None = None
    """Jobs admitted and not yet finished."""
    monthly_budget_usd: Annotated[float, msgspec.Meta(ge=0, le=100_000_000)] | None = None
    """Cost reserved plus spent in the UTC calendar month."""
    monthly_video_seconds: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """Video seconds reserved plus billed in the UTC calendar month."""

    def __post_init__(self) -> None:
        if self.requests is not None:
            try:
                parse_many(self.requests)
            except ValueError:
                raise ValueError(
                    f'`requests` = {self.requests!r} is not a rate such as "60/minute" or "10/second;500/hour"'
                ) from None

    def rates(self) -> list[RateLimitItem]:
        return [] if self.requests is None else list(parse_many(self.requests))

    def allowance(self) -> Allowance:
        budget = None if self.monthly_budget_usd is None else usd_to_micros(self.monthly_budget_usd)
        return Allowance(
            budget_micros=budget,
            video_seconds=self.monthly_video_seconds,
            max_concurrent_jobs=self.max_concurrent_jobs,
        )


class QuotaSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`teams` by team name and `keys` by key id; `default_team` applies to every team not named in `teams`."""

    default_team: QuotaLimits | None = None
    """The limits of every team not named in `teams`."""
    teams: dict[str, QuotaLimits] = {}
    """Limits per team name."""
    keys: dict[str, QuotaLimits] = {}
    """Limits per key id (on top of its team's)."""

    def for_team(self, team: str) -> QuotaLimits:
        return self.teams.get(team) or self.default_team or _NONE

    def for_key(self, key_id: str) -> QuotaLimits:
        return self.keys.get(key_id) or _NONE


class Allowance(msgspec.Struct, frozen=True, kw_only=True):
    """What one scope (a team or a key) may hold at once and spend in a month; None is unlimited."""

    budget_micros: int | None = None
    video_seconds: int | None = None
    max_concurrent_jobs: int | None = None


_NONE = QuotaLimits()
UNLIMITED = Allowance()

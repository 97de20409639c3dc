"""The demand-aware `reserve` (`reserve = "auto"`): how many of a window's last units to keep for requests only that
provider can serve, sized from how many such requests every replica has seen lately.

Counted at plan time (a create whose plan has exactly one provider among its candidates, before headroom is
screened) in a `limits` moving window per provider window, in the same storage as the windows themselves, so every
replica sizes its reserve from one count. The sizing is a pure function."""

from __future__ import annotations

import math

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

__all__ = ["SEEN_CAP", "ExclusiveDemand", "demand_reserve"]

SEEN_CAP = 10_000
"""Exclusive requests counted per window length at most; past it the reserve is the whole window anyway."""


def demand_reserve(*, seen: int, per_s: float, frees_in_s: float, margin: int, limit: int) -> int:
    """Units to hold back: the exclusive requests expected before the window frees its next unit, plus `margin`.

    `seen` exclusive requests in the last `per_s` seconds give the rate; `frees_in_s` is the time until the oldest
    unit in the window expires (until then no unit comes back, so whatever exclusive demand arrives must be met
    from what is left). Nothing seen, nothing held; never more than the window's `limit`."""
    if seen <= 0:
        return 0
    expected = seen / per_s * max(0.0, frees_in_s)
    return min(limit, math.ceil(expected) + margin)


class ExclusiveDemand:
    """Requests only one provider could serve, per provider window, over that window's length."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    async def note(self, provider: str, scope: str, per_s: int) -> None:
        """One exclusive request for `provider`, counted against its `scope` window of `per_s` seconds."""
        await self._limiter.hit(_item(per_s), provider, "exclusive", scope)

    async def seen(self, provider: str, scope: str, per_s: int) -> int:
        """Exclusive requests for `provider` counted in the last `per_s` seconds (every replica's)."""
        stats = await self._limiter.get_window_stats(_item(per_s), provider, "exclusive", scope)
        return SEEN_CAP - max(0, stats.remaining)


def _item(per_s: int) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(SEEN_CAP, per_s)

"""When to poll a job upstream next, and what to tell clients: pure functions of the provider's cadence, the
job's poll count and the account's status-call budget. No I/O, no clock, no randomness (the draw is passed in)."""

from __future__ import annotations

import math
from typing import Annotated

import msgspec

_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]

# The share of a status window the cadence plans to use: polls clump (jobs accepted together, a replica's
# leases coming back at once) and asset-link refreshes spend units too, so planning for all of it would leave
# the window's hard guard deferring polls routinely.
BUDGET_SHARE = 0.9
# Client hints: never sooner than this (a non-terminal job never says "now"), never further than the cap.
HINT_FLOOR_S = 0.5
HINT_CAP_S = 60.0
# Clients are told to come back just after the poll, not at it, so they see its result.
HINT_MARGIN_S = 0.1


class PollingConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`[providers.<slug>.polling]`: the shape of the cadence around the provider's `poll_interval_s`.

    The first poll comes `first_poll_s` after acceptance (default: one interval); each later gap is the
    previous one times `growth`, from one interval up to `max_interval_s` (default: four intervals); every gap is
    lengthened by a random fraction up to `jitter`, so jobs accepted together spread out."""

    first_poll_s: _Seconds | None = None
    """The delay before a job's first poll after acceptance; unset, one interval."""
    growth: Annotated[float, msgspec.Meta(ge=1.0, le=4.0)] = 1.25
    """Each later gap is the previous one times this."""
    max_interval_s: _Seconds | None = None
    """The longest gap between two polls; unset, four intervals."""
    jitter: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.1
    """Every gap is lengthened by a random fraction up to this, so jobs accepted together spread out."""


class Cadence(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's resolved cadence. `status_calls_per_s` is its configured status window as a rate
    (limit / per_s), None when the account has no status window."""

    first_poll_s: float
    interval_s: float
    growth: float
    max_interval_s: float
    jitter: float
    status_calls_per_s: float | None = None


def resolve_cadence(
    config: PollingConfig, *, interval_s: float, status_window: tuple[int, int] | None = None
) -> Cadence:
    """The cadence for `interval_s` (config or adapter trait); `status_window` is (limit, per_s). Raises
    ValueError when `max_interval_s` is below the interval (a cadence cannot be bounded below its own start)."""
    max_interval_s = config.max_interval_s if config.max_interval_s is not None else 4 * interval_s
    if max_interval_s < interval_s:
        raise ValueError(f"max_interval_s ({max_interval_s:g}) is below the poll interval ({interval_s:g})")
    return Cadence(
        first_poll_s=config.first_poll_s if config.first_poll_s is not None else interval_s,
        interval_s=interval_s,
        growth=config.growth,
        max_interval_s=max_interval_s,
        jitter=config.jitter,
        status_calls_per_s=None if status_window is None else status_window[0] / status_window[1],
    )


def budget_floor_s(cadence: Cadence, in_flight: int) -> float:
    """The shortest gap that keeps `in_flight` jobs, each polled at that gap, within BUDGET_SHARE of the status
    window: in_flight x per_s / (limit x BUDGET_SHARE). Zero without a window."""
    if cadence.status_calls_per_s is None:
        return 0.0
    return max(1, in_flight) / (cadence.status_calls_per_s * BUDGET_SHARE)


def base_delay_s(cadence: Cadence, polls_done: int) -> float:
    """The gap before the next poll, before jitter and budget: the first poll's delay, then one interval growing
    by `growth` per poll up to `max_interval_s`."""
    if polls_done <= 0:
        return cadence.first_poll_s
    if cadence.growth == 1.0:
        return cadence.interval_s
    # Past the cap the exponent no longer matters; bounding it keeps the power finite for very long jobs.
    steps = min(polls_done - 1, math.ceil(math.log(cadence.max_interval_s / cadence.interval_s, cadence.growth)) + 1)
    return min(cadence.max_interval_s, cadence.interval_s * cadence.growth**steps)


def next_delay_s(cadence: Cadence, *, polls_done: int, in_flight: int, draw: float) -> float:
    """Seconds until the next poll: the cadence's gap, stretched to the budget floor when many jobs share the
    account, then lengthened by `jitter x draw` (`draw` in [0, 1)). Jitter only lengthens, so no gap is ever
    shorter than the cadence's: status calls per job stay within duration / interval + 2."""
    gap = max(base_delay_s(cadence, polls_done), budget_floor_s(cadence, in_flight))
    return _jittered(cadence, gap, draw)


def backoff_delay_s(cadence: Cadence, *, errors: int, cap_s: float, retry_after_s: float | None, draw: float) -> float:
    """After `errors` consecutive failed polls: one interval doubled per error up to `cap_s`, never sooner than the
    provider's Retry-After, jittered like any gap."""
    backoff = min(cadence.interval_s * 2.0 ** min(errors - 1, 32), cap_s)
    return _jittered(cadence, max(backoff, retry_after_s or 0.0), draw)


def _jittered(cadence: Cadence, gap_s: float, draw: float) -> float:
    return gap_s * (1.0 + cadence.jitter * min(max(draw, 0.0), 1.0))


def poll_hint_s(next_poll_at: float | None, now: float) -> float:
    """What a client polling a non-terminal job is told to wait: until just after the next upstream poll, never
    less than HINT_FLOOR_S (an overdue or unscheduled poll is imminent) and never more than HINT_CAP_S."""
    if next_poll_at is None:
        return HINT_FLOOR_S
    return min(HINT_CAP_S, max(HINT_FLOOR_S, next_poll_at - now + HINT_MARGIN_S))

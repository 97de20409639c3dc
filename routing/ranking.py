"""Rank eligible candidates by strategy; pure, with every score component kept for `explain`.

cheapest: estimated cost. fastest: observed time to complete (unknown ranks after known). balanced: weighted
sum of cost and time, each normalised to the worst candidate. priority: ops order, then the catalogue's.
Under every strategy a candidate held back by its provider's reserve ranks after the others."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from routing.router import Candidate
from routing.rules import Strategy

ExpectedSeconds = Callable[[str, str], float | None]
"""(provider, model) -> observed seconds to complete, None when nothing was observed yet."""


class Score(msgspec.Struct, frozen=True, kw_only=True):
    cost_usd: float
    """The offering's estimated cost for this request, USD."""
    expected_s: float | None
    """Its expected time to video from observed completions, seconds; null before any."""
    position: int
    """Its place in the ops order (the `priority` strategy)."""
    total: float
    """The figure candidates are sorted by under the strategy, lower first."""


class Ranked(msgspec.Struct, frozen=True, kw_only=True):
    candidate: Candidate
    score: Score


def rank(
    candidates: Sequence[Candidate],
    *,
    strategy: Strategy,
    expected_s: ExpectedSeconds,
    order: Sequence[str] = (),
    weights: tuple[float, float] = (1.0, 1.0),
) -> list[Ranked]:
    """Best first. `order` is the ops preference of providers; unlisted ones keep catalogue order after them."""
    positions = {c.provider: _position(c.provider, order, i) for i, c in enumerate(candidates)}
    speeds = {c.provider: expected_s(c.provider, c.model) for c in candidates}
    worst_cost = max((c.estimated_cost_micros for c in candidates), default=0) or 1
    worst_speed = max((s for s in speeds.values() if s is not None), default=0.0) or 1.0
    ranked = []
    for candidate in candidates:
        speed = speeds[candidate.provider]
        cost_part = candidate.estimated_cost_micros / worst_cost
        speed_part = 1.0 if speed is None else speed / worst_speed
        total = {
            "cheapest": cost_part,
            "fastest": speed_part,
            "balanced": weights[0] * cost_part + weights[1] * speed_part,
            "priority": float(positions[candidate.provider]),
        }[strategy]
        score = Score(
            cost_usd=candidate.estimated_cost_micros / 1_000_000,
            expected_s=speed,
            position=positions[candidate.provider],
            total=round(total, 6),
        )
        ranked.append(Ranked(candidate=candidate, score=score))
    # Candidates marked `held_back` (their provider is down to its reserve) go last. Ties: the cheaper first, then
    # the ops/catalogue position; unknown speed sorts after known under `fastest`.
    ranked.sort(
        key=lambda r: (
            r.candidate.held_back is not None,
            r.score.total,
            r.candidate.estimated_cost_micros,
            r.score.position,
        )
    )
    return ranked


def _position(provider: str, order: Sequence[str], catalogue_index: int) -> int:
    return order.index(provider) if provider in order else len(order) + catalogue_index

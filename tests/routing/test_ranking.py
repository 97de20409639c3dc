"""Ranking strategies on plain candidates: the order, and the score components `explain` shows."""

from __future__ import annotations

import msgspec

from providers.contract import GenerationRequest, Scene
from routing.ranking import rank
from routing.router import Candidate

REQUEST = GenerationRequest(upstream_model="m", scenes=(Scene(prompt="p"),))


def _candidate(provider: str, cost_usd: float) -> Candidate:
    return Candidate(
        model="m", provider=provider, request=REQUEST, seconds=5, size=None, estimated_cost_micros=int(cost_usd * 1e6)
    )


CANDIDATES = [_candidate("a", 0.50), _candidate("b", 0.20), _candidate("c", 0.30)]
SPEEDS = {"a": 30.0, "b": 300.0, "c": None}


def _providers(strategy: str, **kwargs: object) -> list[str]:
    ranked = rank(CANDIDATES, strategy=strategy, expected_s=lambda p, m: SPEEDS[p], **kwargs)  # type: ignore[arg-type]
    return [r.candidate.provider for r in ranked]


def test_cheapest_orders_by_estimated_cost() -> None:
    """Under `cheapest` the lowest estimate comes first."""
    assert _providers("cheapest") == ["b", "c", "a"]


def test_fastest_orders_by_observed_time_and_puts_unknown_last() -> None:
    """Under `fastest` the quickest observed provider wins; one never observed ranks after every known one."""
    assert _providers("fastest") == ["a", "b", "c"]


def test_balanced_weighs_cost_against_speed() -> None:
    """Under `balanced` a heavy speed weight favours the fast one, a heavy cost weight the cheap one."""
    assert _providers("balanced", weights=(0.1, 1.0))[0] == "a"
    assert _providers("balanced", weights=(1.0, 0.0))[0] == "b"


def test_priority_follows_ops_order_then_catalogue_order() -> None:
    """Under `priority` the ops order comes first; providers it does not list keep catalogue order after it."""
    assert _providers("priority", order=("c",)) == ["c", "a", "b"]


def test_scores_carry_their_components() -> None:
    """Each ranked candidate keeps cost, expected time and position, so explain can show why it ranked there."""
    [best, *_] = rank(CANDIDATES, strategy="cheapest", expected_s=lambda p, m: SPEEDS[p])
    assert (best.score.cost_usd, best.score.expected_s, best.score.position) == (0.2, 300.0, 1)


def test_a_held_back_candidate_ranks_after_dearer_ones_under_every_strategy() -> None:
    """The cheapest and fastest candidate, held back by its provider's reserve, still ranks last."""
    held = [msgspec.structs.replace(CANDIDATES[1], held_back="b: 1 left"), CANDIDATES[0], CANDIDATES[2]]
    speeds = {"a": 300.0, "b": 30.0, "c": 90.0}
    for strategy in ("cheapest", "fastest", "balanced", "priority"):
        ranked = rank(held, strategy=strategy, expected_s=lambda p, m: speeds[p], order=("b",))  # type: ignore[arg-type]
        assert ranked[-1].candidate.provider == "b", strategy


def test_score_totals_are_the_normalised_components() -> None:
    """Totals worked by hand: cost / dearest ($0.50), time / slowest known (300 s, unknown counts 1.0), the balanced
    sum weighted, priority the position; ties fall to the cheaper, then the earlier position."""

    def totals(strategy: str, **kwargs: object) -> dict[str, float]:
        ranked = rank(CANDIDATES, strategy=strategy, expected_s=lambda p, m: SPEEDS[p], **kwargs)  # type: ignore[arg-type]
        return {r.candidate.provider: r.score.total for r in ranked}

    assert totals("cheapest") == {"a": 1.0, "b": 0.4, "c": 0.6}
    assert totals("fastest") == {"a": 0.1, "b": 1.0, "c": 1.0}
    assert totals("balanced", weights=(2.0, 0.5)) == {"a": 2.05, "b": 1.3, "c": 1.7}
    assert totals("priority", order=("c", "zz")) == {"c": 0.0, "a": 2.0, "b": 3.0}
    assert _providers("fastest")[1:] == ["b", "c"]  # b and c tie on 1.0: the cheaper first
    free = [_candidate("x", 0.0), _candidate("y", 0.0)]
    ranked = rank(free, strategy="cheapest", expected_s=lambda p, m: None)
    assert [(r.candidate.provider, r.score.total, r.score.expected_s) for r in ranked] == [
        ("x", 0.0, None),
        ("y", 0.0, None),
    ]
    assert rank([], strategy="cheapest", expected_s=lambda p, m: None) == []


def test_expected_time_is_asked_for_the_candidates_own_model() -> None:
    """The observed time is per provider and model: a provider fast on one model and slow on another ranks by the
    model the candidate offers."""
    observed = {("a", "sora-2"): 600.0, ("a", "kling-2"): 40.0, ("b", "kling-2"): 120.0}
    kling = [msgspec.structs.replace(c, model="kling-2") for c in CANDIDATES[:2]]
    ranked = rank(kling, strategy="fastest", expected_s=lambda p, m: observed.get((p, m)))
    assert [(r.candidate.provider, r.score.expected_s, r.score.total) for r in ranked] == [
        ("a", 40.0, 0.333333),
        ("b", 120.0, 1.0),
    ]

""" "Never" against "not now" in the router's plan, on the example catalogue: a drop is permanent when the request
as asked cannot fit the offering, and not when only the gateway's state or the ops' choice keeps it out."""

from __future__ import annotations

from gateway.config import load_settings
from providers.contract import GenerationRequest, Scene
from routing.router import Drop, Plan, RouteQuery, Router
from tests.conftest import EXAMPLE_CONFIG

SETTINGS = load_settings(EXAMPLE_CONFIG)
ALL_ON = dict.fromkeys(SETTINGS.providers, True)


def _query(
    model: str = "scenex",
    *,
    seconds: int | None = None,
    max_cost_micros: int | None = None,
    allow_providers: tuple[str, ...] = (),
) -> RouteQuery:
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), seconds=seconds)
    return RouteQuery(model=model, request=request, max_cost_micros=max_cost_micros, allow_providers=allow_providers)


def test_a_shape_no_offering_takes_is_unservable_with_the_models_that_could() -> None:
    """4 s on scenex (5 s scenes): a permanent drop, and the models whose offerings make 4 s are suggested."""
    router = Router(SETTINGS.models, enabled=ALL_ON)
    query = _query(seconds=4)
    plan = router.plan(query)
    [drop] = plan.dropped
    assert (drop.provider, drop.permanent, plan.unservable) == ("vidgen", True, True)
    assert router.models_serving(query) == [
        "ltx-video-13b",
        "sora-2",
        "sora-2-pro",
        "veo-3",
        "veo-3-fast",
        "veo-3.1-fast",
    ]


def test_a_disabled_provider_is_not_now() -> None:
    """A fitting offering whose provider is switched off is a drop that may clear: the plan is not unservable."""
    router = Router(SETTINGS.models, enabled={**ALL_ON, "vidgen": False})
    plan = router.plan(_query())
    [drop] = plan.dropped
    assert (drop.reasons, drop.permanent, plan.unservable) == (("provider disabled",), False, False)


def test_a_gap_on_a_disabled_provider_is_still_never() -> None:
    """An offering that cannot fit is permanent even when it is also switched off."""
    router = Router(SETTINGS.models, enabled={**ALL_ON, "vidgen": False})
    [drop] = router.plan(_query(seconds=4)).dropped
    assert drop.permanent
    assert "provider disabled" in drop.reasons


def test_the_requests_own_cost_cap_and_provider_list_are_never() -> None:
    """The request's max_cost_usd and routing.providers are part of what it asks: a drop for them is permanent."""
    router = Router(SETTINGS.models, enabled=ALL_ON)
    capped = router.plan(_query("sora-2", max_cost_micros=100_000))
    assert capped.unservable
    assert all(any("exceeds max_cost_usd" in r for r in d.reasons) for d in capped.dropped)
    listed = router.plan(_query("sora-2", allow_providers=("vidgen",)))
    assert listed.unservable
    assert router.models_serving(_query("sora-2", allow_providers=("vidgen",))) == ["scenex"]


def test_clears_at_is_the_earliest_lapse_among_drops() -> None:
    """Among drops that lapse on their own the earliest says when to retry; a plan without one says nothing."""
    dropped = (
        Drop(model="m", provider="a", reasons=("4 s not offered",), permanent=True),
        Drop(model="m", provider="b", reasons=("generate window 1/3600s exhausted",), clears_at=120.0),
        Drop(model="m", provider="c", reasons=("cooling down after a 429",), clears_at=30.0),
    )
    assert Plan(candidates=(), dropped=dropped).clears_at == 30.0
    assert not Plan(candidates=(), dropped=dropped).unservable
    assert Plan(candidates=(), dropped=dropped[:1]).clears_at is None

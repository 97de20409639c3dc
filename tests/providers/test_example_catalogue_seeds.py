"""Seed audit items checked on the example catalogue: what it makes the adapters send, and which provider model
keys it offers (seeds 000-004)."""

from __future__ import annotations

from gateway.config import load_settings
from providers.contract import GenerationRequest, HttpCall, ProviderSettings, Scene
from providers.videogen import build_submit as build_videogen_submit
from routing.router import RouteQuery, Router
from tests.conftest import EXAMPLE_CONFIG

VIDEOGEN = ProviderSettings(base_url="https://api.videogen.test", api_key="vg-key")


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


def test_the_example_catalogue_sends_videogen_no_duration() -> None:
    """A default request planned on the example catalogue's VideoGen offering is sent without `durationSeconds`."""
    settings = load_settings(EXAMPLE_CONFIG)
    router = Router(settings.models, enabled={"videogen": True})
    plan = router.plan(
        RouteQuery(
            model="videogen-clip", request=GenerationRequest(upstream_model="", scenes=(Scene(prompt="ocean waves"),))
        )
    )
    assert [c.provider for c in plan.candidates] == ["videogen"]
    assert "durationSeconds" not in body_of(build_videogen_submit(plan.candidates[0].request, VIDEOGEN))


def test_the_example_catalogue_offers_both_seeds_model_keys() -> None:
    """videogenapi's keys come from configuration: the example offers seed 002's and seed 004's keys."""
    settings = load_settings(EXAMPLE_CONFIG)
    keys = {o.upstream_model for m in settings.models.values() for o in m.offerings if o.provider == "videogenapi"}
    seed_002 = {"sora-2", "higgsfield_v1", "kling_25", "veo_3", "veo-31", "nanobanana-video", "ltxv-2", "ltxv-13b"}
    seed_004 = {"kling-3", "veo3", "seedance-2", "veo2"}
    assert seed_002 | {"seedance", "wan-25"} | seed_004 <= keys

"""Field honouring in routing: an offering either carries a field, is ineligible (strict), or drops it with a
warning (best effort). Checked on the example catalogue, where providers differ."""

from __future__ import annotations

from gateway.config import load_settings
from providers.contract import Audio, GenerationRequest, Scene
from routing.router import RouteQuery, Router
from tests.conftest import EXAMPLE_CONFIG

SETTINGS = load_settings(EXAMPLE_CONFIG)
ROUTER = Router(SETTINGS.models, enabled=dict.fromkeys(SETTINGS.providers, True))


def _query(
    audio: Audio | None = None, *, model: str = "sora-2", best_effort: bool = False, providers: tuple[str, ...] = ()
) -> RouteQuery:
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), audio=audio)
    return RouteQuery(model=model, request=request, best_effort=best_effort, allow_providers=providers)


def test_an_audio_prompt_rules_out_providers_that_only_switch_audio_on() -> None:
    """NanoGPT and OpenAI take no audio prompt (audio is a switch, or fixed): only videogenapi remains for sora-2."""
    plan = ROUTER.plan(_query(Audio(prompt="rain on a tin roof")))
    assert [c.provider for c in plan.candidates] == ["videogenapi"]
    assert {d.provider for d in plan.dropped} == {"nanogpt", "openai"}
    assert all(any("audio_prompt not supported" in reason for reason in d.reasons) for d in plan.dropped)


def test_best_effort_drops_the_audio_prompt_but_keeps_the_audio() -> None:
    """In best-effort mode the prompt is dropped with a warning; the audio switch itself is still asked for."""
    query = _query(Audio(prompt="rain"), model="veo-3.1-fast", best_effort=True, providers=("nanogpt",))
    plan = ROUTER.plan(query)
    [candidate] = plan.candidates
    assert candidate.request.audio == Audio(enabled=True, prompt=None)
    assert candidate.warnings == ("nanogpt dropped audio_prompt: audio_prompt not supported",)


def test_an_audio_negative_prompt_is_carried_by_no_sora_offering() -> None:
    """No sora-2 offering can carry an audio negative prompt: strict mode leaves no candidate, with reasons."""
    plan = ROUTER.plan(_query(Audio(negative_prompt="music")))
    assert plan.candidates == ()
    assert {d.provider for d in plan.dropped} == {"videogenapi", "nanogpt", "openai"}
    assert all(any("audio_negative_prompt" in r for r in d.reasons) for d in plan.dropped)


def test_auto_considers_every_model_that_can_serve_the_request() -> None:
    """`auto` plans over the whole catalogue: offerings of every model that fits are candidates, others dropped."""
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), seconds=10)
    plan = ROUTER.plan(RouteQuery(model="auto", request=request))
    models = {c.model for c in plan.candidates}
    assert {"sora-2", "kling-2.5", "seedance"} <= models
    assert "scenex" not in models  # 10 s in one scene: Vidgen makes 5 s scenes
    assert any(d.model == "scenex" for d in plan.dropped)

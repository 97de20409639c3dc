"""Field honouring in routing: an offering either carries a field, is ineligible (strict), or drops it with a
warning (best effort). Checked on the example catalogue, where providers differ."""

from __future__ import annotations

import msgspec

from gateway.config import load_settings
from providers.contract import Audio, ContentCredentials, GenerationRequest, Scene, WatermarkOverlay
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


def _plan(model: str, **fields: object) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), **fields)  # type: ignore[arg-type]
    plan = ROUTER.plan(RouteQuery(model=model, request=request))
    return [c.provider for c in plan.candidates], {d.provider: d.reasons for d in plan.dropped}


def test_upscale_is_served_only_where_the_capability_says_so() -> None:
    """Vidgen offers upscaling; sora-2's offerings do not, so an upscale request finds none there."""
    assert _plan("scenex", upscale=True)[0] == ["vidgen"]
    kept, dropped = _plan("sora-2", upscale=True)
    assert kept == []
    assert all("upscale not supported" in reasons for reasons in dropped.values())


def test_several_results_fit_only_an_offering_with_max_results() -> None:
    """`n: 3` fits VideoGen (numResults 1-100) and no single-result offering."""
    assert _plan("videogen-clip", results=3)[0] == ["videogen"]
    kept, dropped = _plan("sora-2", results=3)
    assert kept == []
    assert any("3 results per call exceed the 1 offered" in reason for reason in dropped["nanogpt"])


def test_several_results_are_priced_as_that_many_videos() -> None:
    """The estimate of an `n: 2` request is twice the single one (each result is billed as a video)."""
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),))
    one = ROUTER.plan(RouteQuery(model="videogen-clip", request=request)).candidates[0]
    two = ROUTER.plan(RouteQuery(model="videogen-clip", request=msgspec.structs.replace(request, results=2)))
    assert two.candidates[0].estimated_cost_micros == 2 * one.estimated_cost_micros == 800_000


def test_a_length_is_refused_where_the_provider_picks_it() -> None:
    """VideoGen's example offering has no length control: a request naming 4 s is not sent there."""
    kept, dropped = _plan("videogen-clip", seconds=4)
    assert kept == []
    assert any("the provider picks the length" in reason for reason in dropped["videogen"])


def test_overrides_and_camera_control_follow_the_flags() -> None:
    """Watermark overlays and content credentials fit Vidgen; a fixed camera fits videogenapi, not NanoGPT."""
    overlay, credentials = WatermarkOverlay(position="center"), ContentCredentials(author="A")
    assert _plan("scenex", watermark_overlay=overlay, content_credentials=credentials)[0] == ["vidgen"]
    kept, dropped = _plan("sora-2", camera_fixed=True)
    assert kept == ["videogenapi"]
    assert any("camera_fixed not supported" in reason for reason in dropped["nanogpt"])

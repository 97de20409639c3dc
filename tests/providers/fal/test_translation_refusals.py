"""fal's build_submit at its edges: every input a model's schema (docs/providers.md §fal.3) has no field for is refused
as fal's 400-class error naming it, each on its own and on both sides of a limit, and what is accepted goes where
the schema says. Pure: no I/O."""

from __future__ import annotations

import pytest

from providers.contract import (
    Audio,
    Dimensions,
    GenerationRequest,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    Operation,
    Scene,
)
from providers.fal import ENDPOINTS, build_submit
from providers.fal.endpoints import InputSchema
from tests.providers.fal.conftest import KLING, LTX, SETTINGS, VEO, WAN, request

FRAME = ImageUrl(url="https://v3.fal.media/files/panda/frame.jpg")


def refusal(model: str, **fields: object) -> InvalidUpstreamRequest:
    with pytest.raises(InvalidUpstreamRequest) as caught:
        build_submit(request(model, **fields), SETTINGS)
    return caught.value


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"multi_scene": True}, "multi-scene"),
        ({"reference_images": (FRAME,)}, "reference images"),
        ({"music": Music()}, "music"),
        ({"watermark": True}, "watermark"),
        ({"audio": Audio(prompt="rain on a tin roof")}, "audio prompts"),
        ({"audio": Audio(negative_prompt="music")}, "audio prompts"),
        ({"scene": Scene(prompt="   ")}, "`prompt` is required"),
        ({"scene": Scene(prompt="p", seconds=8), "seconds": 6}, "the scene asks for 8s but the request for 6s"),
        ({"scene": Scene(prompt="p", end_image=FRAME)}, "an end frame needs a first frame"),
        ({"scene": Scene(prompt="p", image=ImageUrl(url="ftp://files.test/frame.jpg"))}, "not a public http"),
    ],
)
def test_each_unsupported_input_is_refused_on_its_own(fields: dict[str, object], named: str) -> None:
    """One unsupported input at a time on Veo 3.1 Fast (the schema with the most fields): a refusal from fal, not
    a provider error to fail over on, naming the input."""
    error = refusal(VEO, **fields)
    assert named in error.message
    assert (error.provider, error.status_code, error.failover) == ("fal", None, False)


def test_a_second_scene_is_refused_even_without_the_multi_scene_flag() -> None:
    """fal's models take one prompt: two scenes are refused whether or not the request says multi-scene."""
    scenes = (Scene(prompt="a boat"), Scene(prompt="a pond"))
    with pytest.raises(InvalidUpstreamRequest, match="multi-scene"):
        build_submit(GenerationRequest(upstream_model=VEO, scenes=scenes), SETTINGS)


def test_provider_specific_features_are_refused_by_name() -> None:
    """Features no fal schema has (upscaling, several results...) are named in the refusal, never dropped."""
    error = refusal(VEO, upscale=True, results=2)
    assert "upscaling" in error.message
    assert "several results" in error.message


def test_audio_switched_off_is_sent_as_off_and_needs_no_audio_field() -> None:
    """`audio.enabled = false` is no request for audio: Veo gets `generate_audio` false, and Kling (no audio
    field) takes it too."""
    veo = build_submit(request(VEO, audio=Audio(enabled=False)), SETTINGS)
    assert veo.json == {"prompt": "a paper boat on a pond", "generate_audio": False}
    kling = build_submit(request(KLING, audio=Audio(enabled=False)), SETTINGS)
    assert kling.json == {"prompt": "a paper boat on a pond"}


def test_music_switched_off_is_no_request_for_music() -> None:
    """`music.enabled = false` asks for nothing fal would have to drop."""
    call = build_submit(request(KLING, music=Music(enabled=False)), SETTINGS)
    assert call.json == {"prompt": "a paper boat on a pond"}


def test_wan_takes_a_prompt_of_exactly_800_characters() -> None:
    """Wan 2.5's prompt limit is 800 characters (§fal.3): 800 is sent, 801 is refused naming the limit."""
    call = build_submit(request(WAN, scene=Scene(prompt="x" * 800)), SETTINGS)
    assert call.json is not None
    assert call.json["prompt"] == "x" * 800
    assert "801 characters, the maximum is 800" in refusal(WAN, scene=Scene(prompt="x" * 801)).message


def test_seconds_may_come_from_the_scene_or_the_request_when_they_agree() -> None:
    """The scene's seconds alone, or the same seconds on both, set Kling's `duration` ("5"/"10", §fal.3)."""
    from_scene = build_submit(request(KLING, scene=Scene(prompt="p", seconds=10)), SETTINGS)
    both = build_submit(request(KLING, scene=Scene(prompt="p", seconds=5), seconds=5), SETTINGS)
    assert (from_scene.json, both.json) == ({"prompt": "p", "duration": "10"}, {"prompt": "p", "duration": "5"})


def test_a_plain_http_image_url_is_passed_on() -> None:
    """An `http` image URL is public like an `https` one: fal fetches it itself."""
    image = ImageUrl(url="http://images.test/frame.jpg")
    call = build_submit(request(KLING, scene=Scene(prompt="p", image=image)), SETTINGS)
    assert call.json == {"prompt": "p", "image_url": "http://images.test/frame.jpg"}


def test_wan_takes_a_seed_and_says_so_on_the_wire() -> None:
    """Wan 2.5 has `seed` (§fal.3); the submit is a generate call on the model id."""
    call = build_submit(request(WAN, seed=42), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", f"/{WAN}", Operation.GENERATE)
    assert call.json == {"prompt": "a paper boat on a pond", "seed": 42, "enable_prompt_expansion": False}


def test_ltx_takes_no_seed_and_no_size_it_does_not_offer() -> None:
    """LTX-2 Fast has no `seed` and only 1080p 16:9 is offered (§fal.3): both refused, naming what is offered."""
    assert "takes no seed" in refusal(LTX, seed=1).message
    portrait = refusal(LTX, dimensions=Dimensions(width=1080, height=1920))
    assert "size 1080x1920 is not one of 1920x1080" in portrait.message


def test_an_image_to_a_model_without_an_image_endpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text-only schema (no `image_to_video` endpoint) refuses a first frame rather than sending it as text."""
    monkeypatch.setitem(ENDPOINTS, "fal-ai/text-only", InputSchema(durations={5: "5"}, sizes={}))
    with pytest.raises(InvalidUpstreamRequest, match="no image-to-video endpoint"):
        build_submit(request("fal-ai/text-only", scene=Scene(prompt="p", image=FRAME)), SETTINGS)

"""Pure Vidgen translation of the catalogue and the submit: seed-000 payloads through build_models,
parse_models, check_catalogue, build_submit and parse_submit. Polling and error mapping live elsewhere."""

from __future__ import annotations

import pytest

from providers.contract import (
    Audio,
    ContentCredentials,
    ContentPolicyError,
    Dimensions,
    GenerationRequest,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamJob,
    UpstreamProtocolError,
    VideoData,
    VideoInput,
    WatermarkOverlay,
)
from providers.vidgen import (
    VidgenCatalogue,
    build_models,
    build_submit,
    check_catalogue,
    parse_models,
    parse_submit,
)
from tests.providers.vidgen.conftest import SETTINGS, body_of, fixture_reply, make_request

START = ImageData(mime_type="image/png", data=b"start", digest="0" * 64)
END = ImageData(mime_type="image/jpeg", data=b"end", digest="1" * 64)
CATALOGUE = VidgenCatalogue(models=frozenset({"scenex"}), max_scenes=5)


# --------------------------------------------------------------------------------------------- models


def test_build_models_posts_the_models_action_with_bearer_key() -> None:
    """The catalogue call is a POST of `{"action":"models"}` to /api/v2 with the Bearer key."""
    call = build_models(SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/v2", "models")
    assert call.headers == {"Authorization": "Bearer sk-test"}
    assert call.json == {"action": "models"}


def test_parse_models_reads_model_keys_and_max_scenes() -> None:
    """The seed's models reply yields its keys and the scene cap it states."""
    assert parse_models(fixture_reply("models.json")) == CATALOGUE


def test_parse_models_takes_max_scenes_from_the_reply_not_a_constant() -> None:
    """A different deployment's cap and model keys come through as sent."""
    reply = Reply(status_code=200, headers={}, body=b'{"models": {"wan22": {"label": "Wan 2.2"}}, "max_scenes": 12}')
    assert parse_models(reply) == VidgenCatalogue(models=frozenset({"wan22"}), max_scenes=12)


def test_parse_models_without_max_scenes_is_a_protocol_error() -> None:
    """A models reply missing `max_scenes` is not silently given a default cap."""
    reply = Reply(status_code=200, headers={}, body=b'{"models": {"scenex": {}}}')
    with pytest.raises(UpstreamProtocolError, match="`max_scenes`"):
        parse_models(reply)


def test_parse_models_refused_is_classified_by_its_documented_string() -> None:
    """A models call answered "Invalid API key" (seed 000, 401) is an auth error, not a missing catalogue."""
    with pytest.raises(UpstreamAuthError):
        parse_models(fixture_reply("error_401_invalid_api_key.json", 401))


def test_parse_models_reply_that_is_not_json_is_a_vidgen_protocol_error() -> None:
    """A proxy's HTML page on the models action names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_models(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "vidgen"


def test_check_catalogue_refuses_a_model_vidgen_does_not_offer() -> None:
    """An unknown model is refused because Vidgen would silently run its first model instead."""
    request = GenerationRequest(upstream_model="scenex-hd", scenes=(Scene(prompt="x"),))
    with pytest.raises(InvalidUpstreamRequest, match="scenex-hd"):
        check_catalogue(request, CATALOGUE)


def test_check_catalogue_refuses_more_scenes_than_max_scenes() -> None:
    """Six scenes against a cap of five are refused before any generate call."""
    with pytest.raises(InvalidUpstreamRequest, match="max_scenes 5"):
        check_catalogue(make_request(*[Scene(prompt=f"shot {i}") for i in range(6)]), CATALOGUE)


def test_check_catalogue_accepts_an_offered_model_within_the_cap() -> None:
    """A request for an offered model with five scenes (the cap) passes the catalogue check; a sixth does not."""
    check_catalogue(make_request(*[Scene(prompt=f"shot {i}") for i in range(5)]), CATALOGUE)

    with pytest.raises(InvalidUpstreamRequest):
        check_catalogue(make_request(*[Scene(prompt=f"shot {i}") for i in range(6)]), CATALOGUE)


# --------------------------------------------------------------------------------------------- submit


def test_build_submit_minimal_t2v_sends_only_prompt_and_model() -> None:
    """A bare t2v request omits every optional field so the vendor defaults (832x480) apply."""
    call = build_submit(make_request(), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/v2", "generate")
    assert call.headers == {"Authorization": "Bearer sk-test"}
    assert call.json == {"action": "generate", "model": "scenex", "scenes": [{"prompt": "ocean waves"}]}


def test_build_submit_puts_split_negative_terms_in_negative() -> None:
    """Canonical `-term` negatives land comma-joined in the scene's `negative` field."""
    scene = Scene(prompt="ocean waves, golden hour", negative_terms=("blurry", "low quality"))
    assert body_of(build_submit(make_request(scene), SETTINGS))["scenes"] == [
        {"prompt": "ocean waves, golden hour", "negative": "blurry, low quality"}
    ]


def test_build_submit_sends_t2v_dimensions_as_width_and_height() -> None:
    """t2v dimensions become `width`/`height` and no `size`."""
    body = body_of(build_submit(make_request(dimensions=Dimensions(width=480, height=832)), SETTINGS))
    assert (body["width"], body["height"]) == (480, 832)
    assert "size" not in body


def test_build_submit_multi_scene_keeps_scene_order() -> None:
    """Three scenes of 5 s each, 15 s in total, go out in order."""
    scenes = tuple(Scene(prompt=f"shot {i}", seconds=5) for i in range(3))
    body = body_of(build_submit(make_request(*scenes, multi_scene=True, seconds=15), SETTINGS))
    assert body["scenes"] == [{"prompt": "shot 0"}, {"prompt": "shot 1"}, {"prompt": "shot 2"}]


def test_build_submit_i2v_sends_start_frame_data_uri_and_size() -> None:
    """An i2v scene carries its frame as a data URI and `size` is the longest requested side."""
    request = make_request(Scene(prompt="waves", image=START), dimensions=Dimensions(width=1280, height=720))
    body = body_of(build_submit(request, SETTINGS))
    assert body["scenes"] == [{"prompt": "waves", "start_frame": "data:image/png;base64,c3RhcnQ="}]
    assert body["size"] == 1280
    assert "width" not in body


def test_build_submit_first_last_frame_sends_both_frames() -> None:
    """A first-last scene sends `start_frame` and `end_frame` as data URIs."""
    body = body_of(build_submit(make_request(Scene(prompt="morph", image=START, end_image=END)), SETTINGS))
    assert body["scenes"] == [
        {
            "prompt": "morph",
            "start_frame": "data:image/png;base64,c3RhcnQ=",
            "end_frame": "data:image/jpeg;base64,ZW5k",
        }
    ]


def test_build_submit_maps_audio_to_fx_sound_without_nones() -> None:
    """Canonical audio becomes `fx_sound`, dropping fields that were not given."""
    body = body_of(build_submit(make_request(audio=Audio(prompt="wind, footsteps")), SETTINGS))
    assert body["fx_sound"] == {"enabled": True, "prompt": "wind, footsteps"}


def test_build_submit_maps_music_without_nones() -> None:
    """Canonical music becomes `music` with only the given fields."""
    music = Music(tags="ambient, cinematic", bpm=72)
    body = body_of(build_submit(make_request(music=music), SETTINGS))
    assert body["music"] == {"enabled": True, "tags": "ambient, cinematic", "bpm": 72}


def test_build_submit_enhance_prompt_sets_optimize() -> None:
    """`enhance_prompt` is sent as `optimize: true`."""
    assert body_of(build_submit(make_request(enhance_prompt=True), SETTINGS))["optimize"] is True


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (make_request(dimensions=Dimensions(width=834, height=480)), "divisible by 8"),
        (make_request(dimensions=Dimensions(width=312, height=480)), "320-1280"),
        (make_request(dimensions=Dimensions(width=832, height=1288)), "320-1280"),
        (
            make_request(Scene(prompt="x", image=START), dimensions=Dimensions(width=640, height=480)),
            "720-1280",
        ),
        (
            make_request(Scene(prompt="x", image=START), dimensions=Dimensions(width=1920, height=1080)),
            "720-1280",
        ),
        (make_request(Scene(prompt="x", image=ImageUrl(url="https://img.test/a.png"))), "data URI"),
        (
            make_request(Scene(prompt="x", image=START, end_image=ImageUrl(url="https://img.test/b.png"))),
            "data URI",
        ),
        (make_request(Scene(prompt="x", end_image=END)), "start frame"),
        (make_request(seed=42), "seed"),
        (make_request(watermark=False), "watermark"),
        (make_request(reference_images=(START,)), "reference images"),
        (make_request(Scene(prompt="x", seconds=10)), "each scene lasts 5s"),
        (make_request(seconds=10), "give 5s, not 10s"),
    ],
    ids=[
        "width-not-multiple-of-8",
        "width-below-320",
        "height-above-1280",
        "i2v-size-below-720",
        "i2v-size-above-1280",
        "start-frame-url",
        "end-frame-url",
        "end-frame-without-start",
        "seed",
        "watermark-off",
        "reference-images",
        "scene-seconds",
        "total-seconds",
    ],
)
def test_build_submit_refuses_what_vidgen_would_silently_alter(request_: GenerationRequest, reason: str) -> None:
    """Inputs Vidgen would clamp, round, ignore or cannot take raise instead of being sent."""
    with pytest.raises(InvalidUpstreamRequest, match=reason):
        build_submit(request_, SETTINGS)


def test_parse_submit_keeps_id_and_resolved_model() -> None:
    """The seed's generate reply becomes a job holding `id` and `model` for polling."""
    job = parse_submit(fixture_reply("generate.json"), make_request())
    assert job == UpstreamJob(provider="vidgen", upstream_id="run_abc123xyz", upstream_model="scenex")


def test_parse_submit_silent_model_fallback_is_recorded_not_failed() -> None:
    """A generate reply naming another model than requested is an accepted job followed under the model Vidgen
    ran, with the requested one recorded (it was billed: failing it would pay twice)."""
    request = GenerationRequest(upstream_model="scenex-hd", scenes=(Scene(prompt="x"),))
    job = parse_submit(fixture_reply("generate_silent_model_fallback.json"), request)
    assert (job.upstream_id, job.upstream_model, job.requested_model) == ("run_abc123xyz", "scenex", "scenex-hd")


def test_parse_submit_error_in_a_2xx_is_classified_like_an_error_reply() -> None:
    """A 200 carrying `error: "Content blocked"` instead of an id raises the content-policy error."""
    with pytest.raises(ContentPolicyError) as caught:
        parse_submit(fixture_reply("generate_error_in_2xx.json"), make_request())
    assert caught.value.code == "content_blocked"


def test_parse_submit_without_id_is_a_protocol_error() -> None:
    """A generate reply with neither `id` nor `error` is not described by the seed; the error names the field."""
    with pytest.raises(UpstreamProtocolError, match="`id`"):
        parse_submit(Reply(status_code=200, headers={}, body=b'{"model": "scenex"}'), make_request())


# ------------------------------------------------------------------ fields at their edges (seed 000)

FRAME = ImageData(mime_type="image/png", data=b"png", digest="1" * 64)


def submit_body(**fields: object) -> dict[str, object]:
    return body_of(build_submit(make_request(**fields), SETTINGS))


@pytest.mark.parametrize(("width", "height"), [(320, 1280), (1280, 320), (832, 480)])
def test_t2v_sides_within_320_to_1280_in_steps_of_8_are_sent(width: int, height: int) -> None:
    """seed 000 "Valid Dimensions": 320-1280, divisible by 8, both ends included; sent as width and height."""
    body = submit_body(dimensions=Dimensions(width=width, height=height))
    assert (body["width"], body["height"]) == (width, height)
    assert "size" not in body


@pytest.mark.parametrize(("width", "height"), [(312, 480), (832, 1288), (834, 480), (832, 482)])
def test_t2v_sides_outside_the_bounds_or_off_the_step_are_refused(width: int, height: int) -> None:
    """Vidgen would round or clamp them silently: refused instead."""
    with pytest.raises(InvalidUpstreamRequest, match="divisible by 8 within 320-1280"):
        submit_body(dimensions=Dimensions(width=width, height=height))


@pytest.mark.parametrize(("width", "height", "size"), [(720, 480, 720), (1280, 720, 1280), (480, 1000, 1000)])
def test_a_framed_scene_sends_its_longest_side_as_size_within_720_to_1280(width: int, height: int, size: int) -> None:
    """seed 000 `size`: "Max dimension for i2v frame resize (720-1280)", both ends included."""
    body = body_of(
        build_submit(
            make_request(Scene(prompt="a", image=FRAME), dimensions=Dimensions(width=width, height=height)), SETTINGS
        )
    )
    assert body["size"] == size
    assert "width" not in body


@pytest.mark.parametrize(("width", "height"), [(712, 480), (1288, 720)])
def test_a_framed_scene_outside_720_to_1280_is_refused(width: int, height: int) -> None:
    """A longest side of 712 or 1288 is outside the seed's resize range."""
    request = make_request(Scene(prompt="a", image=FRAME), dimensions=Dimensions(width=width, height=height))
    with pytest.raises(InvalidUpstreamRequest, match="must be within 720-1280"):
        build_submit(request, SETTINGS)


def test_a_mix_of_framed_and_t2v_scenes_sends_both_forms() -> None:
    """Scenes with and without a frame: width/height for the t2v ones and size for the framed ones, together."""
    request = make_request(
        Scene(prompt="a", image=FRAME),
        Scene(prompt="b"),
        multi_scene=True,
        dimensions=Dimensions(width=832, height=720),
    )
    body = body_of(build_submit(request, SETTINGS))
    assert (body["width"], body["height"], body["size"]) == (832, 720, 832)


def test_every_option_field_is_carried_as_given() -> None:
    """fx_sound, music, wm_* and cs_* each carry every field the request sets, beside optimize and upscale."""
    body = submit_body(
        audio=Audio(prompt="rain", negative_prompt="wind"),
        music=None,
        enhance_prompt=True,
        upscale=True,
        watermark_overlay=WatermarkOverlay(position="top-left", scale=20, opacity=50, rotation_deg=5, padding_x=3),
        content_credentials=ContentCredentials(author="A", title="T", description="D", organization="O", vendor="V"),
    )
    assert body["fx_sound"] == {"enabled": True, "prompt": "rain", "negative_prompt": "wind"}
    assert (body["optimize"], body["upscale"]) == (True, True)
    assert {k: v for k, v in body.items() if k.startswith("wm_")} == {
        "wm_position": "top-left",
        "wm_scale": 20,
        "wm_transparency": 50,
        "wm_rotation": 5,
        "wm_padding_x": 3,
    }
    assert {k: v for k, v in body.items() if k.startswith("cs_")} == {
        "cs_author": "A",
        "cs_title": "T",
        "cs_description": "D",
        "cs_organization": "O",
        "cs_vendor": "V",
    }
    music = submit_body(music=Music(tags="lofi", lyrics="la la", bpm=90, keyscale="C major"))["music"]
    assert music == {"enabled": True, "tags": "lofi", "lyrics": "la la", "bpm": 90, "keyscale": "C major"}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"results": 2}, "one video per job"),
        ({"upstream_variant": "fast"}, "one video per job"),
        ({"temporary_output": True}, "temporary outputs and a fixed camera"),
        ({"camera_fixed": False}, "temporary outputs and a fixed camera"),
        ({"seed": 7}, "seed is not supported"),
    ],
)
def test_each_option_vidgen_lacks_is_refused_on_its_own(fields: dict[str, object], reason: str) -> None:
    """One unsupported option alone is enough for a refusal naming it, never a silent drop."""
    with pytest.raises(InvalidUpstreamRequest, match=reason):
        submit_body(**fields)


def test_a_model_vidgen_does_not_offer_is_refused_naming_the_offered_ones() -> None:
    """The client learns which models this deployment offers (seed 000 `models`)."""
    catalogue = VidgenCatalogue(models=frozenset({"wan", "scenex"}), max_scenes=5)
    with pytest.raises(InvalidUpstreamRequest) as raised:
        check_catalogue(GenerationRequest(upstream_model="kling", scenes=(Scene(prompt="waves"),)), catalogue)
    assert "scenex" in raised.value.message
    assert "wan" in raised.value.message


def test_parse_submit_with_an_id_follows_the_job_even_beside_an_error() -> None:
    """A reply naming the job's id and model means Vidgen took (and bills) it: the job is followed, not dropped."""
    body = b'{"id": "run_abc123xyz", "model": "scenex", "error": "slow queue"}'
    job = parse_submit(Reply(status_code=200, headers={}, body=body), make_request())
    assert (job.upstream_id, job.upstream_model) == ("run_abc123xyz", "scenex")


def test_parse_submit_reply_that_is_not_json_is_a_vidgen_protocol_error() -> None:
    """A proxy's HTML page on generate names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_submit(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"), make_request())
    assert raised.value.provider == "vidgen"


def test_an_i2v_size_one_pixel_over_1280_is_refused_and_a_source_video_is_refused_naming_itself() -> None:
    """seed 000 `size` is 720-1280 (no multiple-of-8 rule for i2v): 1281 is out; a source video has no field."""
    framed = Scene(prompt="waves", image=ImageData(mime_type="image/png", data=b"p", digest="0" * 64))
    with pytest.raises(InvalidUpstreamRequest, match="720-1280") as raised:
        build_submit(make_request(framed, dimensions=Dimensions(width=1281, height=720)), SETTINGS)
    assert raised.value.provider == "vidgen"
    clip = VideoData(mime_type="video/mp4", data=b"mp4", digest="1" * 64)
    with pytest.raises(InvalidUpstreamRequest, match="source-video"):
        build_submit(make_request(video_input=VideoInput(operation="edit", video=clip, source_seconds=8)), SETTINGS)

"""Pure Vidgen translation: recorded seed-000 payloads through build_*, parse_* and classify_error."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contract import (
    Audio,
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    HttpCall,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    ProviderSettings,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.vidgen import (
    VidgenCatalogue,
    build_models,
    build_poll,
    build_submit,
    check_catalogue,
    classify_error,
    parse_models,
    parse_status,
    parse_submit,
)

FIXTURES = Path(__file__).parent / "fixtures" / "vidgen"
SETTINGS = ProviderSettings(base_url="https://vidgen.test", api_key="sk-test")
START = ImageData(mime_type="image/png", data=b"start", digest="0" * 64)
END = ImageData(mime_type="image/jpeg", data=b"end", digest="1" * 64)
CATALOGUE = VidgenCatalogue(models=frozenset({"scenex"}), max_scenes=5)


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def make_request(*scenes: Scene, **fields: object) -> GenerationRequest:
    chosen = scenes or (Scene(prompt="ocean waves"),)
    return GenerationRequest(upstream_model="scenex", scenes=chosen, **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


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
    with pytest.raises(UpstreamProtocolError):
        parse_models(reply)


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
    """A request for an offered model with five scenes passes the catalogue check."""
    check_catalogue(make_request(*[Scene(prompt=f"shot {i}") for i in range(5)]), CATALOGUE)


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


def test_parse_submit_silent_model_fallback_is_a_protocol_error() -> None:
    """A generate reply resolving to another model than requested is named as a silent fallback."""
    request = GenerationRequest(upstream_model="scenex-hd", scenes=(Scene(prompt="x"),))
    with pytest.raises(UpstreamProtocolError, match="silently fell back"):
        parse_submit(fixture_reply("generate_silent_model_fallback.json"), request)


def test_parse_submit_error_in_a_2xx_is_classified_like_an_error_reply() -> None:
    """A 200 carrying `error: "Content blocked"` instead of an id raises the content-policy error."""
    with pytest.raises(ContentPolicyError) as caught:
        parse_submit(fixture_reply("generate_error_in_2xx.json"), make_request())
    assert caught.value.code == "content_blocked"


def test_parse_submit_without_id_is_a_protocol_error() -> None:
    """A generate reply with neither `id` nor `error` is not described by the seed."""
    with pytest.raises(UpstreamProtocolError):
        parse_submit(Reply(status_code=200, headers={}, body=b'{"model": "scenex"}'), make_request())


# --------------------------------------------------------------------------------------------- status


def test_build_poll_sends_status_action_with_id_and_resolved_model() -> None:
    """A poll is a status action naming the job id and the model generate resolved."""
    call = build_poll(UpstreamJob(provider="vidgen", upstream_id="run_abc123xyz", upstream_model="scenex"), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/v2", "status")
    assert call.headers == {"Authorization": "Bearer sk-test"}
    assert call.json == {"action": "status", "id": "run_abc123xyz", "model": "scenex"}


@pytest.mark.parametrize(
    ("name", "status", "progress"),
    [
        ("status_in_queue.json", "queued", 0),
        ("status_in_progress.json", "in_progress", None),
        ("status_cancelled.json", "cancelled", None),
    ],
)
def test_parse_status_maps_pending_and_cancelled_states(name: str, status: str, progress: int | None) -> None:
    """IN_QUEUE, IN_PROGRESS and CANCELLED map to their canonical statuses with no failure."""
    parsed = parse_status(fixture_reply(name))
    assert (parsed.status, parsed.progress, parsed.failure, parsed.output) == (status, progress, None, None)


def test_parse_status_completed_safe_reads_signed_video_thumbnail_and_provenance() -> None:
    """The seed's safe COMPLETED meta yields the signed URL, the thumbnail and a small provenance map."""
    parsed = parse_status(fixture_reply("status_completed_safe.json"))
    assert parsed.status == "completed"
    assert parsed.output is not None
    assert parsed.output.video_url == "https://s3.../video.mp4?..."
    assert parsed.output.thumbnail_url == "https://s3.../thumb.jpg?..."
    assert parsed.output.provenance == {
        "c2pa": "true",
        "watermark": "true",
        "fingerprint": "a4f8e2c1b9d0...",
        "gen_id": "a1b2c3d4e5f6g7h8i9j0",
    }


def test_parse_status_completed_unsafe_is_a_content_policy_failure() -> None:
    """COMPLETED with compliance "unsafe" is a failed job carrying the vendor's message, not a success."""
    parsed = parse_status(fixture_reply("status_completed_unsafe.json"))
    assert parsed.status == "failed"
    assert parsed.output is None
    assert parsed.failure is not None
    assert parsed.failure.error_class is ErrorClass.CONTENT_POLICY
    assert parsed.failure.message == "Content blocked — flagged for: Category Name."
    assert parsed.failure.code == "content_blocked"


def test_parse_status_failed_is_an_internal_failure_with_the_vendor_message() -> None:
    """FAILED maps to failed/internal with the vendor text and its code."""
    failure = parse_status(fixture_reply("status_failed.json")).failure
    assert failure is not None
    assert (failure.error_class, failure.message, failure.code) == (
        ErrorClass.INTERNAL,
        "Generation failed",
        "generation_failed",
    )


def test_parse_status_timed_out_is_a_timeout_failure() -> None:
    """TIMED_OUT maps to failed/timeout."""
    parsed = parse_status(fixture_reply("status_timed_out.json"))
    assert parsed.status == "failed"
    assert parsed.failure is not None
    assert parsed.failure.error_class is ErrorClass.TIMEOUT


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("status_unknown.json", "PAUSED"),
        ("status_completed_missing_signed.json", "signed"),
        ("status_completed_undocumented_compliance.json", "pending_review"),
    ],
)
def test_parse_status_undocumented_shapes_are_protocol_errors(name: str, match: str) -> None:
    """An unknown status, a missing signed video or an unknown compliance verdict never get a default."""
    with pytest.raises(UpstreamProtocolError, match=match):
        parse_status(fixture_reply(name))


def test_parse_status_error_body_in_a_2xx_is_classified() -> None:
    """A status reply carrying only `error: "Bad ID"` raises the invalid-request error."""
    with pytest.raises(InvalidUpstreamRequest) as caught:
        parse_status(fixture_reply("status_error_bad_id_in_2xx.json"))
    assert caught.value.code == "bad_id"


def test_parse_status_non_json_body_is_a_protocol_error() -> None:
    """A 200 whose body is not JSON is a protocol error, not a pending job."""
    with pytest.raises(UpstreamProtocolError):
        parse_status(Reply(status_code=200, headers={}, body=b"<html>ok</html>"))


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "expected", "code"),
    [
        ("error_400_missing_action.json", InvalidUpstreamRequest, "missing_action"),
        ("error_400_scenes_array_is_required.json", InvalidUpstreamRequest, "scenes_required"),
        ("error_400_each_scene_requires_a_prompt.json", InvalidUpstreamRequest, "scene_prompt_required"),
        ("error_400_maximum_scenes_allowed.json", InvalidUpstreamRequest, "too_many_scenes"),
        ("error_400_content_blocked.json", ContentPolicyError, "content_blocked"),
        ("error_400_content_blocked_flagged.json", ContentPolicyError, "content_blocked"),
        ("error_400_bad_id.json", InvalidUpstreamRequest, "bad_id"),
        ("error_401_missing_authorization.json", UpstreamAuthError, "missing_authorization"),
        ("error_401_invalid_api_key.json", UpstreamAuthError, "invalid_api_key"),
        ("error_401_api_key_disabled.json", UpstreamAuthError, "api_key_disabled"),
        ("error_500_no_models_configured.json", UpstreamInternalError, "no_models_configured"),
        ("error_502_generation_failed.json", UpstreamUnavailable, "generation_failed"),
        ("error_502_enhancement_failed.json", UpstreamUnavailable, "enhancement_failed"),
    ],
)
def test_classify_error_maps_each_documented_error(name: str, expected: type[UpstreamError], code: str) -> None:
    """Every row of the seed's error table maps to its canonical class and a stable code."""
    status_code = int(name.split("_")[1])
    error = classify_error(fixture_reply(name, status_code))
    assert type(error) is expected
    assert (error.code, error.status_code, error.provider) == (code, status_code, "vidgen")


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (403, InvalidUpstreamRequest),
        (404, InvalidUpstreamRequest),
        (418, InvalidUpstreamRequest),
        (500, UpstreamInternalError),
        (502, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (504, UpstreamUnavailable),
        (599, UpstreamUnavailable),
    ],
)
def test_classify_error_non_json_body_is_classified_by_status(status_code: int, expected: type[UpstreamError]) -> None:
    """A proxy's HTML error page still maps by HTTP status, with a message naming the status."""
    error = classify_error(Reply(status_code=status_code, headers={}, body=b"<html>Bad Gateway</html>"))
    assert type(error) is expected
    assert str(status_code) in error.message
    assert error.code is None


def test_classify_error_unknown_400_string_is_invalid_request_without_code() -> None:
    """A 400 with an undocumented string is an invalid request and carries no code."""
    error = classify_error(Reply(status_code=400, headers={}, body=b'{"error": "Content blocked?"}'))
    assert type(error) is InvalidUpstreamRequest
    assert error.code is None


def test_classify_error_429_reads_retry_after_seconds() -> None:
    """A 429 with `Retry-After: 7` is rate-limited with a 7 s hint."""
    error = classify_error(Reply(status_code=429, headers={"Retry-After": "7"}, body=b""))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after_s == 7.0


def test_classify_error_429_reads_retry_after_http_date_against_the_date_header() -> None:
    """An HTTP-date Retry-After is measured from the reply's own Date header."""
    headers = {"retry-after": "Wed, 21 Oct 2015 07:30:00 GMT", "date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    error = classify_error(Reply(status_code=429, headers=headers, body=b"{}"))
    assert error.retry_after_s == 120.0


def test_classify_error_429_http_date_without_date_header_uses_now() -> None:
    """Without a Date header the HTTP-date hint is measured from the `now_s` passed in."""
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}
    error = classify_error(Reply(status_code=429, headers=headers, body=b""), now_s=1445412570.0)
    assert error.retry_after_s == 30.0


def test_classify_error_429_without_retry_after_has_no_hint() -> None:
    """A bare 429 is rate-limited with no retry hint invented."""
    error = classify_error(Reply(status_code=429, headers={}, body=b""))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after_s is None


def test_classify_error_documented_string_in_a_2xx_takes_its_documented_status() -> None:
    """A 200 carrying "Invalid API key" is classified as the 401 the seed documents for that string."""
    error = classify_error(fixture_reply("error_401_invalid_api_key.json", 200))
    assert type(error) is UpstreamAuthError

"""Pure videogenapi request translation: canonical requests through build_submit/build_poll, and the seed 002
accepted reply through parse_submit. No I/O beyond reading fixture files."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contract import (
    Audio,
    ContentCredentials,
    Dimensions,
    GenerationRequest,
    HttpCall,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    ProviderSettings,
    Reply,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
    VideoData,
    VideoInput,
)
from providers.videogenapi import SIZES, build_poll, build_submit, parse_status, parse_submit

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://videogenapi.test", api_key="lt_test")
CAT = "A cat playing with a ball in a sunny garden"
FIRST, LAST = ImageUrl(url="https://example.com/day.jpg"), ImageUrl(url="https://example.com/night.jpg")
REFS = tuple(ImageUrl(url=f"https://example.com/ref{i}.jpg") for i in range(1, 4))
INLINE = ImageData(mime_type="image/png", data=b"png", digest="0" * 64)
CLIP = VideoData(mime_type="video/mp4", data=b"mp4", digest="1" * 64)


def fixture_reply(name: str, status_code: int = 200) -> Reply:
    return Reply(status_code=status_code, headers={}, body=(FIXTURES / name).read_bytes())


def make_request(scene: Scene | None = None, model: str = "kling_25", **fields: object) -> GenerationRequest:
    chosen = scene or Scene(prompt=CAT)
    return GenerationRequest(upstream_model=model, scenes=(chosen,), **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


# --------------------------------------------------------------------------------------------- submit


def test_build_submit_minimal_t2v_sends_only_model_and_prompt() -> None:
    """A bare t2v request POSTs model and prompt to /api/v1/generate with the Bearer key, vendor defaults apply."""
    call = build_submit(make_request(), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/api/v1/generate", "generate")
    assert call.headers == {"Authorization": "Bearer lt_test"}
    assert call.json == {"model": "kling_25", "prompt": CAT}


def test_build_submit_reproduces_the_docs_audio_example() -> None:
    """Seconds, a 1920x1080 size and an audio prompt give seed 002's "Text-to-Video with Audio" body exactly."""
    audio = Audio(prompt="Cheerful ambient sounds with soft nature background")
    request = make_request(seconds=10, dimensions=Dimensions(width=1920, height=1080), audio=audio)
    assert build_submit(request, SETTINGS).json == {
        "model": "kling_25",
        "prompt": CAT,
        "duration": 10,
        "resolution": "1080p",
        "aspect_ratio": "16:9",
        "add_audio": True,
        "audio_prompt": "Cheerful ambient sounds with soft nature background",
    }


@pytest.mark.parametrize(
    ("size", "resolution", "aspect"),
    [
        ("832x480", "480p", "16:9"),
        ("1280x720", "720p", "16:9"),
        ("960x720", "720p", "4:3"),
        ("1080x1080", "1080p", "1:1"),
        ("720x1680", "720p", "9:21"),
        ("3840x2160", "4K", "16:9"),
        ("2160x5040", "4K", "9:21"),
    ],
)
def test_build_submit_maps_each_size_to_resolution_and_aspect(size: str, resolution: str, aspect: str) -> None:
    """A size in the resolution x aspect table is sent as exactly that `resolution` and `aspect_ratio`."""
    width, height = (int(side) for side in size.split("x"))
    body = body_of(build_submit(make_request(dimensions=Dimensions(width=width, height=height)), SETTINGS))
    assert (body["resolution"], body["aspect_ratio"]) == (resolution, aspect)


def test_size_table_covers_four_tiers_by_four_aspects_without_9_16() -> None:
    """The table holds 16 sizes, and none of them is portrait 9:16 (videogenapi has only 9:21)."""
    assert len(SIZES) == 16
    assert {aspect for _, aspect in SIZES.values()} == {"16:9", "4:3", "1:1", "9:21"}
    assert "720x1280" not in SIZES


def test_build_submit_seed_is_passed_through() -> None:
    """A canonical seed becomes `seed`."""
    assert body_of(build_submit(make_request(seed=42), SETTINGS))["seed"] == 42


def test_build_submit_disabled_audio_says_add_audio_false() -> None:
    """Audio explicitly disabled is sent as `add_audio: false`, with no audio prompt."""
    body = body_of(build_submit(make_request(audio=Audio(enabled=False, prompt="birds")), SETTINGS))
    assert body["add_audio"] is False
    assert "audio_prompt" not in body


def test_build_submit_takes_the_scene_seconds_when_the_request_names_none() -> None:
    """A single scene's own length becomes `duration`."""
    assert body_of(build_submit(make_request(Scene(prompt=CAT, seconds=6)), SETTINGS))["duration"] == 6


def test_build_submit_i2v_sends_image_url_and_resolution_without_aspect() -> None:
    """i2v sends `image_url`; `aspect_ratio` is t2v only (seed 002), so only the resolution tier goes out."""
    request = make_request(Scene(prompt="The dog runs", image=FIRST), dimensions=Dimensions(width=1280, height=720))
    assert build_submit(request, SETTINGS).json == {
        "model": "kling_25",
        "prompt": "The dog runs",
        "image_url": "https://example.com/day.jpg",
        "resolution": "720p",
    }


def test_build_submit_first_last_on_veo_31_sends_two_reference_urls() -> None:
    """First-last frame on veo-31 is `reference_image_urls: [first, last]` with the aspect, like seed 002's example."""
    scene = Scene(prompt="The scene transitions smoothly from day to night", image=FIRST, end_image=LAST)
    request = make_request(scene, model="veo-31", dimensions=Dimensions(width=1920, height=1080))
    assert build_submit(request, SETTINGS).json == {
        "model": "veo-31",
        "prompt": "The scene transitions smoothly from day to night",
        "reference_image_urls": ["https://example.com/day.jpg", "https://example.com/night.jpg"],
        "resolution": "1080p",
        "aspect_ratio": "16:9",
    }


def test_build_submit_veo_31_reference_mode_sends_three_urls() -> None:
    """Three reference images on veo-31 go out in order as `reference_image_urls`, without an aspect."""
    request = make_request(model="veo-31", reference_images=REFS, dimensions=Dimensions(width=1280, height=720))
    body = body_of(build_submit(request, SETTINGS))
    assert body["reference_image_urls"] == [image.url for image in REFS]
    assert (body["resolution"], "aspect_ratio" in body) == ("720p", False)


def test_build_submit_one_reference_image_on_another_model_is_sent() -> None:
    """Outside Veo 3.1 a single reference image is a plain multi-image request (1-5 images)."""
    body = body_of(build_submit(make_request(reference_images=REFS[:1]), SETTINGS))
    assert body["reference_image_urls"] == ["https://example.com/ref1.jpg"]


def test_build_submit_accepts_a_prompt_of_exactly_1000_characters() -> None:
    """The documented maximum itself is allowed and sent untouched."""
    prompt = "x" * 1000
    assert body_of(build_submit(make_request(Scene(prompt=prompt)), SETTINGS))["prompt"] == prompt


def _refused(scene: Scene | None = None, model: str = "kling_25", **fields: object) -> GenerationRequest:
    return make_request(scene, model, **fields)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (_refused(Scene(prompt="x" * 1001)), "1001 characters"),
        (_refused(Scene(prompt="   ")), "prompt"),
        (_refused(dimensions=Dimensions(width=720, height=1280)), "size 720x1280"),
        (_refused(dimensions=Dimensions(width=1000, height=1000)), "size 1000x1000"),
        (_refused(dimensions=Dimensions(width=854, height=480)), "size 854x480"),
        (_refused(Scene(prompt="x", image=INLINE)), "public URLs"),
        (_refused(reference_images=(INLINE,)), "public URLs"),
        (_refused(Scene(prompt="x", image=ImageUrl(url="file:///etc/cat.png"))), "public http"),
        (_refused(Scene(prompt="x", negative_terms=("blurry",))), "negative"),
        (_refused(audio=Audio(negative_prompt="music")), "negative"),
        (_refused(music=Music(tags="ambient")), "music"),
        (_refused(enhance_prompt=True), "enhancement"),
        (_refused(watermark=False), "watermark"),
        (_refused(watermark=True), "watermark"),
        (_refused(Scene(prompt="x", end_image=LAST)), "end frame"),
        (_refused(Scene(prompt="x", image=FIRST, end_image=LAST)), "Veo 3.1 only"),
        (_refused(model="veo-31", reference_images=REFS[:2]), "give 3-5"),
        (_refused(reference_images=REFS * 2), "maximum is 5"),
        (
            _refused(model="veo-31", reference_images=REFS, dimensions=Dimensions(width=960, height=720)),
            "forces 16:9",
        ),
        (_refused(Scene(prompt="x", image=FIRST), reference_images=REFS), "cannot be combined"),
        (_refused(Scene(prompt="x", seconds=5), seconds=10), "5s"),
    ],
    ids=[
        "prompt-too-long",
        "prompt-blank",
        "portrait-9-16",
        "square-not-a-tier",
        "480p-not-832",
        "inline-first-frame",
        "inline-reference",
        "non-http-url",
        "negative-terms",
        "audio-negative",
        "music",
        "enhance-prompt",
        "watermark-off",
        "watermark-on",
        "end-frame-alone",
        "first-last-not-veo",
        "veo-reference-two-images",
        "six-references",
        "veo-reference-4-3",
        "frame-and-references",
        "seconds-mismatch",
    ],
)
def test_build_submit_refuses_what_videogenapi_cannot_take_as_asked(request_: GenerationRequest, reason: str) -> None:
    """Inputs videogenapi would truncate, remap, ignore or cannot take raise instead of being sent."""
    with pytest.raises(InvalidUpstreamRequest, match=reason) as caught:
        build_submit(request_, SETTINGS)
    assert caught.value.provider == "videogenapi"


def test_build_submit_refuses_multi_scene() -> None:
    """Two scenes cannot be one videogenapi prompt."""
    request = GenerationRequest(
        upstream_model="kling_25", scenes=(Scene(prompt="a"), Scene(prompt="b")), multi_scene=True
    )
    with pytest.raises(InvalidUpstreamRequest, match="multi-scene"):
        build_submit(request, SETTINGS)


# --------------------------------------------------------------------------------------------- poll


def test_build_poll_gets_the_status_path_with_bearer_key() -> None:
    """A poll is GET /api/v1/status/{generation_id} with the key and no body."""
    job = UpstreamJob(provider="videogenapi", upstream_id="gen_686717fe97bd3_055867", upstream_model="kling_25")
    call = build_poll(job, SETTINGS)
    assert (call.method, call.path, call.operation) == ("GET", "/api/v1/status/gen_686717fe97bd3_055867", "status")
    assert (call.headers, call.json) == ({"Authorization": "Bearer lt_test"}, None)


def test_build_poll_escapes_an_id_that_is_not_path_safe() -> None:
    """An id with a slash cannot reach another path."""
    job = UpstreamJob(provider="videogenapi", upstream_id="../user", upstream_model="kling_25")
    assert build_poll(job, SETTINGS).path == "/api/v1/status/..%2Fuser"


# --------------------------------------------------------------------------------------------- accepted


def test_parse_submit_reads_the_generation_id_of_the_seed_reply() -> None:
    """Seed 002's accepted envelope becomes a job holding `generation_id` and the requested model."""
    job = parse_submit(fixture_reply("generate.json"), make_request())
    assert job == UpstreamJob(provider="videogenapi", upstream_id="gen_686717fe97bd3_055867", upstream_model="kling_25")


def test_parse_submit_accepts_an_image_to_video_reply_for_an_i2v_request() -> None:
    """An i2v request answered with type image-to-video is a normal job."""
    job = parse_submit(fixture_reply("generate_image_to_video.json"), make_request(Scene(prompt="x", image=FIRST)))
    assert job.upstream_id == "gen_68671800a1b2c_055868"


def test_parse_submit_model_swap_is_recorded_not_failed() -> None:
    """An accepted generation whose echo names another model key is followed, the requested key recorded."""
    job = parse_submit(fixture_reply("generate_model_swapped.json"), make_request())
    assert (job.upstream_model, job.requested_model) == ("sora-2", "kling_25")


@pytest.mark.parametrize(
    ("name", "request_", "match"),
    [
        ("generate.json", make_request(Scene(prompt="x", image=FIRST)), "ignoring the request's images"),
        ("generate_without_generation_id.json", make_request(), "generation_id"),
    ],
)
def test_parse_submit_silent_changes_and_missing_ids_are_protocol_errors(
    name: str, request_: GenerationRequest, match: str
) -> None:
    """A dropped image or a reply without an id is named, never accepted as a job."""
    with pytest.raises(UpstreamProtocolError, match=match):
        parse_submit(fixture_reply(name), request_)


def test_parse_submit_error_in_a_2xx_is_classified_with_the_vendor_text() -> None:
    """`success: false` with an error in a 200 raises (a protocol error) carrying the vendor's words."""
    with pytest.raises(UpstreamProtocolError, match="Generation could not be started"):
        parse_submit(fixture_reply("generate_error_in_2xx.json"), make_request())


def test_parse_submit_non_json_body_is_a_protocol_error() -> None:
    """A 200 whose body is not JSON is not a job."""
    with pytest.raises(UpstreamProtocolError):
        parse_submit(Reply(status_code=200, headers={}, body=b"<html>ok</html>"), make_request())


# --------------------------------------------------------------------------------------------- edges


def test_veo_31_text_to_video_keeps_any_documented_aspect() -> None:
    """Only Veo 3.1's reference mode forces 16:9 (seed 004); its t2v sends 9:21 as asked."""
    body = body_of(build_submit(make_request(model="veo-31", dimensions=Dimensions(width=720, height=1680)), SETTINGS))
    assert (body["resolution"], body["aspect_ratio"]) == ("720p", "9:21")


def test_an_http_image_url_is_public_too() -> None:
    """Seed 002 `image_url` is a public URL: plain http is one, as https is."""
    body = body_of(
        build_submit(make_request(Scene(prompt=CAT, image=ImageUrl(url="http://example.com/a.jpg"))), SETTINGS)
    )
    assert body["image_url"] == "http://example.com/a.jpg"


def test_an_accepted_reply_without_a_model_echo_keeps_the_requested_model() -> None:
    """No `model` in the reply: the job runs under the model asked for, with no swap recorded."""
    job = parse_submit(
        Reply(status_code=200, headers={}, body=b'{"success": true, "generation_id": "gen_1"}'), make_request()
    )
    assert (job.upstream_model, job.requested_model) == ("kling_25", None)


def test_a_2xx_carrying_only_an_error_reports_the_vendors_words() -> None:
    """`{"error": ...}` without `generation_id` or `success` is classified, so the vendor's text reaches the log."""
    with pytest.raises(UpstreamProtocolError, match="Model busy"):
        parse_submit(Reply(status_code=200, headers={}, body=b'{"error": "Model busy"}'), make_request())


def test_a_generate_reply_that_is_not_json_is_a_videogenapi_protocol_error() -> None:
    """A proxy's HTML page where the accepted envelope should be names the provider."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_submit(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"), make_request())
    assert raised.value.provider == "videogenapi"


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (make_request(video_input=VideoInput(operation="edit", video=CLIP, source_seconds=8)), "source-video"),
        (make_request(multi_scene=True), "multi-scene"),
        (GenerationRequest(upstream_model="kling_25", scenes=(Scene(prompt="a"), Scene(prompt="b"))), "multi-scene"),
        (make_request(content_credentials=ContentCredentials(author="A")), "content credentials"),
        (make_request(upscale=True), "upscaling"),
        (make_request(temporary_output=True), "temporary outputs"),
        (make_request(results=2), "one video per generation"),
    ],
    ids=["source-video", "multi-scene-flag", "two-scenes", "credentials", "upscale", "temporary", "two-results"],
)
def test_each_option_seed_002_has_no_field_for_is_refused_alone(request_: GenerationRequest, reason: str) -> None:
    """Seed 002 has no field for any of these: each alone is enough for a refusal naming it."""
    with pytest.raises(InvalidUpstreamRequest, match=reason):
        build_submit(request_, SETTINGS)


def test_five_reference_images_are_taken() -> None:
    """Seed 002 `reference_image_urls`: "1-5 images"; five is within."""
    refs = tuple(ImageUrl(url=f"https://example.com/ref{i}.jpg") for i in range(5))
    assert len(body_of(build_submit(make_request(reference_images=refs), SETTINGS))["reference_image_urls"]) == 5


@pytest.mark.parametrize("body", [b"{}", b'{"success": true}'])
def test_a_status_reply_with_neither_status_nor_error_is_undocumented(body: bytes) -> None:
    """Without a status, only an `error` or `success: false` makes a reply an error to classify."""
    with pytest.raises(UpstreamProtocolError, match="undocumented status"):
        parse_status(Reply(status_code=200, headers={}, body=body))


def test_a_status_reply_carrying_only_an_error_reports_the_vendors_words() -> None:
    """`{"error": ...}` without a status is classified, so the vendor's text reaches the error."""
    with pytest.raises(UpstreamProtocolError, match="Generation not found") as raised:
        parse_status(Reply(status_code=200, headers={}, body=b'{"error": "Generation not found"}'))
    assert raised.value.provider == "videogenapi"


def test_a_status_reply_that_is_not_json_names_videogenapi() -> None:
    """A proxy's HTML page on the poll names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_status(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "videogenapi"

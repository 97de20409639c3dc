"""Intake without HTTP: `gateway.videos.intake.normalize` turns a create body into what routing consumes (negatives
split, images decoded and measured, dimensions resolved), and every client mistake is a named InvalidRequest."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import msgspec
import pytest

from gateway.config import LimitsSettings
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.schema.job import ImageRef
from gateway.schema.wire import CreateVideoBody
from gateway.videos.failover import replay_of
from gateway.videos.intake import Intake, decode_data_uri, image_data, normalize
from providers.contract import Dimensions, ImageData, ImageUrl
from tests.gateway.videos.conftest import MAX_IMAGE_BYTES, PNG, data_uri

LIMITS = LimitsSettings(max_image_bytes=MAX_IMAGE_BYTES, max_metadata_entries=3)


def _intake(upload: ImageData | None = None, **fields: Any) -> Intake:
    body = msgspec.convert(fields, CreateVideoBody)
    return normalize(body, limits=LIMITS, default_model="scenex", upload=upload)


def _refused(**fields: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        _intake(**fields)
    return raised.value


# ------------------------------------------------------------------------------------- prompts and scenes


def test_negative_terms_are_split_from_the_prompt() -> None:
    """`-term` tokens leave the positive prompt and join the explicit negative prompt, in that order."""
    intake = _intake(prompt="a lighthouse at dawn, -blurry, waves, -low quality", negative_prompt=" text ")
    (scene,) = intake.query.request.scenes
    assert scene.prompt == "a lighthouse at dawn, waves"
    assert scene.negative_terms == ("blurry", "low quality", "text")
    assert intake.prompt == "a lighthouse at dawn, -blurry, waves, -low quality"


def test_negative_terms_are_split_per_scene() -> None:
    """Each scene keeps its own negatives; one scene's `-terms` never leak into another."""
    intake = _intake(
        scenes=[
            {"prompt": "waves, -blurry"},
            {"prompt": "cliffs at dusk, -dark, -grainy", "negative_prompt": "people"},
            {"prompt": "a self-driving car, - , x"},
        ]
    )
    first, second, third = intake.query.request.scenes
    assert (first.prompt, first.negative_terms) == ("waves", ("blurry",))
    assert (second.prompt, second.negative_terms) == ("cliffs at dusk", ("dark", "grainy", "people"))
    assert (third.prompt, third.negative_terms) == ("a self-driving car, -, x", ())
    assert intake.query.request.multi_scene is True
    assert intake.prompt == "waves, -blurry | cliffs at dusk, -dark, -grainy | a self-driving car, - , x"


def test_single_prompt_is_one_scene_not_multi_scene() -> None:
    """A plain prompt becomes one scene and a t2v request."""
    request = _intake(prompt="a kite").query.request
    assert len(request.scenes) == 1
    assert request.multi_scene is False
    assert request.mode == "t2v"


def test_prompt_of_only_negatives_names_the_prompt() -> None:
    """A prompt with nothing positive is a 400 naming the prompt (of the scene, when in scenes)."""
    assert _refused(prompt="-blurry, -dark").param == "prompt"
    assert _refused(scenes=[{"prompt": "sea"}, {"prompt": "-dark"}]).param == "scenes[1].prompt"


def test_prompt_and_scenes_are_exclusive() -> None:
    """Giving both `prompt` and `scenes` is a 400 `conflicting_fields`."""
    error = _refused(prompt="a", scenes=[{"prompt": "b"}])
    assert (error.code, error.param) == ("conflicting_fields", "scenes")


def test_prompt_or_scenes_is_required() -> None:
    """A body with neither `prompt` nor `scenes` is a 400 `missing_field` naming `prompt`."""
    error = _refused(model="scenex")
    assert (error.code, error.param) == ("missing_field", "prompt")


def test_top_level_frames_conflict_with_scenes() -> None:
    """With `scenes`, a top-level `image` or an uploaded frame is a 400: frames go on each scene."""
    error = _refused(scenes=[{"prompt": "b"}], image={"url": "https://example.com/a.png"})
    assert error.code == "conflicting_fields"
    upload = image_data(PNG, "image/png", param="input_reference", max_bytes=MAX_IMAGE_BYTES)
    with pytest.raises(InvalidRequest, match="each scene"):
        _intake(upload=upload, scenes=[{"prompt": "b"}])


def test_top_level_negative_prompt_with_scenes_is_not_silently_dropped() -> None:
    """A top-level `negative_prompt` next to `scenes` applies to every scene."""
    intake = _intake(negative_prompt="watermark", scenes=[{"prompt": "a"}, {"prompt": "b"}])

    assert [s.negative_terms for s in intake.query.request.scenes] == [("watermark",), ("watermark",)]


def test_model_falls_back_to_the_default_and_is_required_without_one() -> None:
    """No `model` uses the configured default; with no default it is a 400 naming `model`."""
    assert _intake(prompt="a").query.model == "scenex"
    assert _intake(prompt="a", model="other").query.model == "other"
    body = CreateVideoBody(prompt="a")
    with pytest.raises(InvalidRequest) as raised:
        normalize(body, limits=LIMITS, default_model=None)
    assert (raised.value.code, raised.value.param) == ("missing_field", "model")


# ------------------------------------------------------------------------------------------------- frames


def test_end_image_without_image_names_image() -> None:
    """A last frame without a first frame is a 400 naming the missing `image` (per scene in scenes)."""
    error = _refused(prompt="a", end_image={"url": "https://example.com/z.png"})
    assert (error.code, error.param) == ("missing_field", "image")
    error = _refused(scenes=[{"prompt": "a", "end_image": {"url": "https://example.com/z.png"}}])
    assert error.param == "scenes[0].image"


def test_first_and_last_frames_make_a_first_last_request() -> None:
    """`image` and `end_image` together give mode `first_last`."""
    intake = _intake(prompt="a", image={"url": "https://example.com/a.png"}, end_image={"data_uri": data_uri()})
    assert intake.query.request.mode == "first_last"
    assert [ref.role for ref in intake.images] == ["image", "end_image"]


def test_url_image_is_kept_as_url_and_recorded_by_url() -> None:
    """A URL image reaches routing as an ImageUrl and is recorded as ImageRef(url=...), nothing fetched."""
    intake = _intake(prompt="a", image={"url": "https://example.com/a.png"})
    assert intake.query.request.scenes[0].image == ImageUrl(url="https://example.com/a.png")
    assert intake.images == (ImageRef(role="image", url="https://example.com/a.png"),)


def test_data_image_is_decoded_and_recorded_by_digest_and_size_only() -> None:
    """A data URI is decoded to bytes for the adapter, but the job record keeps only digest, size and type."""
    intake = _intake(prompt="a", image={"data_uri": data_uri()})
    image = intake.query.request.scenes[0].image
    assert isinstance(image, ImageData)
    assert image.data == PNG
    digest = hashlib.sha256(PNG).hexdigest()
    assert intake.images == (ImageRef(role="image", digest=digest, size_bytes=len(PNG), mime_type="image/png"),)
    recorded = msgspec.json.encode(intake.images)
    assert base64.b64encode(PNG) not in recorded
    assert PNG not in recorded


def test_reference_images_are_recorded_with_indexed_roles() -> None:
    """Reference images keep their order and are named `reference_images[i]`."""
    intake = _intake(
        prompt="a",
        reference_images=[{"url": "https://example.com/1.png"}, {"data_uri": data_uri(mime="image/jpeg")}],
    )
    assert intake.query.request.mode == "reference"
    assert [ref.role for ref in intake.images] == ["reference_images[0]", "reference_images[1]"]
    assert intake.images[1].mime_type == "image/jpeg"


def test_uploaded_frame_becomes_the_start_image() -> None:
    """A multipart upload is the first frame (i2v), recorded by digest as role `image`."""
    upload = image_data(PNG, "image/png", param="input_reference", max_bytes=MAX_IMAGE_BYTES)
    intake = _intake(upload=upload, prompt="a")
    assert intake.query.request.mode == "i2v"
    assert intake.query.request.scenes[0].image == upload
    assert intake.images == (ImageRef(role="image", digest=upload.digest, size_bytes=len(PNG), mime_type="image/png"),)


def test_upload_and_image_together_is_a_conflict() -> None:
    """An uploaded frame plus a body `image` is a 400: the start frame is given once."""
    upload = image_data(PNG, "image/png", param="input_reference", max_bytes=MAX_IMAGE_BYTES)
    with pytest.raises(InvalidRequest) as raised:
        _intake(upload=upload, prompt="a", image={"url": "https://example.com/a.png"})
    assert (raised.value.code, raised.value.param) == ("conflicting_fields", "image")


@pytest.mark.parametrize(
    ("image", "param"),
    [
        ({}, "image"),
        ({"url": "https://example.com/a.png", "data_uri": data_uri()}, "image"),
        ({"url": "ftp://example.com/a.png"}, "image.url"),
        ({"url": "file:///etc/passwd"}, "image.url"),
        ({"data_uri": "data:image/png;base64,@@@not base64@@@"}, "image.data_uri"),
        ({"data_uri": "data:image/png;base64,iVBORw0KGgo"}, "image.data_uri"),
        ({"data_uri": data_uri(mime="text/plain")}, "image.data_uri"),
        ({"data_uri": data_uri(mime="image/svg+xml")}, "image.data_uri"),
        ({"data_uri": "iVBORw0KGgo="}, "image.data_uri"),
        ({"data_uri": "data:image/png,rawbytes"}, "image.data_uri"),
        ({"data_uri": "data:image/png;base64,"}, "image.data_uri"),
    ],
)
def test_bad_image_is_a_400_naming_it(image: dict[str, str], param: str) -> None:
    """A malformed image (both or neither form, bad scheme or base64, bad type, empty) is a 400 naming it."""
    error = _refused(prompt="a", image=image)
    assert error.status_code == 400
    assert error.param == param
    assert error.code == "invalid_value"


def test_image_over_the_limit_is_payload_too_large() -> None:
    """A data URI over `max_image_bytes` is a 413 naming the image, caught before or after decoding."""
    with pytest.raises(PayloadTooLarge) as raised:
        _intake(prompt="a", image={"data_uri": data_uri(b"x" * (MAX_IMAGE_BYTES + 1))})
    assert raised.value.status_code == 413
    assert raised.value.param == "image.data_uri"
    with pytest.raises(PayloadTooLarge):
        _intake(scenes=[{"prompt": "a", "image": {"data_uri": data_uri(b"x" * (MAX_IMAGE_BYTES * 4))}}])


@pytest.mark.parametrize("size_bytes", [MAX_IMAGE_BYTES - 2, MAX_IMAGE_BYTES - 1, MAX_IMAGE_BYTES])
def test_image_at_the_limit_is_accepted(size_bytes: int) -> None:
    """An image of exactly `max_image_bytes` (or just under, whatever its base64 padding) is accepted."""
    image = decode_data_uri(data_uri(b"y" * size_bytes), param="image", max_bytes=MAX_IMAGE_BYTES)
    assert image.size_bytes == size_bytes


def test_data_uri_mime_type_is_case_insensitive() -> None:
    """`data:IMAGE/PNG;BASE64,` is the same as lower case, and is recorded in lower case."""
    uri = "data:IMAGE/PNG;BASE64," + base64.b64encode(PNG).decode()
    assert decode_data_uri(uri, param="image", max_bytes=MAX_IMAGE_BYTES).mime_type == "image/png"


def test_bare_bytes_upload_is_recognised_by_its_magic() -> None:
    """An upload sent as application/octet-stream (the SDK's bare-bytes form) is typed by its content."""
    image = image_data(PNG, "application/octet-stream", param="input_reference", max_bytes=MAX_IMAGE_BYTES)
    assert image.mime_type == "image/png"
    with pytest.raises(InvalidRequest, match="not accepted"):
        image_data(b"plain text", "application/octet-stream", param="input_reference", max_bytes=MAX_IMAGE_BYTES)


# -------------------------------------------------------------------------------- seconds and dimensions


@pytest.mark.parametrize(("seconds", "expected"), [("8", 8), ("4", 4), (5, 5), (None, None)])
def test_seconds_strings_become_integers(seconds: int | str | None, expected: int | None) -> None:
    """The OpenAI string seconds ("4", "8", "12") and plain integers both become an int."""
    fields: dict[str, Any] = {"prompt": "a"} if seconds is None else {"prompt": "a", "seconds": seconds}
    assert _intake(**fields).query.request.seconds == expected


@pytest.mark.parametrize(
    ("fields", "dimensions"),
    [
        ({"size": "1280x720"}, Dimensions(width=1280, height=720)),
        ({"resolution": "720p", "aspect_ratio": "9:16"}, Dimensions(width=720, height=1280)),
        ({"resolution": "480p", "aspect_ratio": "16:9"}, Dimensions(width=832, height=480)),
        ({"resolution": "1080p", "aspect_ratio": "16:9"}, Dimensions(width=1920, height=1080)),
        ({"resolution": "1080p", "aspect_ratio": "1:1"}, Dimensions(width=1080, height=1080)),
        ({"resolution": "720p", "aspect_ratio": "4:3"}, Dimensions(width=960, height=720)),
        ({"resolution": "480p", "aspect_ratio": "3:4"}, Dimensions(width=480, height=640)),
        ({"resolution": "1080p", "aspect_ratio": "2:3"}, Dimensions(width=1080, height=1620)),
        ({"resolution": "480p"}, Dimensions(width=832, height=480)),
        ({"aspect_ratio": "9:16"}, Dimensions(width=720, height=1280)),
        ({}, None),
    ],
)
def test_resolution_and_aspect_give_dimensions(fields: dict[str, str], dimensions: Dimensions | None) -> None:
    """`size`, or `resolution` + `aspect_ratio` (720p and 16:9 when one is missing), give exact pixels."""
    assert _intake(prompt="a", **fields).query.request.dimensions == dimensions


@pytest.mark.parametrize("other", [{"resolution": "720p"}, {"aspect_ratio": "16:9"}])
def test_size_conflicts_with_resolution_or_aspect(other: dict[str, str]) -> None:
    """`size` together with `resolution` or `aspect_ratio` is a 400 naming `size`."""
    error = _refused(prompt="a", size="1280x720", **other)
    assert (error.code, error.param) == ("conflicting_fields", "size")


# ------------------------------------------------------------------------------------- metadata, routing


def test_metadata_over_the_entry_cap_is_refused() -> None:
    """More metadata entries than `max_metadata_entries` is a 400 naming `metadata`; at the cap is fine."""
    _intake(prompt="a", metadata={f"k{i}": "v" for i in range(3)})
    error = _refused(prompt="a", metadata={f"k{i}": "v" for i in range(4)})
    assert (error.code, error.param) == ("invalid_value", "metadata")


def test_routing_preferences_reach_the_query() -> None:
    """`routing` providers, exclusions and max cost (as micro-dollars) are carried to the router."""
    query = _intake(
        prompt="a",
        best_effort=True,
        routing={"providers": ["vidgen"], "exclude": ["other"], "max_cost_usd": 0.25},
    ).query
    assert query.allow_providers == ("vidgen",)
    assert query.exclude_providers == ("other",)
    assert query.max_cost_micros == 250_000
    assert query.best_effort is True


def test_audio_music_and_options_are_carried() -> None:
    """Audio, music, seed, enhance_prompt and watermark reach the generation request unchanged."""
    request = _intake(
        prompt="a",
        seed=7,
        audio={"prompt": "surf"},
        music={"tags": "ambient", "bpm": 90},
        enhance_prompt=True,
        watermark=False,
    ).query.request
    assert request.seed == 7
    assert request.audio is not None
    assert request.audio.prompt == "surf"
    assert request.music is not None
    assert (request.music.tags, request.music.bpm) == ("ambient", 90)
    assert (request.enhance_prompt, request.watermark) == (True, False)


# ------------------------------------------------------------------------------------- seed capabilities


def test_watermark_overlay_and_credentials_reach_the_request() -> None:
    """A watermark overlay's data URI is decoded and measured; credentials and the other options pass through."""
    intake = _intake(
        prompt="a harbour",
        watermark_overlay={"image_data_uri": data_uri(PNG), "position": "top-right", "opacity": 40},
        content_credentials={"author": "Studio A"},
        upscale=True,
        n=3,
        temporary_output=True,
        camera_fixed=False,
    )
    request = intake.query.request
    assert request.watermark_overlay is not None
    assert request.watermark_overlay.image is not None
    assert request.watermark_overlay.image.data == PNG
    assert (request.watermark_overlay.position, request.watermark_overlay.opacity) == ("top-right", 40)
    assert request.content_credentials is not None
    assert request.content_credentials.author == "Studio A"
    assert (request.upscale, request.results, request.temporary_output, request.camera_fixed) == (True, 3, True, False)
    assert [ref.role for ref in intake.images] == ["watermark_overlay.image_data_uri"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"watermark_overlay": {"scale": 0}}, "watermark_overlay.scale"),
        ({"watermark_overlay": {"rotation_deg": 361}}, "watermark_overlay.rotation_deg"),
        ({"watermark_overlay": {"position": "middle"}}, "watermark_overlay.position"),
        ({"n": 101}, "n"),
    ],
)
def test_out_of_range_seed_options_are_refused_by_the_schema(fields: dict[str, Any], param: str) -> None:
    """Seed 000's `wm_*` ranges and seed 001's `numResults` 1-100 are enforced before anything is spent."""
    with pytest.raises(msgspec.ValidationError, match=param.replace(".", r"\.")):
        _intake(prompt="a", **fields)


def test_a_4k_resolution_resolves_to_2160p_pixels() -> None:
    """`resolution: 2160p` (videogenapi's `4K`, seed 002) is 3840x2160 at 16:9."""
    assert _intake(prompt="a", resolution="2160p").query.request.dimensions == Dimensions(width=3840, height=2160)


def test_a_watermark_image_keeps_the_request_off_the_job_record() -> None:
    """A request carrying watermark image bytes is not kept for failover replay (records hold digests, never bytes)."""
    with_image = _intake(prompt="a", watermark_overlay={"image_data_uri": data_uri(PNG)})
    without_image = _intake(prompt="a", watermark_overlay={"position": "center"})
    assert replay_of(with_image.query, max_attempts=3) is None
    assert replay_of(without_image.query, max_attempts=3) == without_image.query

"""Intake: `gateway.intake.normalize` turns a create body into what routing consumes (negatives split, images
decoded and measured, dimensions resolved) and every client mistake over HTTP is a named 4xx, never a 500."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import pytest_asyncio

from gateway.api.schemas import CreateVideoBody
from gateway.app import create_app
from gateway.config import LimitsSettings
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.intake import Intake, decode_data_uri, image_data, normalize
from gateway.jobs import ImageRef
from providers.contract import Dimensions, ImageData, ImageUrl
from providers.sandbox.serving import serve_app
from providers.sandbox.vidgen import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import VIDGEN_KEY_ENV, auth, gateway_settings
from tests.conftest import test_keyring as keyring_for_tests

MAX_IMAGE_BYTES = 2048
LIMITS = LimitsSettings(max_image_bytes=MAX_IMAGE_BYTES, max_metadata_entries=3)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def _data_uri(data: bytes = PNG, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


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
    """A top-level `negative_prompt` next to `scenes` either applies to every scene or is a 400."""
    try:
        intake = _intake(negative_prompt="watermark", scenes=[{"prompt": "a"}, {"prompt": "b"}])
    except InvalidRequest:
        return
    assert all("watermark" in s.negative_terms for s in intake.query.request.scenes)


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
    intake = _intake(prompt="a", image={"url": "https://example.com/a.png"}, end_image={"data_uri": _data_uri()})
    assert intake.query.request.mode == "first_last"
    assert [ref.role for ref in intake.images] == ["image", "end_image"]


def test_url_image_is_kept_as_url_and_recorded_by_url() -> None:
    """A URL image reaches routing as an ImageUrl and is recorded as ImageRef(url=...), nothing fetched."""
    intake = _intake(prompt="a", image={"url": "https://example.com/a.png"})
    assert intake.query.request.scenes[0].image == ImageUrl(url="https://example.com/a.png")
    assert intake.images == (ImageRef(role="image", url="https://example.com/a.png"),)


def test_data_image_is_decoded_and_recorded_by_digest_and_size_only() -> None:
    """A data URI is decoded to bytes for the adapter, but the job record keeps only digest, size and type."""
    intake = _intake(prompt="a", image={"data_uri": _data_uri()})
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
        reference_images=[{"url": "https://example.com/1.png"}, {"data_uri": _data_uri(mime="image/jpeg")}],
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
        ({"url": "https://example.com/a.png", "data_uri": _data_uri()}, "image"),
        ({"url": "ftp://example.com/a.png"}, "image.url"),
        ({"url": "file:///etc/passwd"}, "image.url"),
        ({"data_uri": "data:image/png;base64,@@@not base64@@@"}, "image.data_uri"),
        ({"data_uri": "data:image/png;base64,iVBORw0KGgo"}, "image.data_uri"),
        ({"data_uri": _data_uri(mime="text/plain")}, "image.data_uri"),
        ({"data_uri": _data_uri(mime="image/svg+xml")}, "image.data_uri"),
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
        _intake(prompt="a", image={"data_uri": _data_uri(b"x" * (MAX_IMAGE_BYTES + 1))})
    assert raised.value.status_code == 413
    assert raised.value.param == "image.data_uri"
    with pytest.raises(PayloadTooLarge):
        _intake(scenes=[{"prompt": "a", "image": {"data_uri": _data_uri(b"x" * (MAX_IMAGE_BYTES * 4))}}])


@pytest.mark.parametrize("size_bytes", [MAX_IMAGE_BYTES - 2, MAX_IMAGE_BYTES - 1, MAX_IMAGE_BYTES])
def test_image_at_the_limit_is_accepted(size_bytes: int) -> None:
    """An image of exactly `max_image_bytes` (or just under, whatever its base64 padding) is accepted."""
    image = decode_data_uri(_data_uri(b"y" * size_bytes), param="image", max_bytes=MAX_IMAGE_BYTES)
    assert image.size_bytes == size_bytes


def test_data_uri_mime_type_is_case_insensitive() -> None:
    """`data:IMAGE/PNG;BASE64,` is the same as lower case, and is recorded in lower case."""
    uri = "data:IMAGE/PNG;BASE64," + base64.b64encode(PNG).decode()
    assert decode_data_uri(uri, param="image", max_bytes=MAX_IMAGE_BYTES).mime_type == "image/png"


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


# ------------------------------------------------------------------------------------------------- HTTP

BODY_LIMIT = 8192


# One gateway (and emulator) serves every HTTP test here: malformed requests leave no state behind, and
# starting and stopping a pair costs ~0.4 s.
on_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    vidgen_key = "sbx_" + secrets.token_hex(12)
    extra = f"[server]\nmax_body_bytes = {BODY_LIMIT}\n[limits]\nmax_image_bytes = {MAX_IMAGE_BYTES}\n"
    emulator = create_vidgen_emulator(VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.25))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(VIDGEN_KEY_ENV, vidgen_key)
        async with serve_app(emulator) as vidgen_url:
            app = create_app(gateway_settings(vidgen_url, extra=extra), keyring=keyring_for_tests())
            async with serve_app(app) as url, httpx.AsyncClient(base_url=url, headers=auth()) as client:
                yield client


def _envelope(reply: httpx.Response, status: int) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["request_id"] == reply.headers["x-request-id"]
    assert "Traceback" not in reply.text
    return error


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"prompt": 5}, "invalid_value", "prompt"),
        ({"prompt": "a", "seed": -1}, "invalid_value", "seed"),
        ({"prompt": "a", "seconds": "9"}, "invalid_value", "seconds"),
        ({"prompt": "a", "enhance_prompt": "yes"}, "invalid_value", "enhance_prompt"),
        ({"prompt": "a", "routing": {"strategy": "random"}}, "invalid_value", "routing.strategy"),
        ({"prompt": "a", "colour": "red"}, "unknown_field", "colour"),
        ({"scenes": [{"prompt": "a", "foo": 1}]}, "unknown_field", "scenes[0].foo"),
        ({"scenes": [{"prompt": "a", "image": {"uri": "x"}}]}, "unknown_field", "scenes[0].image.uri"),
        ({"scenes": []}, "invalid_value", "scenes"),
        ({"scenes": [{}]}, "missing_field", "scenes[0]"),
        ({"prompt": ""}, "invalid_value", "prompt"),
        (
            {"prompt": "a", "image": {"data_uri": "data:image/png;base64,!!"}},
            "invalid_value",
            "image.data_uri",
        ),
        ({"prompt": "a", "size": "big"}, "invalid_value", "size"),
        ({"prompt": "a", "size": "1280x720", "resolution": "720p"}, "conflicting_fields", "size"),
    ],
)
@on_module_loop
async def test_malformed_json_body_is_a_400_naming_the_param(
    gateway: httpx.AsyncClient, body: dict[str, Any], code: str, param: str
) -> None:
    """Wrong types, out-of-range values, unknown (nested) fields and conflicts are 400s naming the param."""
    error = _envelope(await gateway.post("/v1/videos", json=body), 400)
    assert (error["type"], error["code"], error["param"]) == ("invalid_request", code, param)


@pytest.mark.parametrize("content", [b"{nope", b"", b'{"prompt": "a"', b"\xff\xfe", b"[1, 2]", b"null"])
@on_module_loop
async def test_invalid_json_is_a_400(gateway: httpx.AsyncClient, content: bytes) -> None:
    """A body that is not a JSON object is a 400 envelope, never a 500."""
    reply = await gateway.post("/v1/videos", content=content, headers={"content-type": "application/json"})
    error = _envelope(reply, 400)
    assert error["code"] in ("invalid_json", "invalid_value")


@on_module_loop
async def test_oversized_body_is_a_413(gateway: httpx.AsyncClient) -> None:
    """A body over `server.max_body_bytes` is a 413 envelope, with or without a Content-Length."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "' + b"x" * BODY_LIMIT + b'"}'

    sized = await gateway.post("/v1/videos", json={"prompt": "x" * BODY_LIMIT})
    chunked = await gateway.post("/v1/videos", content=chunks(), headers={"content-type": "application/json"})
    for reply in (sized, chunked):
        assert _envelope(reply, 413)["type"] == "payload_too_large"


@on_module_loop
async def test_oversized_image_is_a_413_naming_it(gateway: httpx.AsyncClient) -> None:
    """An inline image over `limits.max_image_bytes` (but inside the body limit) is a 413 naming the image."""
    body = {"prompt": "a", "image": {"data_uri": _data_uri(b"z" * (MAX_IMAGE_BYTES * 2))}}
    error = _envelope(await gateway.post("/v1/videos", json=body), 413)
    assert error["param"] == "image.data_uri"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
@on_module_loop
async def test_unsupported_content_type_is_a_415(gateway: httpx.AsyncClient, content_type: str) -> None:
    """A create body that is neither JSON nor multipart is a 415 that says what to send."""
    reply = await gateway.post("/v1/videos", content=b"prompt=a", headers={"content-type": content_type})
    error = _envelope(reply, 415)
    assert "application/json" in error["message"]


@pytest.mark.parametrize(
    ("files", "param"),
    [
        ({"prompt": (None, "a"), "colour": (None, "red")}, "colour"),
        ({"prompt": (None, "a"), "scenes": (None, "[]")}, "scenes"),
        ({"prompt": (None, "a"), "thing": ("a.png", PNG, "image/png")}, "thing"),
        ({"prompt": (None, "a"), "input_reference": (None, "https://example.com/a.png")}, "input_reference"),
        ({"prompt": (None, "a"), "input_reference": ("a.txt", b"hello", "text/plain")}, "input_reference"),
        ({"prompt": (None, "a"), "seed": (None, "abc")}, "seed"),
        ([("prompt", (None, "a")), ("prompt", (None, "b"))], "prompt"),
    ],
)
@on_module_loop
async def test_malformed_multipart_is_a_400_naming_the_field(
    gateway: httpx.AsyncClient, files: Any, param: str
) -> None:
    """Unknown, structured, repeated or mistyped form fields and non-image files are 400s naming the field."""
    error = _envelope(await gateway.post("/v1/videos", files=files), 400)
    assert error["param"] == param


@on_module_loop
async def test_multipart_image_over_the_limit_is_a_413(gateway: httpx.AsyncClient) -> None:
    """An uploaded `input_reference` over `max_image_bytes` is a 413 naming it."""
    files = {"prompt": (None, "a"), "input_reference": ("a.png", PNG * 64, "image/png")}
    error = _envelope(await gateway.post("/v1/videos", files=files), 413)
    assert error["param"] == "input_reference"


@on_module_loop
async def test_broken_multipart_is_a_400(gateway: httpx.AsyncClient) -> None:
    """A multipart body that does not parse is a 400 envelope, not a 500."""
    for content_type in ("multipart/form-data; boundary=zz", "multipart/form-data"):
        reply = await gateway.post("/v1/videos", content=b"--zz\r\nbroken", headers={"content-type": content_type})
        _envelope(reply, 400)


@on_module_loop
async def test_multipart_scalars_are_converted(gateway: httpx.AsyncClient) -> None:
    """Form strings for seconds, size and booleans become typed fields and the job is accepted."""
    files = {"prompt": (None, "a kite"), "seconds": (None, "5"), "size": (None, "640x480")}
    reply = await gateway.post("/v1/videos", files={**files, "enhance_prompt": (None, "true")})
    assert reply.status_code == 202, reply.text
    assert (reply.json()["seconds"], reply.json()["size"]) == ("5", "640x480")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=101", "limit"),
        ("order=sideways", "order"),
        ("status=done", "status"),
        ("after=" + "x" * 65, "after"),
    ],
)
@on_module_loop
async def test_bad_list_query_is_a_400_naming_the_parameter(gateway: httpx.AsyncClient, query: str, name: str) -> None:
    """An out-of-range or mistyped list parameter is a 400 whose message names the parameter."""
    error = _envelope(await gateway.get(f"/v1/videos?{query}"), 400)
    assert error["type"] == "invalid_request"
    assert f"{name}:" in error["message"]


@on_module_loop
async def test_bad_list_query_sets_param(gateway: httpx.AsyncClient) -> None:
    """The envelope's `param` names the bad query parameter, as it does for body fields."""
    error = _envelope(await gateway.get("/v1/videos?limit=0"), 400)
    assert error["param"] == "limit"


@on_module_loop
async def test_bad_content_variant_and_long_id_are_400s(gateway: httpx.AsyncClient) -> None:
    """An unknown download variant or an over-long video id is a 400, not a 404 or 500."""
    variant = await gateway.get("/v1/videos/video_x/content?variant=gif")
    long_id = await gateway.get("/v1/videos/" + "x" * 65)
    assert "variant" in _envelope(variant, 400)["message"]
    assert "video_id" in _envelope(long_id, 400)["message"]


@on_module_loop
async def test_unknown_route_and_method_are_envelopes(gateway: httpx.AsyncClient) -> None:
    """An unknown path is a 404 and a wrong method a 405, both as error envelopes."""
    missing = await gateway.get("/v1/nowhere")
    wrong_method = await gateway.put("/v1/videos")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "invalid_request"


@on_module_loop
async def test_unknown_route_reply_carries_a_request_id(gateway: httpx.AsyncClient) -> None:
    """Even a reply for a path no route matches carries the request id, in the header and the envelope."""
    reply = await gateway.get("/v1/nowhere")
    _envelope(reply, 404)


def test_bare_bytes_upload_is_recognised_by_its_magic() -> None:
    """An upload sent as application/octet-stream (the SDK's bare-bytes form) is typed by its content."""
    image = image_data(PNG, "application/octet-stream", param="input_reference", max_bytes=MAX_IMAGE_BYTES)
    assert image.mime_type == "image/png"
    with pytest.raises(InvalidRequest, match="not accepted"):
        image_data(b"plain text", "application/octet-stream", param="input_reference", max_bytes=MAX_IMAGE_BYTES)

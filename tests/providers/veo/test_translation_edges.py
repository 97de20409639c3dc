"""Pure Veo translation, both sides of each rule and every field a call or a parsed reply carries: the refusals
with their limits (docs/providers.md §8: one prompt, up to three reference images, audio per API), the call's
operation and credential, the asset host check, and the metadata of protocol errors and failures."""

from __future__ import annotations

import pytest

from providers.contract import (
    Audio,
    ErrorClass,
    GenerationRequest,
    InvalidUpstreamRequest,
    Music,
    ProviderSettings,
    Reply,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
)
from providers.veo import build_asset, build_poll, build_submit, parse_status, parse_submit
from tests.providers.veo.conftest import FIXTURES, GEMINI, GEMINI_OP, PNG, PROMPT, VERTEX, VERTEX_OP

PNG_MEDIA = {"bytesBase64Encoded": "iVBORw==", "mimeType": "image/png"}
STORAGE = {"storageUri": "gs://my-bucket/veo"}


def request(*scenes: Scene, model: str = "veo-3.0-generate-001", **fields: object) -> GenerationRequest:
    return GenerationRequest(upstream_model=model, scenes=scenes or (Scene(prompt=PROMPT),), **fields)  # type: ignore[arg-type]


def parameters(request_: GenerationRequest, settings: ProviderSettings) -> object:
    body = build_submit(request_, settings).json
    assert isinstance(body, dict)
    return body["parameters"]


def instance(request_: GenerationRequest) -> object:
    body = build_submit(request_, GEMINI).json
    assert isinstance(body, dict)
    [only] = body["instances"]
    return only


def body_reply(body: bytes, status_code: int = 200) -> Reply:
    return Reply(status_code=status_code, headers={}, body=body)


def fixture_reply(name: str) -> Reply:
    return body_reply((FIXTURES / name).read_bytes())


# --------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (request(multi_scene=True), "multi-scene"),
        (request(Scene(prompt=PROMPT), Scene(prompt="then the torch goes out")), "multi-scene"),
        (request(music=Music()), "music"),
        (request(upscale=True, results=2), "not supported: upscaling, several results"),
        (request(Scene(prompt=PROMPT, end_image=PNG), model="veo-3.1-generate-preview"), "end frame needs a first"),
        (request(reference_images=(PNG,) * 4, model="veo-3.1-generate-preview"), "4 reference images"),
        (request(Scene(prompt=PROMPT, image=PNG), reference_images=(PNG,), model="veo-3.1-generate-001"), "first"),
    ],
)
def test_a_refusal_names_what_veo_cannot_take_and_is_the_providers(request_: GenerationRequest, why: str) -> None:
    """Refused before any call, as Veo's own invalid request (not failed over), naming the reason."""
    with pytest.raises(InvalidUpstreamRequest, match=why) as refused:
        build_submit(request_, GEMINI)
    assert (refused.value.provider, refused.value.error_class) == ("veo", ErrorClass.INVALID_REQUEST)


def test_music_turned_off_is_no_music() -> None:
    """Only music asked for is refused; music explicitly off is what Veo does anyway."""
    assert parameters(request(music=Music(enabled=False)), GEMINI) == {}


def test_up_to_three_reference_images_go_as_assets() -> None:
    """Veo 3.1 takes up to three asset images, without a first frame (docs/providers.md §8: referenceImages)."""
    refs = instance(request(reference_images=(PNG,) * 3, model="veo-3.1-generate-preview"))
    assert refs == {"prompt": PROMPT, "referenceImages": [{"image": PNG_MEDIA, "referenceType": "asset"}] * 3}


def test_seconds_come_from_the_scene_when_the_request_names_none() -> None:
    """The scene's seconds, or the request's, or both when they agree, become durationSeconds."""
    assert parameters(request(Scene(prompt=PROMPT, seconds=6)), GEMINI) == {"durationSeconds": 6}
    assert parameters(request(Scene(prompt=PROMPT, seconds=8), seconds=8), GEMINI) == {"durationSeconds": 8}


def test_veo_2_on_vertex_gets_no_generate_audio() -> None:
    """Veo 2 has no audio: Vertex gets no generateAudio for it, with audio unspecified or off."""
    assert parameters(request(model="veo-2.0-generate-001"), VERTEX) == STORAGE
    assert parameters(request(model="veo-2.0-generate-001", audio=Audio(enabled=False)), VERTEX) == STORAGE


def test_the_gemini_api_gets_no_storage_uri_even_when_one_is_configured() -> None:
    """storageUri is a Vertex parameter; a Gemini configuration naming one still sends none."""
    settings = ProviderSettings(
        base_url="https://generativelanguage.googleapis.com",
        api_key="AIza-test",
        options={"storage_uri": "gs://my-bucket/veo"},
    )
    assert parameters(request(), settings) == {}


# --------------------------------------------------------------------------------------------- calls


def test_each_call_names_its_operation() -> None:
    """Submit is a generate call, polls are status calls, the download is a file call (metrics, windows)."""
    gemini_job = UpstreamJob(provider="veo", upstream_id=GEMINI_OP, upstream_model="veo-3.0-generate-001")
    vertex_job = UpstreamJob(provider="veo", upstream_id=VERTEX_OP, upstream_model="veo-3.0-generate-001")
    assert build_submit(request(), GEMINI).operation == "generate"
    assert build_poll(gemini_job, GEMINI).operation == "status"
    vertex_poll = build_poll(vertex_job, VERTEX)
    assert (vertex_poll.operation, vertex_poll.headers) == ("status", {"Authorization": "Bearer ya29.test"})


def test_the_video_downloads_with_a_get_of_the_url_itself() -> None:
    """The asset call is a GET of the given URL, a file call, with the API key."""
    url = "https://generativelanguage.googleapis.com/v1beta/files/3ayd9eg8bsmp:download?alt=media"
    call = build_asset(url, GEMINI)
    assert (call.method, call.path, call.operation, call.headers) == (
        "GET",
        url,
        "file",
        {"x-goog-api-key": "AIza-test"},
    )


def test_vertex_downloads_from_cloud_storage_with_the_token_and_nowhere_else() -> None:
    """For Vertex the credential goes to Cloud Storage; the Gemini API host is not its home."""
    url = "https://storage.googleapis.com/storage/v1/b/my-bucket/o/veo%2Fsample_0.mp4?alt=media"
    assert build_asset(url, VERTEX).headers == {"Authorization": "Bearer ya29.test"}
    with pytest.raises(UpstreamProtocolError):
        build_asset("https://generativelanguage.googleapis.com/v1beta/files/x:download?alt=media", VERTEX)


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example/v1beta/files/x:download",
        "http://generativelanguage.googleapis.com/v1beta/files/x:download",
        "https://generativelanguage.googleapis.com:8443/v1beta/files/x:download",
    ],
)
def test_a_download_elsewhere_is_refused_without_the_credential(url: str) -> None:
    """Another host, plain HTTP or another port: a protocol error of Veo's naming the host the key may go to,
    and never the key itself."""
    with pytest.raises(UpstreamProtocolError) as refused:
        build_asset(url, GEMINI)
    assert refused.value.provider == "veo"
    assert "generativelanguage.googleapis.com" in refused.value.message
    assert "AIza-test" not in refused.value.message


# --------------------------------------------------------------------------------------------- replies


@pytest.mark.parametrize(
    ("body", "settings"),
    [
        (b"{}", GEMINI),
        (b'{"done": false}', GEMINI),
        (b"<html>", GEMINI),
        ((FIXTURES / "generate_vertex.json").read_bytes(), GEMINI),
        ((FIXTURES / "generate_gemini.json").read_bytes(), VERTEX),
    ],
)
def test_a_submit_reply_without_an_operation_name_is_veos_protocol_error(
    body: bytes, settings: ProviderSettings
) -> None:
    """No `name`, a body that is not JSON, or the other API's operation name: a protocol error carrying the
    provider, the reply's status and a message."""
    with pytest.raises(UpstreamProtocolError) as refused:
        parse_submit(body_reply(body), request(), settings)
    assert (refused.value.provider, refused.value.status_code) == ("veo", 200)
    assert refused.value.message


def test_a_job_id_that_is_no_operation_name_is_veos_protocol_error() -> None:
    """The poll refuses an upstream id of the other API's shape, as Veo's protocol error."""
    job = UpstreamJob(provider="veo", upstream_id=VERTEX_OP, upstream_model="veo-3.0-generate-001")
    with pytest.raises(UpstreamProtocolError) as refused:
        build_poll(job, GEMINI)
    assert refused.value.provider == "veo"


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b'{"done": true}',
        b'{"done": true, "response": {}}',
        b'{"done": true, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 0}}}',
    ],
)
def test_a_status_reply_without_a_result_is_veos_protocol_error(body: bytes) -> None:
    """Not JSON, finished without `response` or `error`, a response with no sample and nothing filtered
    (a count of 0 filters nothing): a protocol error carrying the provider, the reply's status and a message."""
    with pytest.raises(UpstreamProtocolError) as refused:
        parse_status(body_reply(body), GEMINI)
    assert (refused.value.provider, refused.value.status_code) == ("veo", 200)
    assert refused.value.message


def test_an_operation_error_fails_the_job() -> None:
    """A finished operation with `error` is a failed job."""
    assert parse_status(fixture_reply("status_gemini_error.json"), GEMINI).status == "failed"


def test_a_finished_video_is_complete() -> None:
    """A video at the end of the operation is a completed job at 100%."""
    status = parse_status(fixture_reply("status_gemini_done.json"), GEMINI)
    assert (status.status, status.progress) == ("completed", 100)


@pytest.mark.parametrize(
    "body",
    [
        b'{"done": true, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 2}}}',
        b'{"done": true, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1,'
        b' "raiMediaFilteredReasons": ["Support codes: 17301594"]}}}',
    ],
)
def test_filtered_media_fails_the_job_with_the_stable_code(body: bytes) -> None:
    """RAI-filtered media is a content-policy failure with the code `rai_media_filtered` and a message, Google's
    reasons when it gives any."""
    failure = parse_status(body_reply(body), GEMINI).failure
    assert failure is not None
    assert (failure.error_class, failure.code) == (ErrorClass.CONTENT_POLICY, "rai_media_filtered")
    assert failure.message


def test_a_storage_url_with_a_trailing_slash_makes_one_download_path() -> None:
    """A configured storage_url ending in `/` (an emulator's, say) joins the JSON API path without doubling it."""
    options = {**VERTEX.options, "storage_url": "http://127.0.0.1:4443/"}
    settings = ProviderSettings(base_url=VERTEX.base_url, api_key="ya29.test", options=options)
    status = parse_status(fixture_reply("status_vertex_done.json"), settings)
    assert status.output is not None
    assert status.output.video_url == (
        "http://127.0.0.1:4443/storage/v1/b/my-bucket/o/veo%2F16870154452%2Fsample_0.mp4?alt=media"
    )

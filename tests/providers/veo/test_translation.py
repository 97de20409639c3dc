"""Pure Veo translation: canonical requests through build_submit/build_poll/build_asset for the Gemini API and
Vertex AI, and the documented replies (fixtures, see fixtures/SOURCES.md) through parse_*/classify_error."""

from __future__ import annotations

import msgspec
import pytest

from providers.contract import (
    Audio,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    HttpCall,
    ImageUrl,
    InvalidUpstreamRequest,
    ProviderSettings,
    Reply,
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
)
from providers.veo import build_asset, build_poll, build_submit, classify_error, parse_status, parse_submit
from tests.providers.veo.conftest import FIXTURES, GEMINI, GEMINI_OP, PNG, PROMPT, VERTEX, VERTEX_OP


def reply(name: str, status_code: int = 200) -> Reply:
    return Reply(status_code=status_code, headers={}, body=(FIXTURES / name).read_bytes())


def make_request(
    scene: Scene | None = None, model: str = "veo-3.0-generate-001", **fields: object
) -> GenerationRequest:
    return GenerationRequest(upstream_model=model, scenes=(scene or Scene(prompt=PROMPT),), **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


# --------------------------------------------------------------------------------------------- submit


def test_gemini_submit_posts_predict_long_running_with_the_api_key_header() -> None:
    """A bare t2v request POSTs one instance to v1beta/models/{model}:predictLongRunning with x-goog-api-key."""
    call = build_submit(make_request(), GEMINI)
    assert (call.method, call.path) == ("POST", "/v1beta/models/veo-3.0-generate-001:predictLongRunning")
    assert call.headers == {"x-goog-api-key": "AIza-test"}
    assert call.json == {"instances": [{"prompt": PROMPT}], "parameters": {}}


def test_gemini_submit_sends_the_documented_parameters() -> None:
    """Size, seconds and `-term` negatives become aspectRatio, resolution, durationSeconds and negativePrompt."""
    scene = Scene(prompt=PROMPT, negative_terms=("cartoon", "drawing"), image=PNG)
    request = make_request(scene, seconds=8, dimensions=Dimensions(width=1920, height=1080))
    body = body_of(build_submit(request, GEMINI))
    assert body["parameters"] == {
        "aspectRatio": "16:9",
        "resolution": "1080p",
        "durationSeconds": 8,
        "negativePrompt": "cartoon, drawing",
    }
    assert body["instances"] == [
        {"prompt": PROMPT, "image": {"bytesBase64Encoded": "iVBORw==", "mimeType": "image/png"}}
    ]


def test_veo_2_gets_no_resolution_field() -> None:
    """Veo 2 has no `resolution` parameter: a 720p portrait size becomes aspectRatio 9:16 alone."""
    request = make_request(model="veo-2.0-generate-001", dimensions=Dimensions(width=720, height=1280), seconds=5)
    assert body_of(build_submit(request, GEMINI))["parameters"] == {"aspectRatio": "9:16", "durationSeconds": 5}


def test_first_and_last_frame_go_to_image_and_last_frame_on_veo_3_1() -> None:
    """A first-last request fills `image` and `lastFrame` where the model documents a last frame."""
    scene = Scene(prompt=PROMPT, image=PNG, end_image=PNG)
    [instance] = body_of(build_submit(make_request(scene, model="veo-3.1-generate-preview"), GEMINI))["instances"]  # type: ignore[misc]
    assert set(instance) == {"prompt", "image", "lastFrame"}


def test_vertex_submit_uses_the_project_path_bearer_token_and_storage_uri() -> None:
    """Vertex: the regional project path, an OAuth bearer token, storageUri, generateAudio and a seed."""
    call = build_submit(make_request(seed=42), VERTEX)
    path = "/v1/projects/my-project/locations/us-central1/publishers/google/models/veo-3.0-generate-001"
    assert call.path == f"{path}:predictLongRunning"
    assert call.headers == {"Authorization": "Bearer ya29.test"}
    assert body_of(call)["parameters"] == {"seed": 42, "generateAudio": True, "storageUri": "gs://my-bucket/veo"}


def test_vertex_sends_generate_audio_false_when_audio_is_turned_off() -> None:
    """Vertex documents generateAudio: a request without audio asks for none."""
    body = body_of(build_submit(make_request(audio=Audio(enabled=False)), VERTEX))
    assert body["parameters"] == {"generateAudio": False, "storageUri": "gs://my-bucket/veo"}


@pytest.mark.parametrize(
    ("request_", "why"),
    [
        (make_request(Scene(prompt=PROMPT, image=ImageUrl(url="https://example.com/a.png"))), "inline data"),
        (make_request(seed=7), "seed"),
        (make_request(audio=Audio(enabled=False)), "always generates audio"),
        (make_request(model="veo-2.0-generate-001", audio=Audio(enabled=True)), "generates no audio"),
        (make_request(audio=Audio(prompt="rain")), "audio prompt"),
        (make_request(dimensions=Dimensions(width=1280, height=1280)), "is not one of"),
        (make_request(model="veo-2.0-generate-001", dimensions=Dimensions(width=1920, height=1080)), "720p only"),
        (make_request(Scene(prompt=PROMPT, image=PNG, end_image=PNG)), "no last frame"),
        (make_request(reference_images=(PNG,)), "reference images"),
        (make_request(watermark=False), "watermark"),
        (make_request(enhance_prompt=True), "enhancement"),
        (make_request(Scene(prompt="  ")), "required"),
        (make_request(model="veo-3/../../files"), "not a Veo model id"),
        (make_request(Scene(prompt=PROMPT, seconds=6), seconds=8), "asks for 6s"),
    ],
)
def test_what_veo_cannot_express_is_refused_before_any_call(request_: GenerationRequest, why: str) -> None:
    """Fields the Gemini API has no place for are refused with a reason, never dropped or clamped."""
    with pytest.raises(InvalidUpstreamRequest, match=why):
        build_submit(request_, GEMINI)


def test_vertex_options_must_name_project_location_and_storage() -> None:
    """api = "vertex" without a storage_uri is a configuration error naming what is missing."""
    settings = ProviderSettings(base_url="https://x", api_key="t", options={"api": "vertex", "project": "p"})
    with pytest.raises(msgspec.ValidationError, match="storage_uri"):
        build_submit(make_request(), settings)


# --------------------------------------------------------------------------------------------- poll and asset


def test_gemini_poll_gets_the_operation_by_name() -> None:
    """Gemini: GET v1beta/{operation name} with the key."""
    job = UpstreamJob(provider="veo", upstream_id=GEMINI_OP, upstream_model="veo-3.0-generate-001")
    call = build_poll(job, GEMINI)
    assert (call.method, call.path, call.json) == ("GET", f"/v1beta/{GEMINI_OP}", None)
    assert call.headers == {"x-goog-api-key": "AIza-test"}


def test_vertex_poll_posts_the_name_to_fetch_predict_operation() -> None:
    """Vertex: POST {"operationName"} to the model's :fetchPredictOperation."""
    job = UpstreamJob(provider="veo", upstream_id=VERTEX_OP, upstream_model="veo-3.0-generate-001")
    call = build_poll(job, VERTEX)
    path = "/v1/projects/my-project/locations/us-central1/publishers/google/models/veo-3.0-generate-001"
    assert (call.method, call.path, call.json) == (
        "POST",
        f"{path}:fetchPredictOperation",
        {"operationName": VERTEX_OP},
    )


def test_a_job_id_that_is_not_an_operation_name_never_becomes_a_path() -> None:
    """An upstream id shaped like another path is refused rather than requested with the key."""
    job = UpstreamJob(provider="veo", upstream_id="files/../../admin", upstream_model="veo-3.0-generate-001")
    with pytest.raises(UpstreamProtocolError):
        build_poll(job, GEMINI)


def test_the_credential_is_sent_only_to_the_providers_own_host() -> None:
    """The video download carries the key to the API host, and a URL elsewhere is refused."""
    url = "https://generativelanguage.googleapis.com/v1beta/files/3ayd9eg8bsmp:download?alt=media"
    assert build_asset(url, GEMINI).headers == {"x-goog-api-key": "AIza-test"}
    with pytest.raises(UpstreamProtocolError):
        build_asset("https://attacker.example/v1beta/files/x:download", GEMINI)


# --------------------------------------------------------------------------------------------- replies


def test_parse_submit_keeps_the_full_operation_name() -> None:
    """The accepted operation's full name is the job's upstream id (the poll path needs all of it)."""
    job = parse_submit(reply("generate_gemini.json"), make_request(), GEMINI)
    assert job == UpstreamJob(provider="veo", upstream_id=GEMINI_OP, upstream_model="veo-3.0-generate-001")
    assert parse_submit(reply("generate_vertex.json"), make_request(), VERTEX).upstream_id == VERTEX_OP


def test_parse_submit_refuses_a_name_of_the_other_api() -> None:
    """A Vertex operation name in a Gemini reply is a protocol error, not a job."""
    with pytest.raises(UpstreamProtocolError):
        parse_submit(reply("generate_vertex.json"), make_request(), GEMINI)


def test_a_running_operation_is_in_progress() -> None:
    """An operation without `done` is running."""
    assert parse_status(reply("status_gemini_running.json"), GEMINI).status == "in_progress"


def test_a_finished_gemini_operation_completes_with_the_files_uri() -> None:
    """`generatedSamples[0].video.uri` is the output."""
    status = parse_status(reply("status_gemini_done.json"), GEMINI)
    assert status.status == "completed"
    assert status.output is not None
    assert status.output.video_url == (
        "https://generativelanguage.googleapis.com/v1beta/files/3ayd9eg8bsmp:download?alt=media"
    )


def test_a_finished_vertex_operation_points_at_the_cloud_storage_object() -> None:
    """`videos[0].gcsUri` becomes the Cloud Storage JSON API media URL."""
    status = parse_status(reply("status_vertex_done.json"), VERTEX)
    assert status.output is not None
    assert status.output.video_url == (
        "https://storage.googleapis.com/storage/v1/b/my-bucket/o/veo%2F16870154452%2Fsample_0.mp4?alt=media"
    )


@pytest.mark.parametrize(
    ("fixture", "settings"), [("status_gemini_rai_filtered.json", GEMINI), ("status_vertex_rai_filtered.json", VERTEX)]
)
def test_rai_filtered_media_is_a_content_policy_failure(fixture: str, settings: ProviderSettings) -> None:
    """raiMediaFilteredCount > 0 without a video fails the job as content policy, with Google's reason."""
    status = parse_status(reply(fixture), settings)
    assert status.status == "failed"
    assert status.failure is not None
    assert status.failure.error_class == ErrorClass.CONTENT_POLICY
    assert "Support codes" in status.failure.message


def test_an_operation_error_fails_the_job_by_its_grpc_code() -> None:
    """`error.code` 13 is INTERNAL."""
    status = parse_status(reply("status_gemini_error.json"), GEMINI)
    assert status.failure is not None
    assert (status.failure.error_class, status.failure.code) == (ErrorClass.INTERNAL, "INTERNAL")


@pytest.mark.parametrize(
    ("fixture", "settings"),
    [
        ("status_gemini_done_without_video.json", GEMINI),
        ("status_gemini_done_without_response.json", GEMINI),
        ("status_vertex_inline.json", VERTEX),
    ],
)
def test_a_finished_operation_without_a_video_is_a_protocol_error(fixture: str, settings: ProviderSettings) -> None:
    """Done with nothing downloadable and nothing filtered is undocumented: a protocol error."""
    with pytest.raises(UpstreamProtocolError):
        parse_status(reply(fixture), settings)


@pytest.mark.parametrize(
    ("fixture", "status_code", "error_class"),
    [
        ("error_400_api_key_invalid.json", 400, ErrorClass.AUTH),
        ("error_400_invalid_argument.json", 400, ErrorClass.INVALID_REQUEST),
        ("error_400_failed_precondition.json", 400, ErrorClass.AUTH),
        ("error_401_unauthenticated.json", 401, ErrorClass.AUTH),
        ("error_403_permission_denied.json", 403, ErrorClass.AUTH),
        ("error_404_not_found.json", 404, ErrorClass.INVALID_REQUEST),
        ("error_429_resource_exhausted.json", 429, ErrorClass.RATE_LIMITED),
        ("error_429_daily_quota.json", 429, ErrorClass.QUOTA_EXHAUSTED),
        ("error_500_internal.json", 500, ErrorClass.INTERNAL),
        ("error_502_html.html", 502, ErrorClass.UPSTREAM_UNAVAILABLE),
        ("error_503_unavailable.json", 503, ErrorClass.UPSTREAM_UNAVAILABLE),
    ],
)
def test_google_errors_map_by_canonical_status(fixture: str, status_code: int, error_class: ErrorClass) -> None:
    """Each documented error reply lands in its class by `status` and typed details, not by message text."""
    error = classify_error(reply(fixture, status_code))
    assert (error.error_class, error.provider, error.status_code) == (error_class, "veo", status_code)


def test_a_429_waits_for_the_retry_info_delay() -> None:
    """RetryInfo.retryDelay "34s" is the cooldown."""
    assert classify_error(reply("error_429_resource_exhausted.json", 429)).retry_after_s == 34.0

"""Pure VideoGen translation: providers.md §2 payloads (fixtures/SOURCES.md) through plan/build/parse and
error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from providers.contract import (
    Audio,
    CapacityReport,
    ContentCredentials,
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    ExtraOutput,
    GenerationRequest,
    HttpCall,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    Output,
    ProviderSettings,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
    WatermarkOverlay,
)
from providers.videogen import (
    UploadedFiles,
    UploadTicket,
    build_cancel,
    build_file,
    build_poll,
    build_put,
    build_submit,
    build_upload,
    check_put,
    classify_error,
    parse_cancel,
    parse_capacity,
    parse_file,
    parse_status,
    parse_submit,
    parse_upload,
    plan_uploads,
)

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://api.videogen.test", api_key="vg-key")
AUTH = {"Authorization": "Bearer vg-key"}
START = ImageData(mime_type="image/png", data=b"start", digest="a" * 64)
REF = ImageData(mime_type="image/jpeg", data=b"ref", digest="b" * 64)
JOB = UpstreamJob(provider="videogen", upstream_id="vg_exec_01hx7k2m9q", upstream_model="auto")
VIDEO = "https://cdn.videogen.io/signed/vg_file_9f8e7d6c.mp4?sig=abc"


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def make_request(scene: Scene | None = None, **fields: object) -> GenerationRequest:
    chosen = scene or Scene(prompt="ocean waves")
    return GenerationRequest(upstream_model="auto", scenes=(chosen,), **fields)  # type: ignore[arg-type]


def body_of(call: HttpCall) -> dict[str, object]:
    assert isinstance(call.json, dict)
    return call.json


# --------------------------------------------------------------------------------------------- submit


def test_build_submit_minimal_t2v_sends_only_the_prompt_with_bearer_auth() -> None:
    """A bare request is a POST of `{"prompt"}` alone, so VideoGen's defaults (16:9, auto length) apply."""
    call = build_submit(make_request(), SETTINGS)
    assert (call.method, call.path, call.operation) == ("POST", "/v1/tools/generate-video-clip", "generate")
    assert call.headers == AUTH
    assert call.json == {"prompt": "ocean waves"}


@pytest.mark.parametrize(
    ("width", "height", "ratio"),
    [(1280, 720, (16, 9)), (720, 1280, (9, 16)), (1024, 1024, (1, 1)), (960, 720, (4, 3)), (1279, 720, (1279, 720))],
)
def test_build_submit_sends_dimensions_as_a_reduced_ratio(width: int, height: int, ratio: tuple[int, int]) -> None:
    """`aspectRatio` is `{width, height}` in whole ratio units (§2.3 `{"width":16,"height":9}`): size / gcd."""
    body = body_of(build_submit(make_request(dimensions=Dimensions(width=width, height=height)), SETTINGS))
    assert json.dumps(body["aspectRatio"]) == f'{{"width": {ratio[0]}, "height": {ratio[1]}}}'  # 16, not 16.0


def test_build_submit_maps_seconds_audio_music_and_watermark() -> None:
    """Seconds, audio, a disabled soundtrack and watermark on become their camelCase fields."""
    request = make_request(seconds=12, audio=Audio(), music=Music(enabled=False), watermark=True)
    assert body_of(build_submit(request, SETTINGS)) == {
        "prompt": "ocean waves",
        "durationSeconds": 12,
        "generateAudio": True,
        "suppressBackgroundMusic": True,
        "watermarkMode": "VIDEO_GEN",
    }


def test_build_submit_watermark_off_is_none_and_scene_seconds_are_used() -> None:
    """watermark False asks for NONE (needs the add-on); a scene's own seconds become durationSeconds."""
    body = body_of(build_submit(make_request(Scene(prompt="x", seconds=4), watermark=False), SETTINGS))
    assert (body["watermarkMode"], body["durationSeconds"]) == ("NONE", 4)


def test_build_submit_passes_uploaded_file_ids_for_start_frame_and_references() -> None:
    """The uploaded start frame becomes `startFrameFileId`, references `imageFileIds` in order."""
    request = make_request(Scene(prompt="waves", image=START), reference_images=(REF, REF))
    files = UploadedFiles(start_frame="vg_file_s", references=("vg_file_r1", "vg_file_r2"))
    body = body_of(build_submit(request, SETTINGS, files))
    assert (body["startFrameFileId"], body["imageFileIds"]) == ("vg_file_s", ["vg_file_r1", "vg_file_r2"])


def test_build_submit_refuses_images_that_were_not_uploaded() -> None:
    """A request with images but no file ids cannot be sent: the images would be silently lost."""
    with pytest.raises(InvalidUpstreamRequest, match="uploaded first"):
        build_submit(make_request(Scene(prompt="waves", image=START)), SETTINGS)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (GenerationRequest(upstream_model="veo3", scenes=(Scene(prompt="x"),)), "no model field"),
        (make_request(Scene(prompt="x", negative_terms=("blurry",))), "negative prompt"),
        (make_request(Scene(prompt="x", image=START, end_image=REF)), "last-frame"),
        (make_request(Scene(prompt="x", image=ImageUrl(url="https://img.test/a.png"))), "not a URL"),
        (make_request(reference_images=(ImageUrl(url="https://img.test/a.png"),)), "not a URL"),
        (make_request(reference_images=(REF,) * 5), "at most 4"),
        (make_request(multi_scene=True), "multi-scene"),
        (make_request(seconds=31), "1-30"),
        (make_request(Scene(prompt="x", seconds=0)), "1-30"),
        (make_request(Scene(prompt="x", seconds=5), seconds=8), "asks for 8s"),
        (make_request(seed=7), "seed"),
        (make_request(enhance_prompt=True), "enhancement"),
        (make_request(music=Music()), "music"),
        (make_request(audio=Audio(prompt="waves crashing")), "audio takes no prompt"),
        (make_request(upscale=True), "upscaling"),
        (make_request(camera_fixed=False), "fixed camera"),
        (make_request(upstream_variant="fast"), "sub-model selector"),
        (make_request(watermark_overlay=WatermarkOverlay(position="top-left")), "custom watermark"),
        (make_request(content_credentials=ContentCredentials(author="A")), "content credentials"),
        (make_request(results=0), "1-100"),
        (make_request(results=101), "1-100"),
    ],
)
def test_plan_and_build_refuse_what_videogen_cannot_take(request_: GenerationRequest, reason: str) -> None:
    """Inputs VideoGen has no field for are refused before any call, by the planner and the builder alike; each
    option alone, each refusal naming what it refused and the provider."""
    with pytest.raises(InvalidUpstreamRequest, match=reason) as raised:
        plan_uploads(request_)
    assert raised.value.provider == "videogen"
    with pytest.raises(InvalidUpstreamRequest, match=reason):
        build_submit(request_, SETTINGS)


def test_the_edges_of_each_documented_range_are_taken() -> None:
    """`durationSeconds` 1 and 30, `numResults` 100 and 4 reference images (the MCP cap) all pass (§2.3)."""
    for request in (
        make_request(seconds=1),
        make_request(Scene(prompt="x", seconds=30)),
        make_request(results=100),
        make_request(reference_images=(REF,) * 4),
    ):
        plan_uploads(request)


@pytest.mark.parametrize("name", ["start.json", "start_tool_prefix.json"])
def test_parse_submit_keeps_the_execution_id_whatever_its_prefix(name: str) -> None:
    """Both the docs' `vg_exec_` and the CLI's `vg_tool_` ids are kept as-is, with the `auto` model."""
    job = parse_submit(fixture_reply(name, 202), make_request())
    assert job.upstream_id.endswith("_01hx7k2m9q")
    assert (job.provider, job.upstream_model) == ("videogen", "auto")


def test_parse_submit_without_an_id_is_a_protocol_error() -> None:
    """A 202 without `toolExecutionId` is not described by the docs; an error status is classified."""
    with pytest.raises(UpstreamProtocolError, match="toolExecutionId"):
        parse_submit(fixture_reply("start_missing_id.json", 202), make_request())
    with pytest.raises(QuotaExhausted):
        parse_submit(fixture_reply("error_403_purchase_add_on.json", 403), make_request())


# --------------------------------------------------------------------------------------------- uploads


def test_plan_uploads_names_the_start_frame_then_the_references() -> None:
    """The plan lists the i2v start frame and each reference image, as the decoded bytes to upload."""
    plan = plan_uploads(make_request(Scene(prompt="x", image=START), reference_images=(REF,)))
    assert (plan.start_frame, plan.references) == (START, (REF,))


def test_build_upload_creates_a_temporary_image_file() -> None:
    """Step 1 POSTs displayName, type IMAGE and isTemporary to /v1/files/upload with the key."""
    call = build_upload(START, SETTINGS, display_name="start-frame-aaaa")
    assert (call.method, call.path, call.operation, call.headers) == ("POST", "/v1/files/upload", "upload", AUTH)
    assert call.json == {"displayName": "start-frame-aaaa", "type": "IMAGE", "isTemporary": True}


def test_build_put_sends_raw_bytes_to_the_absolute_url_without_auth() -> None:
    """Step 2 PUTs the raw bytes to the presigned URL with its content type and no Authorization header."""
    ticket = parse_upload(fixture_reply("upload.json"))
    call = build_put(ticket, START)
    assert (call.method, call.path, call.content, call.json) == ("PUT", ticket.upload_url, b"start", None)
    assert call.operation == "upload_put"
    assert call.headers == {"Content-Type": "image/png"}


def test_parse_upload_reads_file_id_and_upload_url() -> None:
    """The upload reply yields the file id and the presigned URL."""
    assert parse_upload(fixture_reply("upload.json")) == UploadTicket(
        file_id="vg_file_up1", upload_url="https://storage.videogen.io/uploads/vg_file_up1?X-Goog-Signature=abc"
    )


def test_check_put_maps_a_storage_refusal_to_upstream_unavailable() -> None:
    """A storage 403 to the PUT (e.g. an expired URL) is an upstream failure, not an API error body."""
    with pytest.raises(UpstreamUnavailable, match="403"):
        check_put(Reply(status_code=403, headers={}, body=b"<Error><Code>AccessDenied</Code></Error>"))
    check_put(Reply(status_code=200, headers={}, body=b""))


@pytest.mark.parametrize(
    ("name", "ready"), [("file_pending.json", False), ("file_ready.json", True), ("file_preview_ready.json", True)]
)
def test_parse_file_is_ready_once_a_rendition_is_ready(name: str, ready: bool) -> None:
    """A file is usable when its download or preview rendition is `ready`, as the SDK checks."""
    call = build_file("vg_file_up1", SETTINGS)
    assert (call.method, call.path, call.operation, call.headers) == ("GET", "/v1/files/vg_file_up1", "file", AUTH)
    assert parse_file(fixture_reply(name)) is ready


def test_parse_file_whose_renditions_failed_is_an_internal_error() -> None:
    """A file VideoGen could not process raises instead of being polled forever."""
    with pytest.raises(UpstreamInternalError, match="vg_file_up1") as raised:
        parse_file(fixture_reply("file_failed.json"))
    assert (raised.value.code, raised.value.provider, raised.value.status_code) == ("file_failed", "videogen", 200)


def test_parse_file_without_any_rendition_yet_is_still_processing() -> None:
    """No download or preview source at all is neither ready nor failed: poll again."""
    assert parse_file(Reply(status_code=200, headers={}, body=b'{"fileId": "vg_file_up1"}')) is False


@pytest.mark.parametrize("body", [b'{"fileId": "vg_file_up1"}', b'{"uploadUrl": "https://storage.videogen.io/u"}'])
def test_parse_upload_missing_either_field_is_a_protocol_error(body: bytes) -> None:
    """Without the file id or the presigned URL the flow cannot go on; the error names the missing fields."""
    with pytest.raises(UpstreamProtocolError, match="`uploadUrl`") as raised:
        parse_upload(Reply(status_code=200, headers={}, body=body))
    assert (raised.value.provider, raised.value.status_code) == ("videogen", 200)


@pytest.mark.parametrize("parse", [parse_upload, parse_file])
def test_an_upload_or_file_reply_not_in_json_is_a_videogen_protocol_error(
    parse: Callable[[Reply], object],
) -> None:
    """A proxy's HTML page on the file routes names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "videogen"


def test_check_put_takes_every_2xx_and_nothing_from_300() -> None:
    """The storage's 299 is a success; a 300 (a redirect the PUT does not follow) is an upstream failure."""
    check_put(Reply(status_code=299, headers={}, body=b""))
    with pytest.raises(UpstreamUnavailable) as raised:
        check_put(Reply(status_code=300, headers={}, body=b""))
    assert (raised.value.provider, raised.value.status_code) == ("videogen", 300)


# --------------------------------------------------------------------------------------------- status


def test_build_poll_and_cancel_address_the_execution() -> None:
    """Poll GETs the execution, cancel POSTs to its /cancel; both carry the key."""
    poll, cancel, path = (
        build_poll(JOB, SETTINGS),
        build_cancel(JOB, SETTINGS),
        "/v1/tools/executions/vg_exec_01hx7k2m9q",
    )
    assert (poll.method, poll.path, poll.headers) == ("GET", path, AUTH)
    assert (cancel.method, cancel.path, cancel.headers) == ("POST", f"{path}/cancel", AUTH)


@pytest.mark.parametrize(
    ("name", "status", "progress"),
    [
        ("status_pending.json", "queued", 0),
        ("status_running.json", "in_progress", 42),
        ("status_running_retry_attempt.json", "in_progress", 7),
        ("status_cancelled.json", "cancelled", None),
    ],
)
def test_parse_status_maps_non_completed_states(name: str, status: str, progress: int | None) -> None:
    """pending, running (with its progress, whatever the attempt) and cancelled map per §6.1."""
    parsed = parse_status(fixture_reply(name))
    assert (parsed.status, parsed.progress, parsed.output, parsed.failure) == (status, progress, None, None)


def test_parse_status_succeeded_reads_the_first_result() -> None:
    """succeeded yields the signed downloadUrl, the thumbnail, its expiry and the file id."""
    parsed = parse_status(fixture_reply("status_succeeded.json"))
    assert (parsed.status, parsed.progress) == ("completed", 100)
    assert parsed.output is not None
    assert parsed.output.video_url == "https://cdn.videogen.io/signed/vg_file_9f8e7d6c.mp4?sig=abc"
    assert parsed.output.thumbnail_url == "https://cdn.videogen.io/signed/vg_file_9f8e7d6c.jpg?sig=def"
    assert (parsed.output.expires_at, parsed.output.provenance) == (1769900000, {"file_id": "vg_file_9f8e7d6c"})


def test_parse_status_accepts_the_cli_shape_with_team_scope_and_tool_prefix() -> None:
    """The CLI README's example (`vg_tool_` id, `scope: "TEAM"` outside the MCP enum) parses."""
    output = parse_status(fixture_reply("status_succeeded_cli_team_scope.json")).output
    assert output is not None
    assert output.video_url == "https://cdn.videogen.io/vg_file_77aa.mp4"


def test_parse_status_takes_the_url_from_the_hydrated_file_when_the_result_has_none() -> None:
    """A null `results[0].downloadUrl` falls back to the nested file's, with that file's expiry."""
    output = parse_status(fixture_reply("status_succeeded_url_only_in_file.json")).output
    assert output is not None
    assert (output.video_url, output.expires_at) == ("https://cdn.videogen.io/hydrated/vg_file_77aa.mp4", 1769903600)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("status_succeeded_null_download_url.json", "downloadUrl"),
        ("status_succeeded_without_results.json", "without results"),
        ("status_unknown.json", "paused"),
        ("status_superseded_v0_shape.json", "COMPLETED"),
    ],
)
def test_parse_status_undocumented_shapes_are_protocol_errors(name: str, match: str) -> None:
    """No URL, no results, an unknown status or the old v0 shape never get a default."""
    with pytest.raises(UpstreamProtocolError, match=match):
        parse_status(fixture_reply(name))


def test_parse_status_takes_no_3xx_as_a_success() -> None:
    """Only 2xx replies are read as results (§2.2): a 300 with a readable body is still a protocol error."""
    with pytest.raises(UpstreamProtocolError):
        parse_status(Reply(status_code=300, headers={}, body=b'{"status": "running", "progressPercentage": 10}'))


def test_parse_status_pending_without_a_percentage_is_at_zero() -> None:
    """A pending execution that states no progress has made none."""
    parsed = parse_status(Reply(status_code=200, headers={}, body=b'{"status": "pending"}'))
    assert (parsed.status, parsed.progress) == ("queued", 0)


def test_parse_status_reply_that_is_not_json_is_a_videogen_protocol_error() -> None:
    """A proxy's HTML page on the poll names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_status(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "videogen"


def test_parse_status_progress_outside_0_to_100_is_a_protocol_error() -> None:
    """A percentage above 100 does not fit the documented range and is refused, not clamped."""
    body = b'{"status": "running", "progressPercentage": 140}'
    with pytest.raises(UpstreamProtocolError):
        parse_status(Reply(status_code=200, headers={}, body=body))


@pytest.mark.parametrize(
    ("name", "error_class", "code"),
    [
        ("status_failed_with_code.json", ErrorClass.CONTENT_POLICY, "content_policy_violation"),
        ("status_failed_without_code.json", ErrorClass.INTERNAL, None),
        ("status_failed_hint_timeout.json", ErrorClass.TIMEOUT, None),
        ("status_failed_unknown_code.json", ErrorClass.INTERNAL, "model_failure"),
        ("status_failed_purchase_add_on.json", ErrorClass.QUOTA_EXHAUSTED, "purchase_add_on"),
        ("status_failed_without_error.json", ErrorClass.INTERNAL, None),
    ],
)
def test_parse_status_failed_classifies_the_execution_error(name: str, error_class: ErrorClass, code: str) -> None:
    """A code decides; without one the requirement, then message hints; an unknown code is never keyword-matched."""
    parsed = parse_status(fixture_reply(name))
    assert parsed.status == "failed"
    assert parsed.failure is not None
    assert (parsed.failure.error_class, parsed.failure.code) == (error_class, code)


def test_parse_cancel_accepts_any_success_body() -> None:
    """The undocumented cancel body is not read: an empty 202 means the cancel was taken."""
    assert parse_cancel(Reply(status_code=202, headers={}, body=b"")) is True
    with pytest.raises(InvalidUpstreamRequest):  # an unknown execution: 404
        parse_cancel(fixture_reply("error_404_not_found.json", 404))


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "status_code", "expected", "code"),
    [
        ("error_400_invalid_parameters.json", 400, InvalidUpstreamRequest, "invalid_parameters"),
        ("error_400_invalid_id.json", 400, InvalidUpstreamRequest, "invalid_id"),
        ("error_401_missing_api_key.json", 401, UpstreamAuthError, "missing_api_key"),
        ("error_401_invalid_api_key.json", 401, UpstreamAuthError, "invalid_api_key"),
        ("error_403_purchase_add_on.json", 403, QuotaExhausted, "purchase_add_on"),
        ("error_403_forbidden.json", 403, UpstreamAuthError, None),
        ("error_404_not_found.json", 404, InvalidUpstreamRequest, None),
        ("error_429_rate_limited.json", 429, UpstreamRateLimited, None),
        ("error_500_internal.json", 500, UpstreamInternalError, None),
        ("error_503_unavailable.json", 503, UpstreamUnavailable, None),
        ("error_503_unavailable.json", 501, UpstreamUnavailable, None),
        ("error_503_unavailable.json", 502, UpstreamUnavailable, None),
        ("error_503_unavailable.json", 504, UpstreamUnavailable, None),
    ],
)
def test_classify_error_maps_each_documented_error(
    name: str, status_code: int, expected: type[UpstreamError], code: str | None
) -> None:
    """Every row of the §2.5 table maps by HTTP status; a purchase requirement makes a 403 quota."""
    error = classify_error(fixture_reply(name, status_code))
    assert type(error) is expected
    assert (error.code, error.status_code, error.provider) == (code, status_code, "videogen")


def test_classify_error_400_content_policy_code_is_content_policy() -> None:
    """A 400 carrying the content-policy code is not a plain invalid request."""
    body = b'{"message": "blocked", "code": "content_policy_violation"}'
    assert type(classify_error(Reply(status_code=400, headers={}, body=body))) is ContentPolicyError


def test_classify_error_html_body_is_classified_by_status() -> None:
    """A proxy's HTML page still maps by HTTP status and names it."""
    error = classify_error(Reply(status_code=502, headers={}, body=b"<html>Bad Gateway</html>"))
    assert type(error) is UpstreamUnavailable
    assert "502" in error.message


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "12"}, 12.0),
        ({"X-RateLimit-Reset": "1769900060"}, 60.0),
        ({"x-ratelimit-reset": "30"}, 30.0),
        ({"Retry-After": "Sat, 31 Jan 2026 22:54:20 GMT"}, 60.0),
        ({}, None),
    ],
)
def test_classify_error_429_retry_hint(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After wins; else X-RateLimit-Reset (unix s, or a small delta) less now; else no hint."""
    error = classify_error(Reply(status_code=429, headers=headers, body=b"{}"), now_s=1769900000.0)
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after_s == expected


def test_parse_capacity_reads_every_rate_limit_header() -> None:
    """Limit, remaining and reset (unix s) become a CapacityReport for the call's endpoint group; none, no report."""
    assert parse_capacity(Reply(status_code=200, headers={"content-type": "application/json"}, body=b""), "x") is None
    headers = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4987", "X-RateLimit-Reset": "1769903600"}
    assert parse_capacity(Reply(status_code=200, headers=headers, body=b"{}"), "status") == CapacityReport(
        provider="videogen", scope="status", limit=5000, remaining=4987, reset_at=1769903600.0
    )


def test_parse_capacity_on_a_429_has_nothing_remaining_and_carries_retry_after() -> None:
    """A 429 reports zero remaining whatever the header says, plus its Retry-After hint."""
    headers = {"x-ratelimit-limit": "500", "x-ratelimit-remaining": "3", "retry-after": "9"}
    headroom = parse_capacity(Reply(status_code=429, headers=headers, body=b"{}"), "generate")
    assert headroom is not None
    assert (headroom.remaining, headroom.retry_after_s, headroom.reset_at) == (0, 9.0, None)


# --------------------------------------------------------------------------------------------- result edges


def succeeded(*results: dict[str, object]) -> Reply:
    body = {"toolExecutionId": "vg_exec_01hx7k2m9q", "status": "succeeded", "progressPercentage": 100}
    return Reply(status_code=200, headers={}, body=json.dumps(body | {"results": list(results)}).encode())


def output_of(reply: Reply) -> Output:
    output = parse_status(reply).output
    assert output is not None
    return output


def test_an_execution_id_is_quoted_whole_slashes_included() -> None:
    """Ids are opaque (§2.1): a `/` in one is escaped, so it can never address another path."""
    job = UpstreamJob(provider="videogen", upstream_id="vg_exec_a/b", upstream_model="auto")
    assert build_poll(job, SETTINGS).path == "/v1/tools/executions/vg_exec_a%2Fb"
    assert build_cancel(job, SETTINGS).path == "/v1/tools/executions/vg_exec_a%2Fb/cancel"


def test_a_start_reply_that_is_not_json_is_a_videogen_protocol_error() -> None:
    """A proxy's HTML page where the 202 should be names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_submit(Reply(status_code=202, headers={}, body=b"<html>Bad Gateway</html>"), make_request())
    assert raised.value.provider == "videogen"


def test_poll_and_cancel_are_named_as_their_operations() -> None:
    """The shell spends each call in its own rate window (§2.6: executions/{id} and /cancel differ)."""
    assert build_poll(JOB, SETTINGS).operation == "status"
    assert build_cancel(JOB, SETTINGS).operation == "cancel"


def test_a_result_thumbnail_wins_over_its_file_thumbnail_and_either_stands_alone() -> None:
    """`results[].thumbnailUrl` first, the nested file's when the result has none."""
    own = {"downloadUrl": VIDEO, "thumbnailUrl": "https://cdn.videogen.io/own.jpg", "file": {}}
    from_file = {"downloadUrl": VIDEO, "file": {"thumbnailUrl": "https://cdn.videogen.io/file.jpg"}}
    assert output_of(succeeded(own)).thumbnail_url == "https://cdn.videogen.io/own.jpg"
    assert output_of(succeeded(from_file)).thumbnail_url == "https://cdn.videogen.io/file.jpg"


@pytest.mark.parametrize(
    ("result_expiry", "file_expiry", "expected"),
    [
        (1769900000, 1769903600, 1769900000),  # the result's own expiry first
        (0, 1769903600, 1769903600),  # zero means "not stated" (the MCP example's nested file)
        (0, 0, None),
        (None, None, None),
        (1, 0, 1),  # any positive time is a time
    ],
)
def test_the_expiry_is_the_first_stated_positive_time(
    result_expiry: int | None, file_expiry: int | None, expected: int | None
) -> None:
    """`downloadUrlExpiresAt` of the result, else of its file; 0 or absent states none."""
    result = {
        "downloadUrl": VIDEO,
        "downloadUrlExpiresAt": result_expiry,
        "file": {"downloadUrlExpiresAt": file_expiry},
    }
    assert output_of(succeeded(result)).expires_at == expected


def test_a_result_without_a_file_id_records_no_provenance() -> None:
    """The file id is provenance only when VideoGen names one."""
    assert output_of(succeeded({"downloadUrl": VIDEO})).provenance == {}


def test_a_later_result_without_a_url_is_a_protocol_error_naming_the_reply() -> None:
    """Every result of a `numResults` call needs its downloadUrl, not only the first; the error keeps the status."""
    with pytest.raises(UpstreamProtocolError, match="downloadUrl") as raised:
        parse_status(succeeded({"downloadUrl": VIDEO}, {"fileId": "vg_file_1a2b3c4d", "downloadUrl": None}))
    assert (raised.value.provider, raised.value.status_code) == ("videogen", 200)


def test_extra_results_keep_their_own_urls() -> None:
    """A second result is an ExtraOutput with its own URL, thumbnail and expiry."""
    second = {"downloadUrl": "https://cdn.videogen.io/2.mp4", "thumbnailUrl": "https://cdn.videogen.io/2.jpg"}
    assert output_of(succeeded({"downloadUrl": VIDEO}, second)).extra == (
        ExtraOutput(video_url="https://cdn.videogen.io/2.mp4", thumbnail_url="https://cdn.videogen.io/2.jpg"),
    )


# --------------------------------------------------------------------------------------------- reset edges


def hint_of(reset: str, now_s: float) -> float | None:
    error = classify_error(Reply(status_code=429, headers={"X-RateLimit-Reset": reset}, body=b"{}"), now_s=now_s)
    assert isinstance(error, UpstreamRateLimited)
    return error.retry_after_s


@pytest.mark.parametrize(
    ("reset", "now_s", "expected"),
    [
        ("999999999", 999_999_990.0, 999_999_999.0),  # below 1e9 (2001): a delta in seconds, whatever now is
        ("1000000000", 999_999_990.0, 10.0),  # 1e9 itself is a unix time, less now
    ],
)
def test_a_reset_below_the_year_2001_is_a_delta_and_from_it_a_unix_time(
    reset: str, now_s: float, expected: float
) -> None:
    """The floor that tells a delta from a unix time is 1,000,000,000 s, the time included."""
    assert hint_of(reset, now_s) == expected


def test_a_reset_time_already_past_is_no_wait() -> None:
    """A unix reset before now (a clock a little ahead) gives a hint of 0 s, never a negative or invented wait."""
    assert hint_of("1769900000", 1769900005.0) == 0.0


def test_classify_error_carries_the_vendor_message() -> None:
    """The operator reads VideoGen's own words (§2.5 `message`) beside the status."""
    error = classify_error(fixture_reply("error_401_invalid_api_key.json", 401))
    assert "API key is invalid or has been revoked." in error.message


def test_classify_error_a_redirect_is_a_protocol_error() -> None:
    """A 3xx is neither a success nor a documented error: the reply is not one the API sends."""
    assert type(classify_error(Reply(status_code=302, headers={}, body=b""))) is UpstreamProtocolError


def test_classify_error_reads_a_wait_only_on_a_429() -> None:
    """§2.6 documents waiting only for rate limits: a 503's Retry-After sets no hint for the poller."""
    error = classify_error(Reply(status_code=503, headers={"Retry-After": "30"}, body=b"{}"), now_s=1769900000.0)
    assert (type(error), error.retry_after_s) == (UpstreamUnavailable, None)


def test_classify_error_names_a_requirement_as_the_code_only_when_it_made_the_error_quota() -> None:
    """A purchase requirement on a 401 does not turn the key problem into a purchase: no code is invented."""
    body = b'{"message": "Invalid key.", "requirement": {"type": "purchase_add_on"}}'
    error = classify_error(Reply(status_code=401, headers={}, body=body))
    assert (type(error), error.code) == (UpstreamAuthError, None)


@pytest.mark.parametrize(
    ("headers", "limit", "reset_at"),
    [
        ({"X-RateLimit-Limit": "500"}, 500, None),  # one header is enough for a report
        ({"X-RateLimit-Reset": "30"}, None, None),  # a delta is no time to reset at
        ({"X-RateLimit-Reset": "1000000000"}, None, 1000000000.0),  # the 1e9 floor is a time
    ],
)
def test_parse_capacity_reports_whichever_header_came_alone(
    headers: dict[str, str], limit: int | None, reset_at: float | None
) -> None:
    """Any one `X-RateLimit-*` header makes a report; what is absent stays unknown, never zero."""
    assert parse_capacity(Reply(status_code=200, headers=headers, body=b"{}"), "generate") == CapacityReport(
        provider="videogen", scope="generate", limit=limit, reset_at=reset_at
    )


def test_parse_capacity_reads_retry_after_only_on_a_429() -> None:
    """§2.6: a Retry-After beside a success is no instruction to wait."""
    headers = {"X-RateLimit-Remaining": "4", "Retry-After": "9"}
    headroom = parse_capacity(Reply(status_code=200, headers=headers, body=b"{}"), "status")
    assert headroom is not None
    assert (headroom.remaining, headroom.retry_after_s) == (4, None)


def test_a_failed_execution_keeps_the_vendor_message_and_always_has_one() -> None:
    """The failure's message is VideoGen's `error.message`; without an error object there is still a message."""
    failed = b'{"status": "failed", "error": {"message": "Model crashed.", "code": "model_failure"}}'
    failure = parse_status(Reply(status_code=200, headers={}, body=failed)).failure
    assert failure is not None
    assert failure.message == "Model crashed."
    bare = parse_status(Reply(status_code=200, headers={}, body=b'{"status": "failed", "error": null}')).failure
    assert bare is not None
    assert bare.message

"""The generic OpenAI-compatible adapter's pure translators: create bodies (JSON, multipart, image URL), the key
header and query per configured instance, refusals, and the documented replies from fixtures into parse_*."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from providers.contract import (
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    ProviderSettings,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
)
from providers.openai import (
    build_cancel,
    build_poll,
    build_submit,
    classify_error,
    parse_capacity,
    parse_status,
    parse_submit,
)
from providers.openai.errors import reset_duration_s

FIXTURES = Path(__file__).parent / "fixtures"
OPENAI = ProviderSettings(base_url="https://api.openai.com/v1", api_key="sk-test")
AZURE = ProviderSettings(
    base_url="https://contoso.openai.azure.com/openai/v1",
    api_key="az-test",
    name="azure-openai",
    key_header="api-key",
    query={"api-version": "preview"},
)
JOB = UpstreamJob(
    provider="openai", upstream_id="video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5", upstream_model="sora-2"
)
PNG = b"\x89PNG\r\n\x1a\n-not-really-an-image"


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def request(scene: Scene | None = None, **fields: Any) -> GenerationRequest:
    scene = scene or Scene(prompt="A calico cat playing a piano on stage")
    return GenerationRequest(upstream_model="sora-2", scenes=(scene,), **fields)


# ----------------------------------------------------------------------------------------------- create


def test_text_create_is_json_with_string_seconds_and_size() -> None:
    """t2v is a JSON POST /videos with `seconds` as a string ("8") and `size` as WIDTHxHEIGHT."""
    call = build_submit(request(seconds=8, dimensions=Dimensions(width=1280, height=720)), OPENAI)
    assert (call.method, call.path) == ("POST", "/videos")
    assert call.json == {
        "model": "sora-2",
        "prompt": "A calico cat playing a piano on stage",
        "seconds": "8",
        "size": "1280x720",
    }
    assert call.headers == {"Authorization": "Bearer sk-test"}


def test_create_leaves_out_what_the_request_does_not_set() -> None:
    """Without seconds or size the API's own defaults apply: neither key is sent."""
    assert build_submit(request(), OPENAI).json == {
        "model": "sora-2",
        "prompt": "A calico cat playing a piano on stage",
    }


def test_azure_instance_sends_its_key_header_and_api_version() -> None:
    """A configured `key_header` carries the bare key, and the configured query rides on every call."""
    create, poll, cancel = build_submit(request(), AZURE), build_poll(JOB, AZURE), build_cancel(JOB, AZURE)
    for call in (create, poll, cancel):
        assert call.headers.get("api-key") == "az-test"
        assert "Authorization" not in call.headers
        assert call.params == {"api-version": "preview"}


def test_inline_start_frame_is_a_multipart_upload() -> None:
    """An inline image goes as the `input_reference` file part of a multipart/form-data create."""
    image = ImageData(mime_type="image/png", data=PNG, digest=hashlib.sha256(PNG).hexdigest())
    call = build_submit(request(Scene(prompt="the cat plays on", image=image), seconds=4), OPENAI)
    assert call.json is None
    assert call.content is not None
    content_type = call.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=")[1].encode()
    parts = call.content.split(b"--" + boundary)
    assert parts[-1] == b"--\r\n"
    assert b'name="prompt"\r\n\r\nthe cat plays on\r\n' in parts[2]
    assert b'name="seconds"\r\n\r\n4\r\n' in parts[3]
    assert (
        b'name="input_reference"; filename="input_reference.png"\r\nContent-Type: image/png\r\n\r\n' + PNG in parts[4]
    )


def test_url_start_frame_is_an_image_url_reference() -> None:
    """A public image URL goes in the JSON create as `input_reference: {"image_url": ...}`."""
    scene = Scene(prompt="the cat plays on", image=ImageUrl(url="https://images.example.com/cat.png"))
    body = build_submit(request(scene), OPENAI).json
    assert body == {
        "model": "sora-2",
        "prompt": "the cat plays on",
        "input_reference": {"image_url": "https://images.example.com/cat.png"},
    }


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"seed": 7}, "seed"),
        ({"enhance_prompt": True}, "enhancement"),
        ({"watermark": False}, "watermark"),
        ({"reference_images": (ImageUrl(url="https://images.example.com/a.png"),)}, "reference images"),
        ({"upscale": True}, "upscaling"),
        ({"results": 2}, "one result"),
        ({"camera_fixed": True}, "camera"),
    ],
)
def test_fields_the_api_lacks_are_refused(changes: dict[str, Any], named: str) -> None:
    """A canonical field OpenAI's create has no parameter for is refused, naming it, never dropped."""
    with pytest.raises(InvalidUpstreamRequest, match=named):
        build_submit(request(**changes), OPENAI)


def test_negative_prompt_and_end_frame_are_refused() -> None:
    """Negative terms and a last frame have no create parameter either."""
    with pytest.raises(InvalidUpstreamRequest, match="negative"):
        build_submit(request(Scene(prompt="a cat", negative_terms=("blur",))), OPENAI)
    end = ImageUrl(url="https://images.example.com/end.png")
    with pytest.raises(InvalidUpstreamRequest, match="end frame"):
        build_submit(request(Scene(prompt="a cat", image=end, end_image=end)), OPENAI)


def test_refusal_names_the_configured_instance() -> None:
    """An instance configured as `azure-openai` reports its errors under that slug."""
    with pytest.raises(InvalidUpstreamRequest) as raised:
        build_submit(request(seed=1), AZURE)
    assert raised.value.provider == "azure-openai"


# ----------------------------------------------------------------------------------------------- replies


def test_created_video_becomes_the_job_and_tolerates_new_keys() -> None:
    """The reference's create example (with its extra `quality` key) gives the job its `id`."""
    job = parse_submit(fixture_reply("video_queued.json"), request(), OPENAI)
    assert job == UpstreamJob(provider="openai", upstream_id="video_123", upstream_model="sora-2")


def test_a_model_echo_that_differs_is_not_a_failure() -> None:
    """The example echoes `sora-2` for a sora-2-pro request: the accepted job is kept, under the model asked."""
    pro = GenerationRequest(upstream_model="sora-2-pro", scenes=(Scene(prompt="x"),))
    assert parse_submit(fixture_reply("video_queued.json"), pro, OPENAI).upstream_model == "sora-2-pro"


def test_create_reply_without_id_is_a_protocol_error() -> None:
    """A 200 that is not a video object never passes as an accepted job."""
    with pytest.raises(UpstreamProtocolError):
        parse_submit(
            fixture_reply("deleted.json").__class__(status_code=200, headers={}, body=b"{}"), request(), OPENAI
        )


@pytest.mark.parametrize(
    ("name", "status", "progress"),
    [("video_queued.json", "queued", 0), ("video_in_progress.json", "in_progress", 33)],
)
def test_running_statuses_map_with_their_progress(name: str, status: str, progress: int) -> None:
    """`queued` and `in_progress` keep the provider's progress percentage."""
    parsed = parse_status(fixture_reply(name), JOB, OPENAI)
    assert (parsed.status, parsed.progress) == (status, progress)


def test_completed_video_points_at_the_content_route() -> None:
    """A completed video's outputs are the content URLs (video, thumbnail), the instance's query included."""
    parsed = parse_status(fixture_reply("video_completed.json"), JOB, AZURE)
    assert parsed.status == "completed"
    assert parsed.output is not None
    base = "https://contoso.openai.azure.com/openai/v1/videos/video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
    assert parsed.output.video_url == f"{base}/content?api-version=preview&variant=video"
    assert parsed.output.thumbnail_url == f"{base}/content?api-version=preview&variant=thumbnail"
    assert parsed.output.provenance == {"expires_at": "1758945210", "size": "1280x720"}


def test_failed_video_keeps_its_error_code_and_message() -> None:
    """A failed render's `error` {code, message} becomes the failure, an internal one."""
    failure = parse_status(fixture_reply("video_failed.json"), JOB, OPENAI).failure
    assert failure is not None
    assert (failure.error_class, failure.code, failure.message) == (
        ErrorClass.INTERNAL,
        "video_generation_failed",
        "Video generation failed.",
    )


def test_moderation_failure_is_content_policy() -> None:
    """A render blocked by moderation after acceptance fails as content policy."""
    failure = parse_status(fixture_reply("video_failed_moderation.json"), JOB, OPENAI).failure
    assert failure is not None
    assert failure.error_class == ErrorClass.CONTENT_POLICY


def test_another_gateways_cancelled_video_is_cancelled() -> None:
    """Our own Video's `cancelled` (not in OpenAI's four) is read when the upstream is another gateway."""
    assert parse_status(fixture_reply("gateway_video_cancelled.json"), JOB, OPENAI).status == "cancelled"


def test_unknown_status_is_a_protocol_error() -> None:
    """A status outside the vocabulary is never defaulted to queued."""
    with pytest.raises(UpstreamProtocolError, match="rendering"):
        parse_status(fixture_reply("video_unknown_status.json"), JOB, OPENAI)


# ----------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "status_code", "error_type", "code"),
    [
        ("error_400_invalid_value.json", 400, InvalidUpstreamRequest, "invalid_value"),
        ("error_400_moderation_blocked.json", 400, ContentPolicyError, "moderation_blocked"),
        ("error_400_content_policy_violation.json", 400, ContentPolicyError, "content_policy_violation"),
        ("error_401_invalid_api_key.json", 401, UpstreamAuthError, "invalid_api_key"),
        ("error_401_azure.json", 401, UpstreamAuthError, "401"),
        ("error_404_not_found.json", 404, InvalidUpstreamRequest, None),
        ("error_429_rate_limit.json", 429, UpstreamRateLimited, "rate_limit_exceeded"),
        ("error_429_insufficient_quota.json", 429, QuotaExhausted, "insufficient_quota"),
        ("error_500_server_error.json", 500, UpstreamInternalError, None),
        ("gateway_error_400_content_policy.json", 400, ContentPolicyError, "content_policy"),
        ("gateway_error_429_quota_exceeded.json", 429, QuotaExhausted, "quota_exceeded"),
    ],
)
def test_error_envelopes_map_by_code_and_status(
    name: str, status_code: int, error_type: type[Exception], code: str | None
) -> None:
    """Each documented error reply maps to its class, keeping the envelope's `code`."""
    error = classify_error(fixture_reply(name, status_code), provider="openai")
    assert type(error) is error_type
    assert error.code == code
    assert error.message.startswith(f"openai replied {status_code}: ")


def test_rate_limit_wait_comes_from_retry_after_ms_then_retry_after_then_reset() -> None:
    """Azure's `retry-after-ms` wins, then `retry-after`, then OpenAI's `x-ratelimit-reset-requests`."""
    wait = {
        "retry-after-ms": ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        "retry-after": ({"Retry-After": "9", "x-ratelimit-reset-requests": "1m0s"}, 9.0),
        "reset": ({"x-ratelimit-reset-requests": "6m0s"}, 360.0),
    }
    for headers, expected in wait.values():
        error = classify_error(fixture_reply("error_429_rate_limit.json", 429, headers), provider="openai")
        assert error.retry_after_s == expected


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3s", 3723.0)])
def test_reset_durations_read_as_openai_writes_them(text: str, seconds: float) -> None:
    """`x-ratelimit-reset-*` durations (`1s`, `6m0s`, `20ms`) become seconds."""
    assert reset_duration_s(text) == pytest.approx(seconds)


def test_rate_limit_headers_become_the_operations_window() -> None:
    """`x-ratelimit-{limit,remaining,reset}-requests` report the call's operation window to routing."""
    headers = {
        "x-ratelimit-limit-requests": "25",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "12s",
    }
    reply = fixture_reply("video_queued.json", 200, headers)
    (report,) = parse_capacity(reply, provider="openai", scope="generate", now_s=1000.0)
    assert (report.scope, report.limit, report.remaining, report.reset_at, report.retry_after_s) == (
        "generate",
        25,
        0,
        1012.0,
        12.0,
    )


def test_reply_without_rate_headers_reports_nothing() -> None:
    """A 200 with no `x-ratelimit-*` headers says nothing about capacity."""
    assert parse_capacity(fixture_reply("video_queued.json"), provider="openai", scope="status", now_s=0.0) == ()


def test_fixture_errors_are_the_documented_envelope() -> None:
    """Every OpenAI error fixture carries `message`, `type`, `param` and `code` under `error`."""
    for path in FIXTURES.glob("error_*.json"):
        if "azure" in path.name:
            continue
        assert set(json.loads(path.read_text())["error"]) == {"message", "type", "param", "code"}, path.name

"""The generic OpenAI-compatible adapter's pure translators: create bodies (JSON, multipart, image URL), the key
header and query per configured instance, refusals, and the documented replies from fixtures into parse_*."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from providers.contract import (
    Audio,
    ContentCredentials,
    ContentPolicyError,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Music,
    Operation,
    ProviderSettings,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    VideoInput,
    VideoUrl,
    WatermarkOverlay,
)
from providers.openai import (
    build_asset,
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
        ({"camera_fixed": False}, "camera"),
        ({"temporary_output": True}, "output and camera"),
        ({"multi_scene": True}, "multi-scene"),
        ({"audio": Audio(enabled=False)}, "audio"),
        ({"audio": Audio(prompt="rain on a tin roof")}, "audio"),
        ({"audio": Audio(negative_prompt="music")}, "audio"),
        ({"music": Music()}, "music"),
        ({"watermark": True}, "watermark"),
        ({"watermark_overlay": WatermarkOverlay(position="top-left")}, "overlay"),
        ({"content_credentials": ContentCredentials(author="ops")}, "credentials"),
        ({"upstream_variant": "fast"}, "sub-model"),
        (
            {
                "video_input": VideoInput(
                    operation="remix", video=VideoUrl(url="https://v.example.com/a.mp4"), source_seconds=4
                )
            },
            "video input",
        ),
        ({"results": 0}, "one result"),
    ],
)
def test_fields_the_api_lacks_are_refused(changes: dict[str, Any], named: str) -> None:
    """A canonical field OpenAI's create has no parameter for is refused, naming it, never dropped."""
    with pytest.raises(InvalidUpstreamRequest, match=named):
        build_submit(request(**changes), OPENAI)


def test_what_the_api_does_by_default_is_not_refused() -> None:
    """Audio on with no prompt (Sora's own sound), music off, one result: nothing asked that the API lacks."""
    call = build_submit(request(audio=Audio(), music=Music(enabled=False), results=1), OPENAI)
    assert call.json == {"model": "sora-2", "prompt": "A calico cat playing a piano on stage"}


def test_several_scenes_are_refused_even_without_the_multi_scene_flag() -> None:
    """One prompt per video: a second scene has nowhere to go."""
    scenes = (Scene(prompt="a cat"), Scene(prompt="a dog"))
    with pytest.raises(InvalidUpstreamRequest, match="multi-scene"):
        build_submit(GenerationRequest(upstream_model="sora-2", scenes=scenes), OPENAI)


def test_seconds_come_from_the_request_or_its_scene_and_must_agree() -> None:
    """The request's seconds or the one scene's, sent as a string; the two naming different lengths is refused."""
    assert build_submit(request(Scene(prompt="a cat", seconds=12)), OPENAI).json == {
        "model": "sora-2",
        "prompt": "a cat",
        "seconds": "12",
    }
    assert build_submit(request(Scene(prompt="a cat", seconds=4), seconds=4), OPENAI).json == {
        "model": "sora-2",
        "prompt": "a cat",
        "seconds": "4",
    }
    with pytest.raises(InvalidUpstreamRequest, match="4s but the request for 8s") as raised:
        build_submit(request(Scene(prompt="a cat", seconds=4), seconds=8), AZURE)
    assert raised.value.provider == "azure-openai"


@pytest.mark.parametrize("prompt", ["", "   "])
def test_a_blank_prompt_is_refused(prompt: str) -> None:
    """`prompt` is required by the create call."""
    with pytest.raises(InvalidUpstreamRequest, match="`prompt` is required"):
        build_submit(request(Scene(prompt=prompt)), OPENAI)


@pytest.mark.parametrize("url", ["ftp://images.example.com/cat.png", "data:image/png;base64,AAAA", "cat.png"])
def test_an_image_url_that_is_not_http_is_refused(url: str) -> None:
    """Only a public http(s) URL can be an `image_url` reference."""
    with pytest.raises(InvalidUpstreamRequest, match="not a public http"):
        build_submit(request(Scene(prompt="a cat", image=ImageUrl(url=url))), OPENAI)
    plain = build_submit(request(Scene(prompt="a cat", image=ImageUrl(url="http://images.example.com/c.png"))), OPENAI)
    assert plain.json == {
        "model": "sora-2",
        "prompt": "a cat",
        "input_reference": {"image_url": "http://images.example.com/c.png"},
    }


def test_an_inline_frame_of_unknown_type_is_a_bin_file_and_the_body_is_fixed() -> None:
    """A MIME type without a subtype names the file `.bin`; the body is the RFC 7578 form, byte for byte: each
    field a part, then the file part, then the closing boundary; the same request always gives the same bytes."""
    image = ImageData(mime_type="application/", data=PNG, digest=hashlib.sha256(PNG).hexdigest())
    first = build_submit(request(Scene(prompt="a cat", image=image)), AZURE)
    assert first.content == build_submit(request(Scene(prompt="a cat", image=image)), AZURE).content
    boundary = first.headers["content-type"].split("boundary=")[1]
    assert (
        first.content
        == (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nsora-2\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\na cat\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="input_reference"; '
            'filename="input_reference.bin"\r\n'
            "Content-Type: application/\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert (first.method, first.path, first.params) == ("POST", "/videos", {"api-version": "preview"})
    assert (first.headers["api-key"], first.json) == ("az-test", None)


@pytest.mark.parametrize(
    ("base_url", "base"),
    [("https://api.openai.com/v1/", "https://api.openai.com/v1"), ("https://x.test/X", "https://x.test/X")],
)
def test_a_base_url_with_a_trailing_slash_gives_the_same_urls(base_url: str, base: str) -> None:
    """`base_url = ".../v1/"`: content URLs have no double slash, and the asset check accepts them; only a slash is
    trimmed (a base ending in another character keeps it)."""
    settings = ProviderSettings(base_url=base_url, api_key="sk-test")
    output = parse_status(fixture_reply("video_completed.json"), JOB, settings).output
    assert output is not None
    video = f"{base}/videos/video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5"
    assert output.video_url == f"{video}/content?variant=video"
    assert build_asset(output.video_url, settings).path == output.video_url
    with pytest.raises(UpstreamProtocolError):  # a sibling of the base path is not under it
        build_asset(output.video_url.replace(f"{base}/videos", "https://x.test/Y/videos"), settings)


def test_a_key_header_named_authorization_in_any_case_is_the_bearer_scheme() -> None:
    """`key_header = "authorization"` is OpenAI's own header: the key goes as `Bearer <key>`."""
    settings = ProviderSettings(base_url="https://api.openai.com/v1", api_key="sk-test", key_header="authorization")
    assert build_poll(JOB, settings).headers == {"Authorization": "Bearer sk-test"}


def test_poll_and_cancel_address_the_video_by_its_quoted_id() -> None:
    """`GET` and `DELETE /videos/{id}`, the id quoted whole (a slash cannot leave the path)."""
    job = UpstreamJob(provider="openai", upstream_id="video/1 x", upstream_model="sora-2")
    poll, cancel = build_poll(job, OPENAI), build_cancel(job, OPENAI)
    assert (poll.method, poll.path, poll.params) == ("GET", "/videos/video%2F1%20x", {})
    assert (cancel.method, cancel.path) == ("DELETE", "/videos/video%2F1%20x")


def test_each_call_is_filed_under_its_operation() -> None:
    """The operation picks the provider's window a call spends (routing/gate.py): create, status, cancel, file."""
    calls = [build_submit(request(), OPENAI), build_poll(JOB, OPENAI), build_cancel(JOB, OPENAI)]
    calls.append(build_asset("https://api.openai.com/v1/videos/v1/content?variant=video", OPENAI))
    assert [call.operation for call in calls] == [
        Operation.GENERATE,
        Operation.STATUS,
        Operation.CANCEL,
        Operation.FILE,
    ]


def test_an_asset_download_carries_the_key_only_under_the_base_url() -> None:
    """The content route of the configured service gets the key; a URL elsewhere is refused, never sent the key."""
    url = "https://contoso.openai.azure.com/openai/v1/videos/v1/content?api-version=preview&variant=video"
    call = build_asset(url, AZURE)
    assert (call.method, call.path, call.headers) == ("GET", url, {"api-key": "az-test"})
    for elsewhere in ("https://contoso.openai.azure.com/openai/v10/x", "https://evil.example.com/openai/v1/x"):
        with pytest.raises(UpstreamProtocolError) as raised:
            build_asset(elsewhere, AZURE)
        assert raised.value.provider == "azure-openai"
        assert "az-test" not in str(raised.value)


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


@pytest.mark.parametrize("status", ["in_progress", "completed"])
def test_a_create_reply_already_running_or_done_is_accepted(status: str) -> None:
    """Any of the three live statuses is an accepted job; the job carries the configured instance's slug."""
    body = json.dumps({"id": "video_9", "object": "video", "status": status}).encode()
    job = parse_submit(Reply(status_code=200, headers={}, body=body), request(), AZURE)
    assert job == UpstreamJob(provider="azure-openai", upstream_id="video_9", upstream_model="sora-2")


@pytest.mark.parametrize(
    "body", [{"id": "video_9", "status": "failed"}, {"id": "video_9"}, {"id": "", "status": "queued"}]
)
def test_a_create_reply_failed_without_status_or_without_id_is_a_protocol_error(body: dict[str, str]) -> None:
    """A create reply that is not a live video is never taken for an accepted job; the error keeps the status."""
    reply = Reply(status_code=200, headers={}, body=json.dumps(body).encode())
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_submit(reply, request(), AZURE)
    assert (raised.value.provider, raised.value.status_code) == ("azure-openai", 200)


def test_a_reply_that_is_not_json_is_a_protocol_error_of_the_instance() -> None:
    """A 200 whose body is not the video object, at create or at poll, is the configured instance's protocol error."""
    reply = Reply(status_code=200, headers={}, body=b"<html>gateway page</html>")
    with pytest.raises(UpstreamProtocolError) as at_create:
        parse_submit(reply, request(), AZURE)
    with pytest.raises(UpstreamProtocolError) as at_poll:
        parse_status(reply, JOB, AZURE)
    assert at_create.value.provider == at_poll.value.provider == "azure-openai"


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


def test_statuses_without_progress_read_as_zero_queued_and_unknown_running() -> None:
    """`progress` absent: a queued video is at 0, a running one's progress is unknown."""
    for status, progress in (("queued", 0), ("in_progress", None)):
        body = json.dumps({"id": "video_9", "status": status}).encode()
        parsed = parse_status(Reply(status_code=200, headers={}, body=body), JOB, OPENAI)
        assert (parsed.status, parsed.progress) == (status, progress)


def test_a_completed_video_without_expiry_or_size_has_no_such_provenance() -> None:
    """Provenance keeps only the facts the video object gives; the outputs are at 100 %."""
    body = json.dumps({"id": "video_9", "status": "completed", "expires_at": 1758945210}).encode()
    parsed = parse_status(Reply(status_code=200, headers={}, body=body), JOB, OPENAI)
    assert parsed.output is not None
    assert (parsed.progress, parsed.output.provenance) == (100, {"expires_at": "1758945210"})
    body = json.dumps({"id": "video_9", "status": "completed"}).encode()
    parsed = parse_status(Reply(status_code=200, headers={}, body=body), JOB, OPENAI)
    assert parsed.output is not None
    assert parsed.output.provenance == {}


def test_a_failed_video_without_error_is_an_internal_failure_naming_the_provider() -> None:
    """No `error` object: an internal failure without code, its message naming the instance."""
    body = json.dumps({"id": "video_9", "status": "failed"}).encode()
    parsed = parse_status(Reply(status_code=200, headers={}, body=body), JOB, AZURE)
    failure = parsed.failure
    assert parsed.status == "failed"
    assert failure is not None
    assert (failure.error_class, failure.code) == (ErrorClass.INTERNAL, None)
    assert failure.message.startswith("azure-openai ")
    body = json.dumps({"id": "video_9", "status": "failed", "error": {"code": "x", "message": ""}}).encode()
    failure = parse_status(Reply(status_code=200, headers={}, body=body), JOB, AZURE).failure
    assert failure is not None
    assert (failure.code, failure.message.startswith("azure-openai ")) == ("x", True)


@pytest.mark.parametrize(
    ("name", "status_code"), [("error_404_not_found.json", 404), ("error_400_invalid_value.json", 400)]
)
def test_a_status_poll_answered_with_an_error_envelope_is_classified(name: str, status_code: int) -> None:
    """A 400 or a 404 (an unknown id) is the classifier's error, under the instance's slug; a 200 without status is
    a protocol error."""
    with pytest.raises(InvalidUpstreamRequest) as raised:
        parse_status(fixture_reply(name, status_code), JOB, AZURE)
    assert (raised.value.provider, raised.value.status_code) == ("azure-openai", status_code)
    with pytest.raises(UpstreamProtocolError) as protocol:
        parse_status(Reply(status_code=200, headers={}, body=b'{"id": "video_9"}'), JOB, AZURE)
    assert (protocol.value.provider, protocol.value.status_code) == ("azure-openai", 200)


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

"""Pure Vidgen translation of polling and errors: seed-000 payloads through build_poll, parse_status
and classify_error. The catalogue and the submit live elsewhere."""

from __future__ import annotations

import json

import pytest

from providers.contract import (
    ContentPolicyError,
    ErrorClass,
    InvalidUpstreamRequest,
    Reply,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.vidgen import build_poll, classify_error, parse_status
from providers.vidgen.translate import presigned_expiry
from tests.providers.vidgen.conftest import SETTINGS, fixture_reply

SIGNED = "https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Date=20261122T000000Z&X-Amz-Expires=3600&X-Amz-Signature=f"

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
        "upscale": "false",
        "fingerprint": "a4f8e2c1b9d0...",
        "gen_id": "a1b2c3d4e5f6g7h8i9j0",
        "c2pa_author": "Author",
        "c2pa_title": "AI Video",
        "c2pa_description": "Text to Video - Generative AI",
        "watermark_position": "bottom-right",
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
    assert parsed.failure.message  # a stand-in when Vidgen gives no reason


def test_parse_status_timed_out_keeps_the_vendor_message_and_its_code() -> None:
    """A TIMED_OUT reply carrying a documented string keeps it and its code, as FAILED does."""
    failure = parse_status(
        Reply(status_code=200, headers={}, body=b'{"status": "TIMED_OUT", "error": "Generation failed"}')
    ).failure
    assert failure is not None
    assert (failure.error_class, failure.message, failure.code) == (
        ErrorClass.TIMEOUT,
        "Generation failed",
        "generation_failed",
    )


def test_parse_status_reply_that_is_not_json_names_vidgen() -> None:
    """A proxy's HTML page on the status action names the provider that sent it."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_status(Reply(status_code=200, headers={}, body=b"<html>Bad Gateway</html>"))
    assert raised.value.provider == "vidgen"


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


def completed(**meta: object) -> Reply:
    images = [{"url": SIGNED, "type": "signed"}]
    body = {"status": "COMPLETED", "compliance": "safe", "meta": {"images": images} | meta}
    return Reply(status_code=200, headers={}, body=json.dumps(body).encode())


def test_a_completed_job_is_at_100_percent_and_its_link_expires_with_its_signature() -> None:
    """The signed S3 link (2026-11-22T00:00:00Z + 3600 s) sets the output's expiry."""
    parsed = parse_status(completed())
    assert parsed.progress == 100
    assert parsed.output is not None
    assert parsed.output.expires_at == 1795305600 + 3600


def test_every_c2pa_override_of_the_meta_is_provenance() -> None:
    """seed 000 meta `cs_*` become `c2pa_author` ... `c2pa_vendor` (docs/providers.md §9 Vidgen row)."""
    names = ("author", "title", "description", "organization", "vendor")
    output = parse_status(completed(**{f"cs_{name}": f"the {name}" for name in names})).output
    assert output is not None
    assert output.provenance == {
        "c2pa_author": "the author",
        "c2pa_title": "the title",
        "c2pa_description": "the description",
        "c2pa_organization": "the organization",
        "c2pa_vendor": "the vendor",
    }


def test_a_completed_reply_without_meta_is_a_protocol_error_with_its_status() -> None:
    """Without meta there is no signed video to hand out; the error names the provider and the reply's status."""
    reply = Reply(status_code=200, headers={}, body=b'{"status": "COMPLETED", "compliance": "safe"}')
    with pytest.raises(UpstreamProtocolError, match="meta") as raised:
        parse_status(reply)
    assert (raised.value.provider, raised.value.status_code) == ("vidgen", 200)


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
        (501, UpstreamUnavailable),
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


def test_an_error_status_decides_over_the_status_a_documented_string_names() -> None:
    """A 400 carrying "Invalid API key" (documented as a 401) stays the invalid request its status says."""
    error = classify_error(fixture_reply("error_401_invalid_api_key.json", 400))
    assert (type(error), error.status_code, error.code) == (InvalidUpstreamRequest, 400, "invalid_api_key")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("error_400_maximum_scenes_allowed.json", InvalidUpstreamRequest),
        ("error_400_content_blocked_flagged.json", ContentPolicyError),
    ],
)
def test_a_2xx_with_a_patterned_string_takes_its_documented_400(name: str, expected: type[UpstreamError]) -> None:
    """Seed 000 documents "Maximum N scenes allowed" and "Content blocked — flagged for: …" as 400s, even in a 200."""
    error = classify_error(fixture_reply(name, 200))
    assert (type(error), error.status_code) == (expected, 200)


def test_classify_error_carries_the_vendor_string_and_reads_a_wait_only_on_a_429() -> None:
    """The operator reads Vidgen's own `error`; a 502's Retry-After is no rate-limit wait (seed 000 names none)."""
    error = classify_error(fixture_reply("error_502_generation_failed.json", 502, {"Retry-After": "30"}))
    assert "Generation failed" in error.message
    assert error.retry_after_s is None


def test_a_2xx_with_an_undocumented_error_string_is_a_protocol_error() -> None:
    """A success status carrying a string seed 000 does not list gives no status to go by: a protocol error."""
    error = classify_error(Reply(status_code=200, headers={}, body=b'{"error": "Queue is full"}'))
    assert (type(error), error.status_code, error.code) == (UpstreamProtocolError, 200, None)


def test_a_presigned_link_expires_at_its_signing_time_plus_its_lifetime() -> None:
    """`X-Amz-Date` 2026-11-22T00:00:00Z plus `X-Amz-Expires` 3600 s; a link without a readable pair has none."""
    url = "https://bucket.s3.amazonaws.com/a.mp4?X-Amz-Date=20261122T000000Z&X-Amz-Expires=3600&X-Amz-Signature=f"

    assert presigned_expiry(url) == 1795305600 + 3600
    assert presigned_expiry(url.replace("20261122T000000Z", "20261122T013000Z")) == 1795305600 + 5400 + 3600
    assert presigned_expiry("https://bucket.s3.amazonaws.com/a.mp4") is None
    assert presigned_expiry(url.replace("X-Amz-Date=20261122T000000Z&", "")) is None
    assert presigned_expiry(url.replace("3600", "soon")) is None

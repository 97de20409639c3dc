"""Pure NanoGPT error classification: §4.6 envelopes (video guide, OpenAI-style, legacy) and status-route
errors through classify_error and error_capacity, by code first and HTTP status second."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.contract import (
    CapacityReport,
    ContentPolicyError,
    InvalidUpstreamRequest,
    QuotaExhausted,
    Reply,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from providers.nanogpt import classify_error, error_capacity

FIXTURES = Path(__file__).parent / "fixtures"
MIDNIGHT_UTC = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def fixture_reply(name: str, headers: dict[str, str] | None = None) -> Reply:
    status_code = int(name.split("_")[1])
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "operation", "expected", "code"),
    [
        ("error_400_content_policy_video_guide.json", "generate", ContentPolicyError, "CONTENT_POLICY_VIOLATION"),
        ("error_400_content_policy_openai.json", "generate", ContentPolicyError, "content_policy_violation"),
        ("error_400_invalid_video_url_scheme.json", "generate", InvalidUpstreamRequest, "invalid_video_url_scheme"),
        ("error_400_validation.json", "generate", InvalidUpstreamRequest, None),
        ("error_400_status_missing_id.json", "status", InvalidUpstreamRequest, None),
        ("error_401_invalid_key.json", "generate", UpstreamAuthError, "invalid_api_key"),
        ("error_402_insufficient_balance.json", "generate", QuotaExhausted, "insufficient_balance"),
        ("error_402_video_guide.json", "generate", QuotaExhausted, "INSUFFICIENT_BALANCE"),
        ("error_403_pro_required.json", "generate", QuotaExhausted, "PRO_REQUIRED"),
        ("error_403_origin_not_allowed.json", "generate", UpstreamAuthError, "api_key_origin_not_allowed"),
        ("error_403_status_not_yours.json", "status", InvalidUpstreamRequest, None),
        ("error_404_model_not_found.json", "generate", InvalidUpstreamRequest, "model_not_found"),
        ("error_404_status_not_found.json", "status", InvalidUpstreamRequest, None),
        ("error_409_conflict.json", "generate", InvalidUpstreamRequest, None),
        ("error_413_payload_too_large.json", "generate", InvalidUpstreamRequest, None),
        ("error_429_rate_limited.json", "generate", UpstreamRateLimited, "RATE_LIMITED"),
        ("error_429_rate_limit_exceeded.json", "generate", UpstreamRateLimited, "rate_limit_exceeded"),
        ("error_429_daily_rpd.json", "generate", QuotaExhausted, "daily_rpd_limit_exceeded"),
        ("error_429_daily_usd.json", "generate", QuotaExhausted, "daily_usd_limit_exceeded"),
        ("error_500_server_error.json", "generate", UpstreamInternalError, None),
        ("error_503_unavailable.json", "generate", UpstreamUnavailable, None),
    ],
)
def test_classify_error_maps_each_documented_envelope(
    name: str, operation: str, expected: type[UpstreamError], code: str | None
) -> None:
    """Every §4.6 envelope and status-route error maps to its §6.2 class with the vendor's code."""
    error = classify_error(fixture_reply(name), operation=operation)
    assert type(error) is expected
    assert (error.code, error.status_code, error.provider) == (code, int(name.split("_")[1]), "nanogpt")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("error_400_content_policy_video_guide.json", "Your prompt violates our content policy."),
        ("error_402_insufficient_balance.json", "Insufficient balance"),
        ("error_404_status_not_found.json", "Video request not found"),
    ],
)
def test_classify_error_reads_the_message_of_each_envelope(name: str, message: str) -> None:
    """The message is `error.message`, a string `error`, or the top-level `message` beside an int `error`."""
    assert classify_error(fixture_reply(name)).message == f"nanogpt replied {name.split('_')[1]}: {message}"


@pytest.mark.parametrize("name", ["error_408_timeout.json", "error_504_gateway_timeout.json"])
def test_timeouts_may_still_have_been_accepted(name: str) -> None:
    """408 and 504 are timeouts whose outcome is unknown: the job may run and bill anyway."""
    error = classify_error(fixture_reply(name))
    assert isinstance(error, UpstreamTimeout)
    assert error.outcome_unknown is True
    assert (error.status_code, error.provider) == (int(name.split("_")[1]), "nanogpt")


def test_content_policy_is_decided_by_code_not_by_message() -> None:
    """A 400 that merely mentions content policy in prose, with no code, stays an invalid request."""
    body = b'{"error": {"message": "content policy violation", "type": "invalid_request_error"}}'
    assert type(classify_error(Reply(status_code=400, headers={}, body=body))) is InvalidUpstreamRequest


def test_a_403_without_code_is_auth_on_submit_but_not_yours_on_status() -> None:
    """The submit route's bare 403 is a permission problem; the status route's means another key's job."""
    reply = fixture_reply("error_403_status_not_yours.json")
    assert type(classify_error(reply, operation="generate")) is UpstreamAuthError
    assert type(classify_error(reply, operation="status")) is InvalidUpstreamRequest


def test_throughput_429_carries_retry_after() -> None:
    """A RATE_LIMITED 429 is rate-limited with the Retry-After hint in seconds."""
    error = classify_error(fixture_reply("error_429_rate_limited.json", {"Retry-After": "12"}))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after_s == 12.0


def test_daily_429_is_quota_with_retry_after_from_the_header() -> None:
    """A daily-cap 429 is quota exhaustion (fail over), keeping the header's seconds to midnight UTC."""
    error = classify_error(fixture_reply("error_429_daily_rpd.json", {"retry-after": "3600"}))
    assert isinstance(error, QuotaExhausted)
    assert error.retry_after_s == 3600.0


def test_daily_429_without_retry_after_waits_until_midnight_utc() -> None:
    """Without a header the daily cap's reset is computed from `now_s` to the next 00:00 UTC."""
    error = classify_error(fixture_reply("error_429_daily_usd.json"), now_s=MIDNIGHT_UTC - 90.0)
    assert error.retry_after_s == 90.0


def test_retry_after_http_date_is_measured_from_the_date_header() -> None:
    """An HTTP-date Retry-After is the distance from the reply's own Date."""
    headers = {"Retry-After": "Thu, 01 Jan 2026 00:01:00 GMT", "Date": "Thu, 01 Jan 2026 00:00:00 GMT"}
    assert classify_error(fixture_reply("error_429_rate_limit_exceeded.json", headers)).retry_after_s == 60.0


def test_bare_429_has_no_invented_hint() -> None:
    """A 429 without Retry-After is rate-limited with no hint."""
    error = classify_error(Reply(status_code=429, headers={}, body=b""))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after_s is None


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (400, InvalidUpstreamRequest),
        (401, UpstreamAuthError),
        (402, QuotaExhausted),
        (404, InvalidUpstreamRequest),
        (418, InvalidUpstreamRequest),
        (500, UpstreamInternalError),
        (502, UpstreamUnavailable),
        (501, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (504, UpstreamTimeout),
    ],
)
def test_non_json_error_is_classified_by_status(status_code: int, expected: type[UpstreamError]) -> None:
    """A proxy's HTML page still maps by HTTP status, naming the status in the message."""
    error = classify_error(Reply(status_code=status_code, headers={}, body=b"<html>oops</html>"))
    assert type(error) is expected
    assert str(status_code) in error.message


def test_legacy_error_in_a_2xx_takes_the_status_it_names() -> None:
    """A 200 carrying `{"error":"Insufficient balance","status":402}` is quota exhaustion."""
    reply = Reply(status_code=200, headers={}, body=(FIXTURES / "error_402_insufficient_balance.json").read_bytes())
    assert type(classify_error(reply)) is QuotaExhausted


def test_a_2xx_naming_400_in_its_body_is_the_400() -> None:
    """The OpenAPI `{"error": <int>, "message"}` shape in a 200 names its status; 400 is an error status too."""
    reply = Reply(status_code=200, headers={}, body=b'{"error": 400, "message": "Missing requestId"}')
    assert type(classify_error(reply, operation="status")) is InvalidUpstreamRequest


def test_an_error_status_decides_over_the_status_its_body_names() -> None:
    """A 400 whose legacy body says `"status": 402` is the 400 it was sent as, an invalid request."""
    reply = Reply(status_code=400, headers={}, body=b'{"error": "Insufficient balance", "status": 402}')
    assert type(classify_error(reply)) is InvalidUpstreamRequest


def test_a_retry_after_date_without_a_date_header_is_measured_from_now() -> None:
    """An HTTP-date Retry-After on a reply without `Date` is the distance from `now_s` (2026-01-01T00:00:00Z)."""
    headers = {"Retry-After": "Thu, 01 Jan 2026 00:00:45 GMT"}
    error = classify_error(fixture_reply("error_429_rate_limit_exceeded.json", headers), now_s=MIDNIGHT_UTC)
    assert error.retry_after_s == 45.0


def test_a_503_retry_after_is_a_wait_too() -> None:
    """§4.6: "retry 408/429/500/503 with backoff and `Retry-After`": a 503's header becomes the hint."""
    error = classify_error(fixture_reply("error_503_unavailable.json", {"Retry-After": "30"}))
    assert (type(error), error.retry_after_s) == (UpstreamUnavailable, 30.0)


def test_unclassifiable_2xx_is_a_protocol_error() -> None:
    """A 2xx with an error but no status or code to go by is a protocol error."""
    reply = Reply(status_code=200, headers={}, body=b'{"error": "something odd"}')
    assert type(classify_error(reply)) is UpstreamProtocolError


# --------------------------------------------------------------------------------------------- headroom


@pytest.mark.parametrize(
    ("name", "headers", "expected"),
    [
        (
            "error_429_daily_rpd.json",
            {"Retry-After": "600"},
            CapacityReport(provider="nanogpt", scope="daily", remaining=0, retry_after_s=600.0),
        ),
        (
            "error_429_rate_limited.json",
            {"Retry-After": "30"},
            CapacityReport(provider="nanogpt", scope="rate", remaining=0, retry_after_s=30.0),
        ),
        ("error_402_insufficient_balance.json", {}, CapacityReport(provider="nanogpt", scope="balance", remaining=0)),
        ("error_402_video_guide.json", {}, CapacityReport(provider="nanogpt", scope="balance", remaining=0)),
        ("error_400_content_policy_openai.json", {}, None),
        ("error_503_unavailable.json", {}, None),
    ],
)
def test_error_capacity_reports_spent_caps_and_balances(
    name: str, headers: dict[str, str], expected: CapacityReport | None
) -> None:
    """Daily caps, the request window and an empty balance become headroom news; other errors none."""
    assert error_capacity(classify_error(fixture_reply(name, headers))) == expected

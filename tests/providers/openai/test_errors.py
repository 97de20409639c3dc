"""The OpenAI-compatible adapter's error classifier and rate-limit headers, case by case against docs/providers.md
§11.3 (400 content codes -> content_policy; other 4xx -> invalid_request; 401, 403 -> auth; 402 -> quota; 429 by
code; 500 -> internal; 502-504 -> upstream_unavailable) and the rate-limits guide's `x-ratelimit-*` headers. Both
sides of every status boundary, and the provider, status and code each error carries."""

from __future__ import annotations

import json

import pytest

from providers.contract import (
    ContentPolicyError,
    InvalidUpstreamRequest,
    QuotaExhausted,
    Reply,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.openai import classify_error, parse_capacity
from providers.openai.errors import reset_duration_s, wait_s


def envelope(
    status_code: int, *, code: str | None = None, type_: str | None = None, headers: dict[str, str] | None = None
) -> Reply:
    """An error reply in OpenAI's envelope (`{"error": {"message", "type", "param", "code"}}`)."""
    body = {"error": {"message": "refused", "type": type_, "param": None, "code": code}}
    return Reply(status_code=status_code, headers=headers or {}, body=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status_code", "error_type"),
    [
        (399, UpstreamProtocolError),
        (400, InvalidUpstreamRequest),
        (401, UpstreamAuthError),
        (402, QuotaExhausted),
        (403, UpstreamAuthError),
        (404, InvalidUpstreamRequest),
        (409, InvalidUpstreamRequest),
        (499, InvalidUpstreamRequest),
        (500, UpstreamInternalError),
        (501, UpstreamUnavailable),
        (502, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (504, UpstreamUnavailable),
    ],
)
def test_the_status_decides_when_the_code_names_nothing(status_code: int, error_type: type[UpstreamError]) -> None:
    """Without a content or quota code the HTTP status picks the class; the error keeps provider, status, code."""
    error = classify_error(envelope(status_code, code="some_code"), provider="azure-openai")
    assert type(error) is error_type
    assert (error.provider, error.status_code, error.code) == ("azure-openai", status_code, "some_code")


@pytest.mark.parametrize("field", ["code", "type"])
@pytest.mark.parametrize("value", ["moderation_blocked", "content_policy_violation", "content_policy"])
def test_a_400_naming_content_policy_in_its_code_or_type_is_content_policy(field: str, value: str) -> None:
    """The three content codes count whether the envelope puts them in `code` or in `type`."""
    reply = envelope(400, code=value) if field == "code" else envelope(400, type_=value)
    error = classify_error(reply, provider="openai")
    assert type(error) is ContentPolicyError
    assert (error.provider, error.status_code) == ("openai", 400)


@pytest.mark.parametrize("status_code", [401, 403, 404, 422])
def test_a_content_code_on_another_status_keeps_the_status_class(status_code: int) -> None:
    """Only a 400 is read as a content refusal: a 403 with `moderation_blocked` is still auth, a 404 invalid."""
    error = classify_error(envelope(status_code, code="moderation_blocked"), provider="openai")
    assert type(error) is not ContentPolicyError


@pytest.mark.parametrize(
    ("code", "type_", "error_type"),
    [
        ("insufficient_quota", None, QuotaExhausted),
        ("quota_exceeded", None, QuotaExhausted),
        (None, "insufficient_quota", QuotaExhausted),
        (None, "quota_exceeded", QuotaExhausted),
        ("rate_limit_exceeded", "requests", UpstreamRateLimited),
    ],
)
def test_a_429_is_quota_by_its_code_or_type_else_rate_limited(
    code: str | None, type_: str | None, error_type: type[UpstreamError]
) -> None:
    """`insufficient_quota` / `quota_exceeded` (in `code` or `type`) is the account's money; else a moving window,
    with its wait."""
    reply = envelope(429, code=code, type_=type_, headers={"retry-after": "7"})
    error = classify_error(reply, provider="openai")
    assert type(error) is error_type
    assert (error.provider, error.status_code, error.code, error.retry_after_s) == ("openai", 429, code, 7.0)


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b'{"error": null}', b"{}"])
def test_a_reply_without_an_envelope_is_classified_by_its_status(body: bytes) -> None:
    """A proxy's HTML page or an empty envelope: the status alone decides, and there is no code."""
    error = classify_error(Reply(status_code=400, headers={}, body=body), provider="openai")
    assert type(error) is InvalidUpstreamRequest
    assert (error.provider, error.status_code, error.code) == ("openai", 400, None)


def test_a_429_retry_after_date_counts_from_the_clock_given() -> None:
    """Without a `Date` header, a `retry-after` date is measured from `now_s`."""
    reply = envelope(429, code="rate_limit_exceeded", headers={"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"})
    error = classify_error(reply, provider="openai", now_s=1767225600.0)  # 2026-01-01T00:00:00Z
    assert error.retry_after_s == 30.0


def test_the_error_message_carries_the_provider_message() -> None:
    """The envelope's own message follows the provider and status."""
    error = classify_error(envelope(400, code="invalid_value"), provider="openai")
    assert error.message == "openai replied 400: refused"


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After-Ms": "250.5"}, 0.2505),
        ({"retry-after-ms": " 800 "}, 0.8),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1.2.3", "retry-after": "3"}, 3.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0),
        ({"x-ratelimit-reset-requests": "20ms"}, 0.02),
        ({}, None),
        ({"x-ratelimit-reset-requests": "soon"}, None),
    ],
)
def test_a_429_waits_for_retry_after_ms_then_retry_after_then_the_requests_reset(
    headers: dict[str, str], seconds: float | None
) -> None:
    """Azure's milliseconds (a number only), then `retry-after` (seconds or a date, from the clock given), then the
    requests window's reset; nothing readable, no wait."""
    now_s = 1767225600.0  # 2026-01-01T00:00:00Z
    assert wait_s(headers, now_s) == (None if seconds is None else pytest.approx(seconds))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(" 2s ", 2.0), ("1.5s", 1.5), ("2h", 7200.0), ("3m", 180.0), ("", None), (None, None), ("5x", None)],
)
def test_a_reset_duration_is_read_whole_or_not_at_all(text: str | None, seconds: float | None) -> None:
    """Go-style durations (`1.5s`, `2h`), surrounding spaces aside; anything not wholly a duration is unknown."""
    assert reset_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["1s junk", "junk 1s", "1s 2m", "-1s"])
def test_a_reset_duration_with_anything_else_in_it_is_unknown(text: str) -> None:
    """A duration is only a duration when nothing but its parts is there."""
    assert reset_duration_s(text) is None


@pytest.mark.parametrize("retry_after", ["30", "Thu, 01 Jan 2026 00:00:30 GMT"])
def test_a_429_without_rate_headers_reports_its_scope_exhausted_for_its_wait(retry_after: str) -> None:
    """No `x-ratelimit-*` headers on a 429: the scope is reported with nothing remaining until the wait is over
    (a `retry-after` date counts from the clock given)."""
    reply = envelope(429, code="rate_limit_exceeded", headers={"retry-after": retry_after})
    now_s = 1767225600.0  # 2026-01-01T00:00:00Z
    (report,) = parse_capacity(reply, provider="openai", scope="generate", now_s=now_s)
    assert (report.provider, report.scope, report.limit, report.remaining) == ("openai", "generate", None, 0)
    assert (report.reset_at, report.retry_after_s) == (None, 30.0)


def test_a_429_that_says_what_remains_keeps_it_and_waits_for_the_reset() -> None:
    """A 429 with the headers: their figures, and the reset as its wait when no `retry-after` is given."""
    headers = {"x-ratelimit-limit-requests": "25", "x-ratelimit-remaining-requests": "1"}
    headers["x-ratelimit-reset-requests"] = "6m0s"
    reply = envelope(429, code="rate_limit_exceeded", headers=headers)
    (report,) = parse_capacity(reply, provider="openai", scope="generate", now_s=1000.0)
    assert (report.limit, report.remaining, report.reset_at, report.retry_after_s) == (25, 1, 1360.0, 360.0)


def test_a_window_with_units_left_asks_no_wait() -> None:
    """A 200 with remaining requests: the window and its reset, and no wait (only an empty window asks one)."""
    headers = {"x-ratelimit-limit-requests": " 25 ", "x-ratelimit-remaining-requests": "3"}
    headers["x-ratelimit-reset-requests"] = "12s"
    reply = Reply(status_code=200, headers=headers, body=b"{}")
    (report,) = parse_capacity(reply, provider="openai", scope="status", now_s=1000.0)
    assert (report.limit, report.remaining, report.reset_at, report.retry_after_s) == (25, 3, 1012.0, None)


@pytest.mark.parametrize(
    ("headers", "limit", "remaining"),
    [
        ({"x-ratelimit-limit-requests": "25"}, 25, None),
        ({"x-ratelimit-remaining-requests": "0"}, None, 0),
        ({"x-ratelimit-limit-requests": "2.5", "x-ratelimit-remaining-requests": "4"}, None, 4),
    ],
)
def test_either_count_alone_is_a_report_and_a_count_is_a_whole_number(
    headers: dict[str, str], limit: int | None, remaining: int | None
) -> None:
    """One count is enough to report the window; a count that is not a whole number is unknown. Without a reset
    header there is no reset time and no wait to take from it."""
    reply = Reply(status_code=200, headers=headers, body=b"{}")
    (report,) = parse_capacity(reply, provider="openai", scope="status", now_s=1000.0)
    assert (report.limit, report.remaining, report.reset_at, report.retry_after_s) == (limit, remaining, None, None)

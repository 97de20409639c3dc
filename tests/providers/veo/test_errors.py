"""Pure Veo error classification: Google's error bodies (google.rpc.Status) through classify_error, a finished
operation's `error` through operation_failure, and a 429's capacity report through error_capacity. Expected
values come from docs/providers.md §8 (the mapping) and Google's error model (canonical codes, gRPC numbers)."""

from __future__ import annotations

import json

import pytest

from providers.contract import (
    CapacityReport,
    ErrorClass,
    Failure,
    InvalidUpstreamRequest,
    QuotaExhausted,
    Reply,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.veo import classify_error, error_capacity, operation_failure
from providers.veo.wire import RpcStatus

NOW_S = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"


def google_reply(
    status_code: int,
    status: str | None,
    *details: dict[str, object],
    message: str = "Google's message",
    headers: dict[str, str] | None = None,
) -> Reply:
    """An HTTP error reply in Google's error model: `{"error": {"code", "message", "status", "details"}}`."""
    error: dict[str, object] = {"code": status_code, "message": message, "details": list(details)}
    if status is not None:
        error["status"] = status
    return Reply(status_code=status_code, headers=headers or {}, body=json.dumps({"error": error}).encode())


def quota_failure(quota_id: str) -> dict[str, object]:
    return {"@type": QUOTA_FAILURE, "violations": [{"quotaMetric": "m", "quotaId": quota_id}]}


# --------------------------------------------------------------------------------------------- classify_error


@pytest.mark.parametrize(
    ("status_code", "status", "error_class"),
    [
        (400, "INVALID_ARGUMENT", ErrorClass.INVALID_REQUEST),
        (400, "OUT_OF_RANGE", ErrorClass.INVALID_REQUEST),
        (404, "NOT_FOUND", ErrorClass.INVALID_REQUEST),
        (401, "UNAUTHENTICATED", ErrorClass.AUTH),
        (403, "PERMISSION_DENIED", ErrorClass.AUTH),
        (400, "FAILED_PRECONDITION", ErrorClass.AUTH),
        (429, "RESOURCE_EXHAUSTED", ErrorClass.RATE_LIMITED),
        (500, "INTERNAL", ErrorClass.INTERNAL),
        (500, "UNKNOWN", ErrorClass.INTERNAL),
        (503, "UNAVAILABLE", ErrorClass.UPSTREAM_UNAVAILABLE),
        (504, "DEADLINE_EXCEEDED", ErrorClass.UPSTREAM_UNAVAILABLE),
    ],
)
def test_each_canonical_status_has_its_class_and_is_the_code(
    status_code: int, status: str, error_class: ErrorClass
) -> None:
    """The canonical `status` decides the class (docs/providers.md §8) and is the error's `code`."""
    error = classify_error(google_reply(status_code, status))
    assert (error.error_class, error.code, error.provider, error.status_code) == (
        error_class,
        status,
        "veo",
        status_code,
    )


@pytest.mark.parametrize(
    ("status_code", "status", "error_class"),
    [
        (500, "INVALID_ARGUMENT", ErrorClass.INVALID_REQUEST),
        (404, "UNAVAILABLE", ErrorClass.UPSTREAM_UNAVAILABLE),
        (429, "INTERNAL", ErrorClass.INTERNAL),
        (503, "UNAUTHENTICATED", ErrorClass.AUTH),
        (400, "RESOURCE_EXHAUSTED", ErrorClass.RATE_LIMITED),
    ],
)
def test_the_canonical_status_wins_over_the_http_status(status_code: int, status: str, error_class: ErrorClass) -> None:
    """Where the two disagree the body's `status` decides, not the HTTP status."""
    assert classify_error(google_reply(status_code, status)).error_class == error_class


@pytest.mark.parametrize(
    ("status_code", "error_class"),
    [
        (400, ErrorClass.INVALID_REQUEST),
        (401, ErrorClass.AUTH),
        (403, ErrorClass.AUTH),
        (404, ErrorClass.INVALID_REQUEST),
        (429, ErrorClass.RATE_LIMITED),
        (499, ErrorClass.INVALID_REQUEST),
        (500, ErrorClass.INTERNAL),
        (501, ErrorClass.UPSTREAM_UNAVAILABLE),
        (502, ErrorClass.UPSTREAM_UNAVAILABLE),
        (399, ErrorClass.PROTOCOL),
        (302, ErrorClass.PROTOCOL),
    ],
)
def test_without_a_canonical_status_the_http_status_decides(status_code: int, error_class: ErrorClass) -> None:
    """An HTML page, an unknown `status` or none: 401/403 auth, 429 rate limited, 500 internal, above 500
    unavailable, other 4xx invalid, anything else a reply the documents do not describe."""
    html = Reply(status_code=status_code, headers={}, body=b"<!DOCTYPE html><p>That's an error.")
    no_status = google_reply(status_code, None)
    unknown = google_reply(status_code, "SOMETHING_NEW")
    for reply in (html, no_status, unknown):
        error = classify_error(reply)
        assert (error.error_class, error.provider, error.status_code) == (error_class, "veo", status_code)
    assert classify_error(html).code is None
    assert classify_error(unknown).code == "SOMETHING_NEW"


def test_a_body_without_an_error_member_is_classified_by_http_status() -> None:
    """A JSON body that is not Google's error model carries no canonical status."""
    reply = Reply(status_code=503, headers={}, body=b'{"detail": "overloaded"}')
    error = classify_error(reply)
    assert (error.error_class, error.code) == (ErrorClass.UPSTREAM_UNAVAILABLE, None)


@pytest.mark.parametrize("reason", ["API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"])
def test_a_credential_reason_in_error_info_is_auth_whatever_the_status(reason: str) -> None:
    """A wrong Gemini key is a 400 INVALID_ARGUMENT whose ErrorInfo reason names the key: auth, not invalid."""
    info = {"@type": ERROR_INFO, "reason": reason, "domain": "googleapis.com"}
    error = classify_error(google_reply(400, "INVALID_ARGUMENT", info))
    assert (error.error_class, error.code, error.status_code) == (ErrorClass.AUTH, "INVALID_ARGUMENT", 400)


def test_only_an_error_info_detail_names_the_credential_reason() -> None:
    """The reason counts in an ErrorInfo only; another detail's `reason`, or another reason, leaves the status."""
    elsewhere = {"@type": "type.googleapis.com/google.rpc.Help", "reason": "API_KEY_INVALID"}
    other = {"@type": ERROR_INFO, "reason": "MODEL_NOT_SUPPORTED"}
    for detail in (elsewhere, other):
        assert classify_error(google_reply(400, "INVALID_ARGUMENT", detail)).error_class == ErrorClass.INVALID_REQUEST


@pytest.mark.parametrize(
    "quota_id", ["GenerateRequestsPerDayPerProjectPerModel", "generate_requests_perday", "RequestsPERDAY"]
)
def test_a_daily_quota_is_quota_exhausted(quota_id: str) -> None:
    """A QuotaFailure whose quota id counts per day (any case) means out until tomorrow, not a short window."""
    error = classify_error(google_reply(429, "RESOURCE_EXHAUSTED", quota_failure(quota_id)))
    assert (error.error_class, error.code, error.provider) == (ErrorClass.QUOTA_EXHAUSTED, "RESOURCE_EXHAUSTED", "veo")


def test_the_daily_quota_is_found_among_several_violations_and_details() -> None:
    """A per-minute violation before the daily one, in a QuotaFailure after another detail, still counts."""
    minute = {"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}
    day = {"quotaId": "GenerateRequestsPerDayPerProjectPerModel"}
    details = ({"@type": RETRY_INFO, "retryDelay": "5s"}, {"@type": QUOTA_FAILURE, "violations": [minute, day]})
    assert classify_error(google_reply(429, "RESOURCE_EXHAUSTED", *details)).error_class == ErrorClass.QUOTA_EXHAUSTED


@pytest.mark.parametrize(
    "detail",
    [
        quota_failure("GenerateRequestsPerMinutePerProjectPerModel"),
        {"@type": QUOTA_FAILURE, "violations": [{"quotaMetric": "per_day"}]},
        {"@type": QUOTA_FAILURE},
        {"@type": QUOTA_FAILURE, "violations": ["GenerateRequestsPerDay"]},
        {"@type": QUOTA_FAILURE, "violations": {"quotaId": "GenerateRequestsPerDay"}},
        {"@type": "type.googleapis.com/google.rpc.Help", "violations": [{"quotaId": "GenerateRequestsPerDay"}]},
    ],
)
def test_a_quota_without_a_daily_quota_id_is_rate_limited(detail: dict[str, object]) -> None:
    """Only a QuotaFailure violation (an object in its list) whose `quotaId` says PerDay is a daily quota."""
    assert classify_error(google_reply(429, "RESOURCE_EXHAUSTED", detail)).error_class == ErrorClass.RATE_LIMITED


def test_a_daily_quota_id_outside_resource_exhausted_leaves_the_status_class() -> None:
    """The daily rule reads only RESOURCE_EXHAUSTED replies."""
    detail = quota_failure("GenerateRequestsPerDayPerProjectPerModel")
    assert classify_error(google_reply(503, "UNAVAILABLE", detail)).error_class == ErrorClass.UPSTREAM_UNAVAILABLE


@pytest.mark.parametrize(("delay", "seconds"), [("34s", 34.0), ("1.5s", 1.5), ("0s", 0.0)])
def test_retry_info_delay_is_the_wait(delay: str, seconds: float) -> None:
    """RetryInfo.retryDelay is a google.protobuf.Duration in JSON: seconds with an `s`, maybe a fraction."""
    reply = google_reply(429, "RESOURCE_EXHAUSTED", {"@type": RETRY_INFO, "retryDelay": delay})
    assert classify_error(reply).retry_after_s == seconds


def test_retry_info_outranks_retry_after_and_is_read_whatever_the_status() -> None:
    """The typed detail decides first; it is read on a 503 too."""
    info = {"@type": RETRY_INFO, "retryDelay": "34s"}
    assert (
        classify_error(google_reply(429, "RESOURCE_EXHAUSTED", info, headers={"Retry-After": "5"})).retry_after_s == 34
    )
    assert classify_error(google_reply(503, "UNAVAILABLE", info)).retry_after_s == 34


def test_the_first_readable_retry_delay_counts() -> None:
    """A RetryInfo without a Duration is skipped for the next one; a delay in another detail is not read."""
    details = (
        {"@type": "type.googleapis.com/google.rpc.Help", "retryDelay": "7s"},
        {"@type": RETRY_INFO},
        {"@type": RETRY_INFO, "retryDelay": "12s"},
        {"@type": RETRY_INFO, "retryDelay": "40s"},
    )
    assert classify_error(google_reply(429, "RESOURCE_EXHAUSTED", *details)).retry_after_s == 12


@pytest.mark.parametrize("delay", ["34", "s", "34ms", "x34s", "34s ", "-3s", "1.s"])
def test_a_retry_delay_that_is_not_a_duration_is_not_read(delay: str) -> None:
    """Only the whole `<seconds>s` form is a Duration; anything else leaves the wait unknown."""
    reply = google_reply(503, "UNAVAILABLE", {"@type": RETRY_INFO, "retryDelay": delay})
    assert classify_error(reply).retry_after_s is None


def test_a_429_without_retry_info_waits_for_retry_after() -> None:
    """Without RetryInfo a 429's Retry-After header (seconds, or an HTTP date from now) is the wait."""
    seconds = google_reply(429, "RESOURCE_EXHAUSTED", headers={"Retry-After": "20"})
    assert classify_error(seconds, now_s=NOW_S).retry_after_s == 20
    date = google_reply(429, "RESOURCE_EXHAUSTED", headers={"Retry-After": "Thu, 01 Jan 2026 00:01:30 GMT"})
    assert classify_error(date, now_s=NOW_S).retry_after_s == 90
    bad_delay = {"@type": RETRY_INFO, "retryDelay": "soon"}
    assert classify_error(google_reply(429, None, bad_delay, headers={"retry-after": "3"})).retry_after_s == 3


def test_retry_after_is_read_on_a_429_only() -> None:
    """Other statuses carry no wait unless RetryInfo gives one."""
    reply = google_reply(503, "UNAVAILABLE", headers={"Retry-After": "20"})
    assert classify_error(reply, now_s=NOW_S).retry_after_s is None


def test_the_message_carries_googles_text_and_statuses() -> None:
    """Google's own text and both statuses reach the message (its wording is ours and not pinned)."""
    message = classify_error(google_reply(404, "NOT_FOUND", message="models/veo-9 is not found")).message
    assert all(part in message for part in ("models/veo-9 is not found", "404", "NOT_FOUND"))


# --------------------------------------------------------------------------------------------- operation_failure


@pytest.mark.parametrize(
    ("code", "status", "error_class"),
    [
        (1, "CANCELLED", ErrorClass.INTERNAL),
        (2, "UNKNOWN", ErrorClass.INTERNAL),
        (3, "INVALID_ARGUMENT", ErrorClass.INVALID_REQUEST),
        (4, "DEADLINE_EXCEEDED", ErrorClass.UPSTREAM_UNAVAILABLE),
        (5, "NOT_FOUND", ErrorClass.INTERNAL),
        (7, "PERMISSION_DENIED", ErrorClass.AUTH),
        (8, "RESOURCE_EXHAUSTED", ErrorClass.RATE_LIMITED),
        (9, "FAILED_PRECONDITION", ErrorClass.INVALID_REQUEST),
        (13, "INTERNAL", ErrorClass.INTERNAL),
        (14, "UNAVAILABLE", ErrorClass.UPSTREAM_UNAVAILABLE),
        (16, "UNAUTHENTICATED", ErrorClass.AUTH),
    ],
)
def test_an_operation_error_is_named_by_its_grpc_code(code: int, status: str, error_class: ErrorClass) -> None:
    """An operation's `error.code` is the google.rpc.Code number; its name is the failure's code."""
    failure = operation_failure(RpcStatus(code=code, message="Video generation failed."))
    assert failure == Failure(error_class=error_class, message="Video generation failed.", code=status)


def test_an_operation_error_status_wins_over_its_code() -> None:
    """When the error carries the canonical name it is used as given."""
    failure = operation_failure(RpcStatus(code=13, status="UNAVAILABLE", message="m"))
    assert (failure.error_class, failure.code) == (ErrorClass.UPSTREAM_UNAVAILABLE, "UNAVAILABLE")


@pytest.mark.parametrize("code", [None, 0, 17, 99])
def test_an_operation_error_without_a_known_code_is_unknown_and_internal(code: int | None) -> None:
    """No code, OK (0), or a number beyond google.rpc.Code (0-16): UNKNOWN, an internal failure."""
    failure = operation_failure(RpcStatus(code=code, message="m"))
    assert (failure.error_class, failure.code) == (ErrorClass.INTERNAL, "UNKNOWN")


def test_an_operation_error_without_a_message_names_its_status() -> None:
    """The job's failure never has a blank message: it says the operation failed and how."""
    assert "DEADLINE_EXCEEDED" in operation_failure(RpcStatus(code=4)).message


# --------------------------------------------------------------------------------------------- error_capacity


@pytest.mark.parametrize(
    "error",
    [
        UpstreamRateLimited("m", provider="veo", status_code=429, retry_after_s=34.0),
        QuotaExhausted("m", provider="veo", status_code=429, retry_after_s=34.0),
    ],
)
def test_a_429_reports_the_model_out_of_capacity_until_the_wait(error: UpstreamError) -> None:
    """Gemini quotas count per project and model: the report is scoped to the model, none left, for the wait."""
    assert error_capacity(error, model="veo-3.0-generate-001") == CapacityReport(
        provider="veo", scope="model:veo-3.0-generate-001", remaining=0, retry_after_s=34.0
    )


def test_a_classified_429_reports_its_retry_info_delay() -> None:
    """From the reply: RESOURCE_EXHAUSTED with RetryInfo 34s is a report for the model with that wait."""
    error = classify_error(google_reply(429, "RESOURCE_EXHAUSTED", {"@type": RETRY_INFO, "retryDelay": "34s"}))
    report = error_capacity(error, model="veo-2.0-generate-001")
    assert report == CapacityReport(provider="veo", scope="model:veo-2.0-generate-001", remaining=0, retry_after_s=34)


@pytest.mark.parametrize(
    "error",
    [
        UpstreamUnavailable("m", provider="veo", status_code=503, retry_after_s=30.0),
        InvalidUpstreamRequest("m", provider="veo", status_code=400),
    ],
)
def test_other_errors_are_no_capacity_news(error: UpstreamError) -> None:
    """Only a rate limit or a quota speaks of capacity."""
    assert error_capacity(error, model="veo-3.0-generate-001") is None

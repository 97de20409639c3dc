"""Pure videogenapi reply translation: status bodies (fixtures/SOURCES.md: seed or ours) through parse_status,
error bodies through classify_error (the 429 split), and usage counters through parse_capacity. No I/O beyond
fixture files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers.contract import (
    CapacityReport,
    ErrorClass,
    GenerationRequest,
    InvalidUpstreamRequest,
    ProviderSettings,
    QuotaExhausted,
    Reply,
    Scene,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.videogenapi import build_user, classify_error, parse_capacity, parse_status, parse_submit, parse_user

FIXTURES = Path(__file__).parent / "fixtures"
NOW_S = 1_760_000_000.0
SETTINGS = ProviderSettings(base_url="https://videogenapi.test", api_key="vga-key")


def fixture_reply(name: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=(FIXTURES / name).read_bytes())


def reply(status_code: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status_code=status_code, headers=headers or {}, body=body)


# --------------------------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("name", "status", "progress"),
    [
        ("status_pending.json", "queued", 0),
        ("status_in_queue.json", "queued", 0),
        ("status_in_progress.json", "in_progress", None),
        ("status_processing.json", "in_progress", None),
    ],
)
def test_parse_status_maps_the_running_states(name: str, status: str, progress: int | None) -> None:
    """pending and in_queue are queued; in_progress and the defensive `processing` are in progress."""
    parsed = parse_status(fixture_reply(name))
    assert (parsed.status, parsed.progress, parsed.output, parsed.failure) == (status, progress, None, None)


def test_parse_status_completed_reads_the_public_video_url_and_keeps_completed_at_verbatim() -> None:
    """Seed 002's completed body yields its video URL; `completed_at` stays the tz-less text, never a timestamp."""
    parsed = parse_status(fixture_reply("status_completed.json"))
    assert (parsed.status, parsed.progress) == ("completed", 100)
    assert parsed.output is not None
    assert parsed.output.video_url == "https://videogenapi.com/api/v1/video/gen_686717fe97bd3_055867"
    assert parsed.output.expires_at is None
    assert parsed.output.provenance == {"completed_at": "2025-01-04 00:08:42", "seed": "622177285"}


def test_parse_status_succeeded_is_accepted_as_completed() -> None:
    """The defensive `succeeded` spelling completes like `completed`."""
    parsed = parse_status(fixture_reply("status_succeeded.json"))
    assert parsed.output is not None
    assert (parsed.status, parsed.output.video_url) == (
        "completed",
        "https://videogenapi.com/api/v1/video/gen_686717fe97bd3_055867",
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("status_failed_error.json", "Video generation failed. Please try again."),
        ("status_failed_message.json", "Upstream model returned no video"),
        ("status_failed_reason.json", "Prompt rejected by the model provider"),
        ("status_failed_error_object.json", "Out of GPU memory"),
        ("status_error.json", "Internal processing error"),
        ("status_failed_without_reason.json", "videogenapi reported failed"),
    ],
)
def test_parse_status_failed_reads_error_then_message_then_failed_reason(name: str, message: str) -> None:
    """failed (or `error`) is an internal failure whose reason comes from error, message or failed_reason."""
    parsed = parse_status(fixture_reply(name))
    assert parsed.status == "failed"
    assert parsed.failure is not None
    assert (parsed.failure.error_class, parsed.failure.message) == (ErrorClass.INTERNAL, message)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("status_unknown.json", "'cancelled'"),
        ("status_completed_without_video_url.json", "video_url"),
        ("status_error_in_2xx.json", "Generation not found"),
    ],
)
def test_parse_status_undocumented_shapes_are_protocol_errors(name: str, match: str) -> None:
    """An unknown status word, a completion without a URL or a bare error body never get a default."""
    with pytest.raises(UpstreamProtocolError, match=match):
        parse_status(fixture_reply(name))


def test_parse_status_non_json_body_is_a_protocol_error() -> None:
    """A 200 that is not JSON is not a pending job."""
    with pytest.raises(UpstreamProtocolError):
        parse_status(reply(200, b"<html>ok</html>"))


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("name", "status_code", "expected"),
    [
        ("error_400_missing_prompt.json", 400, InvalidUpstreamRequest),
        ("error_400_invalid_model.json", 400, InvalidUpstreamRequest),
        ("error_400_content_policy.json", 400, InvalidUpstreamRequest),
        ("error_401_invalid_api_key.json", 401, UpstreamAuthError),
        ("error_404_generation_not_found.json", 404, InvalidUpstreamRequest),
        ("error_500_internal.json", 500, UpstreamInternalError),
    ],
)
def test_classify_error_maps_each_documented_status(name: str, status_code: int, expected: type[UpstreamError]) -> None:
    """Seed 002's error table (400, 401, 404, 500) maps by status; the vendor's text is kept in the message."""
    error = classify_error(fixture_reply(name, status_code))
    assert type(error) is expected
    assert (error.status_code, error.provider, error.code) == (status_code, "videogenapi", None)
    assert str(status_code) in error.message


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [(400, InvalidUpstreamRequest), (403, UpstreamAuthError), (500, UpstreamInternalError)]
    + [(code, UpstreamUnavailable) for code in (502, 503, 504)],
)
def test_classify_error_non_json_body_is_classified_by_status(status_code: int, expected: type[UpstreamError]) -> None:
    """A proxy's HTML page maps by HTTP status alone."""
    error = classify_error(reply(status_code, b"<html>Bad Gateway</html>"))
    assert type(error) is expected
    assert "no error message" in error.message


def test_classify_error_sora2_429_is_rate_limited_until_the_window_resets() -> None:
    """Seed 004's one-hour window is a rate limit; the retry hint is `details.seconds_until_reset`."""
    error = classify_error(fixture_reply("error_429_sora2_rate_limit.json", 429), now_s=NOW_S)
    assert type(error) is UpstreamRateLimited
    assert (error.retry_after_s, error.code) == (3247, "rate_limit_exceeded")
    assert "Sora-2 rate limit exceeded" in error.message


@pytest.mark.parametrize("name", ["error_429_monthly_limit.json", "error_429_daily_limit.json"])
def test_classify_error_monthly_or_daily_429_is_quota_exhausted(name: str) -> None:
    """A 429 for the monthly allowance (usage at the limit) or a daily limit is quota, not a short wait."""
    error = classify_error(fixture_reply(name, 429))
    assert type(error) is QuotaExhausted
    assert error.code == "usage_limit_exceeded"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": "Too many", "usage": {"current_month_usage": 50, "monthly_limit": 50}}', QuotaExhausted),
        (b'{"error": "Too many", "usage": {"current_month_usage": 49, "monthly_limit": 50}}', UpstreamRateLimited),
        (b'{"error": "Limit", "details": {"window": "1 day", "seconds_until_reset": 9000}}', QuotaExhausted),
        (b'{"error": "Limit", "details": {"window": "15 minutes", "seconds_until_reset": 60}}', UpstreamRateLimited),
        (b'{"error": "Limit", "message": "daily cap", "details": {"window": "1 hour"}}', UpstreamRateLimited),
    ],
    ids=["usage-at-limit", "usage-below-limit", "day-window", "minutes-window", "short-window-wins-over-words"],
)
def test_classify_error_429_split_decides_by_counters_then_window_then_words(
    body: bytes, expected: type[UpstreamError]
) -> None:
    """Exhausted monthly usage is quota; otherwise a short window is a rate limit and a day-long one quota."""
    assert type(classify_error(reply(429, body))) is expected


def test_classify_error_429_window_hint_wins_over_retry_after() -> None:
    """`details.seconds_until_reset` is preferred to a Retry-After header."""
    body = b'{"error": "Limit", "details": {"window": "1 hour", "seconds_until_reset": 120}}'
    assert classify_error(reply(429, body, {"Retry-After": "5"})).retry_after_s == 120


def test_classify_error_bare_429_reads_retry_after_seconds() -> None:
    """A 429 without a body is rate-limited with the Retry-After delay, or no hint when there is none."""
    assert classify_error(reply(429, b"", {"retry-after": "30"})).retry_after_s == 30.0
    assert classify_error(reply(429, b"")).retry_after_s is None


def test_classify_error_429_retry_after_http_date_is_measured_from_the_date_header() -> None:
    """An HTTP-date Retry-After counts from the reply's own Date."""
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT", "Date": "Wed, 21 Oct 2015 07:28:00 GMT"}
    assert classify_error(reply(429, b"{}", headers)).retry_after_s == 120.0


# --------------------------------------------------------------------------------------------- headroom


def test_parse_capacity_reads_monthly_usage_from_the_accepted_reply() -> None:
    """Seed 002's `usage` becomes the month's used, limit and remaining."""
    found = parse_capacity(fixture_reply("generate.json"), model="kling_25", now_s=NOW_S)
    assert found == (CapacityReport(provider="videogenapi", scope="month", used=1, limit=100, remaining=99),)


def test_parse_capacity_reads_the_undocumented_rate_limit_object_per_model() -> None:
    """An accepted reply's `rate_limit` adds the model's window, resetting `seconds_until_reset` from now."""
    found = parse_capacity(fixture_reply("generate_with_rate_limit.json"), model="sora-2", now_s=NOW_S)
    assert found[1] == CapacityReport(
        provider="videogenapi", scope="model:sora-2", used=4, limit=10, remaining=6, reset_at=NOW_S + 1800
    )


def test_parse_capacity_reports_an_exhausted_model_window_from_the_sora2_429() -> None:
    """The documented 429 leaves the model's window at zero with the reset wait as the retry hint."""
    found = parse_capacity(fixture_reply("error_429_sora2_rate_limit.json", 429), model="sora-2", now_s=NOW_S)
    assert found == (
        CapacityReport(
            provider="videogenapi",
            scope="model:sora-2",
            used=10,
            limit=10,
            remaining=0,
            reset_at=NOW_S + 3247,
            retry_after_s=3247,
        ),
    )


def test_parse_capacity_reports_an_exhausted_month_from_the_monthly_429() -> None:
    """The monthly 429's usage leaves the month at zero remaining."""
    found = parse_capacity(fixture_reply("error_429_monthly_limit.json", 429), model="kling_25", now_s=NOW_S)
    assert found == (CapacityReport(provider="videogenapi", scope="month", used=100, limit=100, remaining=0),)


@pytest.mark.parametrize(
    ("name", "headers", "expected"),
    [
        ("error_429_daily_limit.json", {}, CapacityReport(provider="videogenapi", scope="month", remaining=0)),
        (
            None,
            {"Retry-After": "30"},
            CapacityReport(provider="videogenapi", scope="model:seedance", remaining=0, retry_after_s=30),
        ),
    ],
    ids=["daily-words", "bare-with-retry-after"],
)
def test_parse_capacity_429_without_counters_still_reports_the_exhausted_scope(
    name: str | None, headers: dict[str, str], expected: CapacityReport
) -> None:
    """A 429 that carries no counters reports zero remaining in the scope its classification names."""
    source = fixture_reply(name, 429, headers) if name else reply(429, b"", headers)
    assert parse_capacity(source, model="seedance", now_s=NOW_S) == (expected,)


@pytest.mark.parametrize("source", [fixture_reply("status_completed.json"), reply(200, b"not json")])
def test_parse_capacity_finds_nothing_in_replies_without_counters(source: Reply) -> None:
    """A status reply or a non-JSON body reports no headroom."""
    assert parse_capacity(source, model="kling_25", now_s=NOW_S) == ()


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("1 hour", UpstreamRateLimited),
        ("hour", UpstreamRateLimited),
        ("23 hours", UpstreamRateLimited),
        ("24 hours", QuotaExhausted),
        ("48 HR", QuotaExhausted),
        ("2 H", UpstreamRateLimited),
        ("90 seconds", UpstreamRateLimited),
        ("30 min", UpstreamRateLimited),
        ("1 week", QuotaExhausted),
    ],
)
def test_a_429_window_shorter_than_a_day_is_a_rate_limit(window: str, expected: type[UpstreamError]) -> None:
    """Seed 004's `details.window` ("1 hour"): under 24 hours (any case, any unit spelling) resets soon; a day or
    more, or a unit we do not know, is the allowance."""
    body = b'{"error": "Limit", "details": {"window": "%s"}}' % window.encode()
    assert type(classify_error(reply(429, body))) is expected


def test_a_window_of_24_hours_or_more_is_a_usage_limit_in_every_hour_spelling() -> None:
    """Windows of "24h", "24 hr" and "48 hours" are a day or more: quota, not a short rate window (§3.5)."""
    for window in ("24h", "24 hr", "48 hours"):
        body = json.dumps({"error": "Rate limit exceeded", "details": {"window": window}}).encode()
        assert type(classify_error(reply(429, body))) is QuotaExhausted, window


def test_a_429_says_monthly_or_daily_in_its_error_or_its_message() -> None:
    """Without counters or a window, the words decide: in `error` or in `message`, either is enough."""
    assert type(classify_error(reply(429, b'{"error": "Monthly limit reached"}'))) is QuotaExhausted
    assert type(classify_error(reply(429, b'{"error": "Limit", "message": "daily cap"}'))) is QuotaExhausted
    assert type(classify_error(reply(429, b'{"error": "Slow down", "message": "try later"}'))) is UpstreamRateLimited


def test_a_429_carries_its_status_provider_and_the_date_relative_wait() -> None:
    """The 429 keeps status 429 and the provider's name; an HTTP-date Retry-After is measured from `now_s` when
    the reply has no Date."""
    error = classify_error(reply(429, b"{}", {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}), now_s=1445412480.0)
    assert (error.status_code, error.provider, error.retry_after_s) == (429, "videogenapi", 120.0)


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (500, UpstreamInternalError),
        (501, UpstreamUnavailable),
        (502, UpstreamUnavailable),
        (418, InvalidUpstreamRequest),
    ],
)
def test_statuses_around_500_map_to_their_classes(status_code: int, expected: type[UpstreamError]) -> None:
    """500 is the provider's own failure; above it, unavailable; a 4xx is our request."""
    assert type(classify_error(reply(status_code, b"{}"))) is expected


# --------------------------------------------------------------------------------------------- counter and echo edges


def test_the_user_call_is_an_account_read() -> None:
    """`GET /v1/user` is spent as an account call, not a generation or a poll."""
    assert build_user(SETTINGS).operation == "account"


def test_a_user_reply_without_usage_reports_the_month_scope_with_no_figures() -> None:
    """The reply proves the key works; it states no counters, so none are invented."""
    assert parse_user(reply(200, b'{"email": "a@b.test"}')) == CapacityReport(provider="videogenapi", scope="month")


def test_a_user_reply_that_is_not_json_is_a_videogenapi_protocol_error() -> None:
    """A proxy's HTML page on `/user` names the provider and the reply's status."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_user(reply(200, b"<html>Bad Gateway</html>"))
    assert (raised.value.provider, raised.value.status_code) == ("videogenapi", 200)


def test_usage_without_a_monthly_limit_has_no_remaining_figure() -> None:
    """Used 12 of an unstated limit: nothing can be said about what remains."""
    assert parse_user(reply(200, b'{"usage": {"current_month_usage": 12}}')) == CapacityReport(
        provider="videogenapi", scope="month", used=12
    )


def test_a_window_without_a_limit_or_a_reset_reports_only_its_use() -> None:
    """The undocumented 200 `rate_limit` with a count alone: no remaining figure, no reset time."""
    found = parse_capacity(reply(200, b'{"rate_limit": {"current_usage": 3}}'), model="sora-2", now_s=NOW_S)
    assert found == (CapacityReport(provider="videogenapi", scope="model:sora-2", used=3),)


def test_a_429_without_counters_waits_out_its_retry_after_date_measured_from_now() -> None:
    """No counters, `Retry-After` an HTTP date 30 s after `now_s`: the exhausted window waits 30 s."""
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:30:00 GMT"}
    found = parse_capacity(reply(429, b'{"error": "Too many requests"}', headers), model="kling", now_s=1445412570.0)
    assert found == (CapacityReport(provider="videogenapi", scope="model:kling", remaining=0, retry_after_s=30.0),)


def test_a_model_echoed_as_a_plain_string_is_read_as_the_model_key() -> None:
    """Seed 002 echoes `model` as an object; the wire also takes a bare string key (no seed shows one), read alike."""
    request = GenerationRequest(upstream_model="veo3", scenes=(Scene(prompt="waves"),))
    job = parse_submit(reply(200, b'{"success": true, "generation_id": "gen_1", "model": "veo3-fast"}'), request)
    assert (job.upstream_model, job.requested_model) == ("veo3-fast", "veo3")


def test_a_completed_job_without_a_seed_records_none() -> None:
    """Provenance names the seed only when the vendor reports one."""
    body = b'{"status": "completed", "video_url": "https://cdn.videogenapi.test/v.mp4"}'
    output = parse_status(reply(200, body)).output
    assert output is not None
    assert output.provenance == {}


def test_a_completed_job_without_a_video_url_is_a_protocol_error_naming_provider_and_status() -> None:
    """The error of a reply the adapter cannot read carries the provider and the HTTP status it came with."""
    with pytest.raises(UpstreamProtocolError) as raised:
        parse_status(reply(200, b'{"status": "completed"}'))
    assert (raised.value.provider, raised.value.status_code) == ("videogenapi", 200)

"""OpenAI-shaped error replies (docs/providers.md §11.3) to the upstream error taxonomy, and the rate-limit headers
to capacity reports; pure, no I/O or clock. The envelope's `code` decides where it names the problem; else the
HTTP status."""

from __future__ import annotations

import re

import msgspec

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
    UpstreamUnavailable,
)
from providers.http_headers import header, retry_after_s
from providers.openai.wire import ApiError, ErrorEnvelope

# OpenAI's moderation refusal (`moderation_blocked`, the Sora guide) and the older images/Azure code
# (`content_policy_violation`); `content_policy` is another video-gateway's own class.
CONTENT_POLICY_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_policy"})
# A 429 that is the account's money, not a moving window: OpenAI's `insufficient_quota`; another gateway's
# `quota_exceeded`.
QUOTA_CODES = frozenset({"insufficient_quota", "quota_exceeded"})
_DURATION_PART = re.compile(r"(?P<value>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _decode(body: bytes) -> ApiError:
    try:
        envelope = msgspec.json.decode(body, type=ErrorEnvelope)
    except msgspec.DecodeError:
        return ApiError()  # an HTML page from a proxy: the status alone decides
    return envelope.error or ApiError()


def reset_duration_s(value: str | None) -> float | None:
    """`x-ratelimit-reset-requests` as seconds: OpenAI writes durations like `1s`, `6m0s`, `20ms`."""
    text = (value or "").strip()
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(part.group(0) for part in parts) != text:
        return None
    return sum(float(part["value"]) * _UNIT_S[part["unit"]] for part in parts)


def wait_s(headers: dict[str, str], now_s: float | None) -> float | None:
    """How long a 429 asks us to wait: `retry-after-ms` (Azure), `retry-after`, then the requests reset."""
    millis = header(headers, "retry-after-ms")
    if millis is not None and millis.strip().replace(".", "", 1).isdigit():
        return float(millis) / 1000
    after = retry_after_s(headers, now_s)
    return after if after is not None else reset_duration_s(header(headers, "x-ratelimit-reset-requests"))


def _error_class(status: int, error: ApiError) -> type[UpstreamError]:
    if status == 400 and (error.code in CONTENT_POLICY_CODES or error.type in CONTENT_POLICY_CODES):
        return ContentPolicyError
    if status in (401, 403):
        return UpstreamAuthError
    if status == 402:  # not OpenAI's; another gateway's `quota_exceeded` [inference]
        return QuotaExhausted
    if status == 500:
        return UpstreamInternalError
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def classify_error(reply: Reply, *, provider: str, now_s: float | None = None) -> UpstreamError:
    """Map an error reply to its class by its envelope `code` and HTTP status; a 429 carries its wait."""
    error = _decode(reply.body)
    text = error.message or "no error message"
    message = f"{provider} replied {reply.status_code}: {text}"
    if reply.status_code == 429:
        limited = QuotaExhausted if error.code in QUOTA_CODES or error.type in QUOTA_CODES else UpstreamRateLimited
        return limited(
            message, provider=provider, status_code=429, code=error.code, retry_after_s=wait_s(reply.headers, now_s)
        )
    error_type = _error_class(reply.status_code, error)
    return error_type(message, provider=provider, status_code=reply.status_code, code=error.code)


def _count(headers: dict[str, str], name: str) -> int | None:
    value = (header(headers, name) or "").strip()
    return int(value) if value.isdigit() else None


def parse_capacity(reply: Reply, *, provider: str, scope: str, now_s: float) -> tuple[CapacityReport, ...]:
    """The `x-ratelimit-{limit,remaining,reset}-requests` headers as the window of the call's operation (`scope`:
    the emulator, like OpenAI's per-model RPM on video creates, counts creates); a 429 without them still reports
    that scope exhausted for its wait."""
    headers = reply.headers
    limit = _count(headers, "x-ratelimit-limit-requests")
    remaining = _count(headers, "x-ratelimit-remaining-requests")
    reset_s = reset_duration_s(header(headers, "x-ratelimit-reset-requests"))
    limited = reply.status_code == 429
    if limit is None and remaining is None and not limited:
        return ()
    wait = wait_s(headers, now_s) if limited else None
    return (
        CapacityReport(
            provider=provider,
            scope=scope,
            limit=limit,
            remaining=0 if limited and remaining is None else remaining,
            reset_at=None if reset_s is None else now_s + reset_s,
            retry_after_s=wait if wait is not None else (reset_s if remaining == 0 else None),
        ),
    )

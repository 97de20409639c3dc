"""NanoGPT error replies (providers.md §4.6, §6.2) to the upstream error taxonomy; pure, no I/O or clock.
Three envelopes coexist; a vendor `code` or video-guide `type` decides before the HTTP status, never a message."""

from __future__ import annotations

import msgspec

from providers.contract import (
    CapacityReport,
    ContentPolicyError,
    InvalidUpstreamRequest,
    Operation,
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
from providers.http_headers import retry_after_s
from providers.nanogpt.wire import SLUG, ErrorObject, ErrorReply

SCOPE_BALANCE = "balance"  # prepaid USD balance (§4.8)
SCOPE_DAILY = "daily"  # optional per-key daily request / USD caps, reset 00:00 UTC (§4.7)
SCOPE_RATE = "rate"  # throughput: 50 submits/min, 25 requests/s per account (§4.7)
_DAILY_CODES = frozenset({"daily_rpd_limit_exceeded", "daily_usd_limit_exceeded"})
_DAY_S = 86_400.0

# §4.6: video-guide `type`s (uppercase) and OpenAI-style `code`s, each to its §6.2 class.
_CODE_CLASSES: dict[str, type[UpstreamError]] = {
    "CONTENT_POLICY_VIOLATION": ContentPolicyError,
    "content_policy_violation": ContentPolicyError,
    "PRO_REQUIRED": QuotaExhausted,
    "INSUFFICIENT_BALANCE": QuotaExhausted,
    "insufficient_balance": QuotaExhausted,
    "RATE_LIMITED": UpstreamRateLimited,
    "rate_limit_exceeded": UpstreamRateLimited,
    "daily_rpd_limit_exceeded": QuotaExhausted,
    "daily_usd_limit_exceeded": QuotaExhausted,
    "api_key_origin_not_allowed": UpstreamAuthError,
    "model_not_found": InvalidUpstreamRequest,
    # OpenAPI video input codes (§4.6 table, 400 row)
    "video_input_not_supported": InvalidUpstreamRequest,
    "invalid_video_url_scheme": InvalidUpstreamRequest,
    "invalid_video_data_url": InvalidUpstreamRequest,
    "invalid_video_base64": InvalidUpstreamRequest,
    "invalid_video_mime_type": InvalidUpstreamRequest,
    "missing_video_source": InvalidUpstreamRequest,
    "video_attachment_too_large": InvalidUpstreamRequest,
}
_STATUS_CLASSES: dict[int, type[UpstreamError]] = {
    400: InvalidUpstreamRequest,
    401: UpstreamAuthError,
    402: QuotaExhausted,
    403: UpstreamAuthError,
    404: InvalidUpstreamRequest,
    408: UpstreamTimeout,
    409: InvalidUpstreamRequest,
    413: InvalidUpstreamRequest,
    429: UpstreamRateLimited,
    500: UpstreamInternalError,
    504: UpstreamTimeout,
}


def error_message(error: ErrorObject | str | int | None, fallback: str | None) -> str | None:
    """§4.6: `error.message`, else `error` when it is a string, else the top-level `message`."""
    if isinstance(error, ErrorObject) and error.message:
        return error.message
    return error if isinstance(error, str) and error else fallback


def _vendor_code(body: ErrorReply) -> str | None:
    """The most specific code the body names: an OpenAI `code`, else a video-guide `type` found in the table."""
    error = body.error
    if not isinstance(error, ErrorObject):
        return None
    if error.code:
        return error.code
    return error.type if error.type in _CODE_CLASSES else None


def _status_of(reply: Reply, body: ErrorReply) -> int:
    """The HTTP status, or for an error carried in a 2xx the status the body itself names (legacy shapes)."""
    if reply.status_code >= 400:
        return reply.status_code
    for named in (body.status, body.error):
        if isinstance(named, int) and named >= 400:
            return named
    return reply.status_code


def _class_for(status: int, code: str | None, operation: Operation) -> type[UpstreamError]:
    if code in _CODE_CLASSES:
        return _CODE_CLASSES[code]
    if status == 403 and operation == Operation.STATUS:
        return InvalidUpstreamRequest  # §4.5: the status route's 403 means "this job isn't yours"
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def _hint_s(reply: Reply, code: str | None, now_s: float | None) -> float | None:
    hint = retry_after_s(reply.headers, now_s)
    if hint is None and code in _DAILY_CODES and now_s is not None:
        hint = _DAY_S - now_s % _DAY_S  # §4.7: daily caps reset at 00:00 UTC
    return hint


def _decode(reply: Reply) -> ErrorReply:
    try:
        return msgspec.json.decode(reply.body, type=ErrorReply)
    except msgspec.DecodeError:
        return ErrorReply()  # e.g. a proxy's HTML page: the status alone decides


def classify_error(
    reply: Reply, *, operation: Operation = Operation.GENERATE, now_s: float | None = None
) -> UpstreamError:
    """Map an error reply (or a 2xx carrying an error) to its class: by vendor code, then by HTTP status.

    `operation` is "generate" or "status" (the status route's 403 differs); `now_s` is unix time."""
    body = _decode(reply)
    status = _status_of(reply, body)
    code = _vendor_code(body)
    error_type = _class_for(status, code, operation)
    if code is None and status == 402:
        code = "insufficient_balance"  # legacy `{"error":"Insufficient balance","requiredBalance":…}`
    detail = error_message(body.error, body.message) or "no error message"
    text = f"nanogpt replied {reply.status_code}: {detail}"
    if error_type is UpstreamTimeout:
        timeout = UpstreamTimeout(text, provider=SLUG, outcome_unknown=True)  # 408/504: it may still run
        timeout.status_code, timeout.code = reply.status_code, code
        return timeout
    # §4.6: "retry 408/429/500/503 with backoff and `Retry-After`": a wait is read from any error reply.
    hint = _hint_s(reply, code, now_s)
    return error_type(text, provider=SLUG, status_code=reply.status_code, code=code, retry_after_s=hint)


def error_capacity(error: UpstreamError) -> CapacityReport | None:
    """What an error says about capacity: an empty balance, a spent daily cap or a full request window."""
    if error.code in _DAILY_CODES:
        return CapacityReport(provider=SLUG, scope=SCOPE_DAILY, remaining=0, retry_after_s=error.retry_after_s)
    if error.code in ("insufficient_balance", "INSUFFICIENT_BALANCE"):
        return CapacityReport(provider=SLUG, scope=SCOPE_BALANCE, remaining=0)
    if isinstance(error, UpstreamRateLimited):
        return CapacityReport(provider=SLUG, scope=SCOPE_RATE, remaining=0, retry_after_s=error.retry_after_s)
    return None

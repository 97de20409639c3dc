"""videogenapi error replies (providers.md §3.5, §6.2) to the upstream error taxonomy; pure, no I/O or clock.
The vendor sends no error codes: the HTTP status decides, and a 429 is split by its body (window or usage)."""

from __future__ import annotations

import re

import msgspec

from providers.contract import (
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
from providers.http_headers import retry_after_s
from providers.videogenapi.wire import SLUG, ErrorReply, error_text

CODE_RATE_LIMITED = "rate_limit_exceeded"
CODE_USAGE_LIMIT = "usage_limit_exceeded"
# A window shorter than a day resets soon: seed 004's Sora-2 429 says `"window": "1 hour"`.
_SHORT_WINDOW = re.compile(r"\s*(?P<count>\d+)?\s*(?P<unit>s|sec|second|min|minute|h|hr|hour)s?\s*", re.IGNORECASE)
# providers.md §3.5 [inference]: a monthly or daily usage limit is quota, not a short rate window.
_LONG_LIMIT = re.compile(r"\b(month|monthly|day|daily)\b", re.IGNORECASE)


def _decode(body: bytes) -> ErrorReply:
    try:
        return msgspec.json.decode(body, type=ErrorReply)
    except msgspec.DecodeError:
        return ErrorReply()  # e.g. an HTML page from a proxy: the status alone decides


def _error_class(status: int) -> type[UpstreamError]:
    """providers.md §6.2, videogenapi column; 403 is undocumented and treated like 401 (the credential)."""
    if status in (401, 403):
        return UpstreamAuthError
    if status == 500:
        return UpstreamInternalError
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def _short_window(window: str) -> bool:
    match = _SHORT_WINDOW.fullmatch(window)
    if match is None:
        return False
    hours = match["unit"].lower() in ("h", "hr", "hour")
    return not hours or int(match["count"] or 1) < 24


def is_usage_limit(body: ErrorReply) -> bool:
    """A 429 that is the monthly/daily allowance (quota) rather than a short per-model window (§3.5)."""
    used, limit = (body.usage.current_month_usage, body.usage.monthly_limit) if body.usage else (None, None)
    if used is not None and limit is not None and used >= limit:
        return True
    window = body.details.window if body.details else None
    if window is not None:
        return not _short_window(window)
    return _LONG_LIMIT.search(f"{error_text(body.error) or ''} {body.message or ''}") is not None


def _describe(reply: Reply, body: ErrorReply) -> str:
    parts = [text for text in (error_text(body.error), body.message) if text]
    return f"{SLUG} replied {reply.status_code}: {': '.join(parts) or 'no error message'}"


def _limited(reply: Reply, body: ErrorReply, now_s: float | None) -> UpstreamError:
    details = body.details
    wait_s = details.seconds_until_reset if details else None
    if wait_s is None:
        wait_s = retry_after_s(reply.headers, now_s)
    error_type, code = (
        (QuotaExhausted, CODE_USAGE_LIMIT) if is_usage_limit(body) else (UpstreamRateLimited, CODE_RATE_LIMITED)
    )
    return error_type(_describe(reply, body), provider=SLUG, status_code=429, code=code, retry_after_s=wait_s)


def classify_error(reply: Reply, *, now_s: float | None = None) -> UpstreamError:
    """Map an error reply (or a 2xx that carries only an error) to its class, by HTTP status and 429 body."""
    body = _decode(reply.body)
    if reply.status_code == 429:
        return _limited(reply, body, now_s)
    error_type = _error_class(reply.status_code)
    return error_type(_describe(reply, body), provider=SLUG, status_code=reply.status_code)

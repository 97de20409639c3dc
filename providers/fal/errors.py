"""fal error replies to the upstream error taxonomy (docs/providers.md §fal); pure, no I/O or clock.
Model errors are a `detail` list whose items carry a machine `type`; request errors a string `detail` and an
`error_type`: the class comes from the HTTP status and those codes, never from the message."""

from __future__ import annotations

import msgspec

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
from providers.fal.wire import CONTENT_POLICY_VIOLATION, SLUG, ErrorItem, ErrorReply
from providers.http_headers import retry_after_s

# A locked account answers 403 with this reason and no code (fal-ai/fal issues #1112, #1147: "User is locked.
# Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."): the one place a message decides.
EXHAUSTED_BALANCE = "Exhausted balance"
CODE_EXHAUSTED_BALANCE = "exhausted_balance"


def decode_error(body: bytes) -> ErrorReply | None:
    """The error body, or None when it is not fal's JSON (a proxy's HTML page, say)."""
    try:
        return msgspec.json.decode(body, type=ErrorReply)
    except msgspec.DecodeError:
        return None


def _items(body: ErrorReply | None) -> list[ErrorItem]:
    return body.detail if body is not None and isinstance(body.detail, list) else []


def error_code(body: ErrorReply | None) -> str | None:
    """The machine code: the first model error's `type`, else the request error's `error_type`."""
    codes = [item.type for item in _items(body) if item.type]
    return codes[0] if codes else (body.error_type if body is not None else None)


def describe(reply: Reply, body: ErrorReply | None) -> str:
    """`fal replied 422: body.prompt: The content was flagged...` - locations and messages, never the `input`."""
    if body is not None and isinstance(body.detail, str):
        text = body.detail
    else:
        parts = [".".join(str(part) for part in item.loc) + f": {item.msg}" for item in _items(body) if item.msg]
        text = "; ".join(parts)
    return f"{SLUG} replied {reply.status_code}: {text or 'no error detail'}"


def _error_class(status: int, body: ErrorReply | None) -> type[UpstreamError]:
    """By HTTP status (fal's error pages give 4xx as the caller's, 5xx as fal's or the runner's)."""
    if status == 422 and any(item.type == CONTENT_POLICY_VIOLATION for item in _items(body)):
        return ContentPolicyError
    if status == 401:
        return UpstreamAuthError
    if status == 403:
        locked = body is not None and isinstance(body.detail, str) and EXHAUSTED_BALANCE in body.detail
        return QuotaExhausted if locked else UpstreamAuthError
    if status == 402:
        return QuotaExhausted  # undocumented; payment required is the account's balance [inference]
    if status == 429:
        return UpstreamRateLimited
    if status == 500:
        return UpstreamInternalError
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def classify_error(reply: Reply, *, now_s: float | None = None) -> UpstreamError:
    """Map an error reply to its class by HTTP status and fal's error codes."""
    body = decode_error(reply.body)
    error_type = _error_class(reply.status_code, body)
    code = error_code(body)
    if error_type is QuotaExhausted and reply.status_code == 403:
        code = CODE_EXHAUSTED_BALANCE
    # fal documents no rate-limit reply for the queue (over-limit requests wait); a 429's Retry-After is read
    # in case one comes [inference].
    wait_s = retry_after_s(reply.headers, now_s) if reply.status_code == 429 else None
    return error_type(
        describe(reply, body), provider=SLUG, status_code=reply.status_code, code=code, retry_after_s=wait_s
    )

"""Vidgen error replies (seed 000 "Error Handling") to the upstream error taxonomy; pure, no I/O or clock.
Vidgen has no error codes, so the documented strings are the only signal beyond the HTTP status."""

from __future__ import annotations

import re

import msgspec

from providers.contract import (
    ContentPolicyError,
    InvalidUpstreamRequest,
    Reply,
    UpstreamAuthError,
    UpstreamError,
    UpstreamInternalError,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from providers.http_headers import retry_after_s as _retry_after_s
from providers.vidgen.wire import SLUG, ErrorReply

# seed 000 "Error Handling" table: the exact `error` string -> (its documented HTTP status, our code).
_KNOWN_ERRORS: dict[str, tuple[int, str]] = {
    "Missing action": (400, "missing_action"),
    "scenes array is required": (400, "scenes_required"),
    "Each scene requires a prompt": (400, "scene_prompt_required"),
    "Content blocked": (400, "content_blocked"),
    "Bad ID": (400, "bad_id"),
    "Missing or invalid Authorization header": (401, "missing_authorization"),
    "Invalid API key": (401, "invalid_api_key"),
    "API key is disabled": (401, "api_key_disabled"),
    "No models configured": (500, "no_models_configured"),
    "Generation failed": (502, "generation_failed"),
    "Enhancement failed": (502, "enhancement_failed"),
}
_TOO_MANY_SCENES = re.compile(r"Maximum \d+ scenes allowed")  # seed 000: "Maximum N scenes allowed"
_BLOCKED_PREFIX = "Content blocked — "  # seed 000 "Completed (Blocked)": "Content blocked — flagged for: …"


def known_error(message: str | None) -> tuple[int, str] | None:
    """(documented HTTP status, code) of a documented vendor error string, else None."""
    if message is None:
        return None
    if message in _KNOWN_ERRORS:
        return _KNOWN_ERRORS[message]
    if _TOO_MANY_SCENES.fullmatch(message):
        return 400, "too_many_scenes"
    return (400, "content_blocked") if message.startswith(_BLOCKED_PREFIX) else None


def _error_class(status: int, code: str | None) -> type[UpstreamError]:
    if status == 400 and code == "content_blocked":
        return ContentPolicyError
    if status == 401:
        return UpstreamAuthError
    if status == 429:
        return UpstreamRateLimited
    if status == 500:
        return UpstreamInternalError
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def classify_error(reply: Reply, *, now_s: float | None = None) -> UpstreamError:
    """Map an error reply, or a 2xx body carrying `error`, to its class: by HTTP status, then by string."""
    try:
        message = msgspec.json.decode(reply.body, type=ErrorReply).error
    except msgspec.DecodeError:
        message = None  # e.g. an HTML page from a proxy: the status alone decides
    known = known_error(message)
    # A 2xx carrying a documented error string is classified as that string's documented status.
    status = known[0] if known is not None and reply.status_code < 400 else reply.status_code
    code = known[1] if known else None
    error_type = _error_class(status, code)
    retry_after_s = _retry_after_s(reply.headers, now_s) if error_type is UpstreamRateLimited else None
    text = f"vidgen replied {reply.status_code}: {message or 'no error message'}"
    return error_type(text, provider=SLUG, status_code=reply.status_code, code=code, retry_after_s=retry_after_s)

"""VideoGen error replies (providers.md §2.5, §6.2), failed-execution errors (§2.4) and the `X-RateLimit-*`
headers of every reply (§2.6) to the upstream taxonomy; pure: no I/O, env or clock (`now_s` is passed in)."""

from __future__ import annotations

import re

import msgspec

from providers.contract import (
    CapacityReport,
    ContentPolicyError,
    ErrorClass,
    Failure,
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
from providers.http_headers import header
from providers.http_headers import retry_after_s as standard_retry_after_s
from providers.videogen.wire import SLUG, ApiError

# Error codes to classes. Documented (providers.md §2.5): invalid_parameters, invalid_id, missing_api_key,
# invalid_api_key. VideoGen documents no codes for failed executions (§2.4, open question 5): the others are
# [inference] — the plausible names the sandbox emulator also uses.
_CODE_CLASSES: dict[str, ErrorClass] = {
    "invalid_parameters": ErrorClass.INVALID_REQUEST,
    "invalid_id": ErrorClass.INVALID_REQUEST,
    "missing_api_key": ErrorClass.AUTH,
    "invalid_api_key": ErrorClass.AUTH,
    "content_policy_violation": ErrorClass.CONTENT_POLICY,
    "insufficient_credits": ErrorClass.QUOTA_EXHAUSTED,
    "execution_timed_out": ErrorClass.TIMEOUT,
}
# `requirement.type` values of the SDK's ApiErrorRequirement: fixable by paying, so quota, not auth.
_PURCHASE_REQUIREMENTS = frozenset({"purchase_add_on", "upgrade_plan"})
# Only when a failed execution has no code: providers.md §2.4 recommends message keywords [inference].
_MESSAGE_HINTS: tuple[tuple[re.Pattern[str], ErrorClass], ...] = (
    (re.compile(r"content polic|moderation|safety", re.IGNORECASE), ErrorClass.CONTENT_POLICY),
    (re.compile(r"timed? ?out", re.IGNORECASE), ErrorClass.TIMEOUT),
    (re.compile(r"\bcredits?\b", re.IGNORECASE), ErrorClass.QUOTA_EXHAUSTED),
)
_ERROR_TYPES: dict[ErrorClass, type[UpstreamError]] = {
    ErrorClass.INVALID_REQUEST: InvalidUpstreamRequest,
    ErrorClass.AUTH: UpstreamAuthError,
    ErrorClass.CONTENT_POLICY: ContentPolicyError,
    ErrorClass.QUOTA_EXHAUSTED: QuotaExhausted,
}
_DELAY_SECONDS = re.compile(r"\d+(\.\d+)?")
_UNIX_EPOCH_FLOOR_S = 1_000_000_000  # a Reset below this (2001) is read as delta-seconds, not a unix time


def _header(headers: dict[str, str], name: str) -> str | None:
    value = header(headers, name)
    return None if value is None else value.strip()


def _number(raw: str | None) -> float | None:
    return float(raw) if raw is not None and _DELAY_SECONDS.fullmatch(raw) else None


def _decode_error(reply: Reply) -> ApiError:
    try:
        return msgspec.json.decode(reply.body, type=ApiError)
    except msgspec.DecodeError:
        return ApiError()  # e.g. a proxy's HTML page: the HTTP status alone decides


def _requires_purchase(error: ApiError) -> bool:
    return error.requirement is not None and error.requirement.type in _PURCHASE_REQUIREMENTS


def _status_class(status: int, error: ApiError) -> type[UpstreamError]:
    """providers.md §6.2: the HTTP status is the primary signal, `code` only refines a 400."""
    if status == 400:
        known = _CODE_CLASSES.get(error.code or "")
        return ContentPolicyError if known is ErrorClass.CONTENT_POLICY else InvalidUpstreamRequest
    if status == 401:
        return UpstreamAuthError
    if status == 402 or (status == 403 and _requires_purchase(error)):
        return QuotaExhausted
    if status == 403:
        return UpstreamAuthError
    if status == 429:
        return UpstreamRateLimited
    if status == 500:
        return UpstreamInternalError
    if status > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status >= 400 else UpstreamProtocolError


def retry_after_s(headers: dict[str, str], now_s: float | None) -> float | None:
    """`Retry-After` (delta-seconds or HTTP date), else `X-RateLimit-Reset` (unix seconds) less `now_s`.

    providers.md §2.6: whether 429 carries Retry-After is undocumented; Reset is on every reply."""
    given = standard_retry_after_s(headers, now_s)
    if given is not None:
        return given
    reset = _number(_header(headers, "x-ratelimit-reset"))
    if reset is not None and reset < _UNIX_EPOCH_FLOOR_S:
        return reset
    return None if reset is None or now_s is None else max(0.0, reset - now_s)


def classify_error(reply: Reply, *, now_s: float | None = None) -> UpstreamError:
    """Map a non-2xx reply (`{message, code?, requirement?}`) to its class, by HTTP status then code."""
    error = _decode_error(reply)
    error_type = _status_class(reply.status_code, error)
    hint_s = retry_after_s(reply.headers, now_s) if error_type is UpstreamRateLimited else None
    requirement = error.requirement.type if error.requirement else None
    code = error.code or (requirement if error_type is QuotaExhausted else None)
    text = f"videogen replied {reply.status_code}: {error.message or 'no error message'}"
    return error_type(text, provider=SLUG, status_code=reply.status_code, code=code, retry_after_s=hint_s)


def classify_failure(error: ApiError | None) -> Failure:
    """A failed execution's `error` (providers.md §2.4): by known code, else `requirement`, else — only
    without a code — message keywords, else internal."""
    if error is None:
        return Failure(error_class=ErrorClass.INTERNAL, message="videogen reported failed without an error")
    message = error.message or "videogen reported failed"
    error_class = _CODE_CLASSES.get(error.code or "")
    if error_class is None and _requires_purchase(error):
        error_class = ErrorClass.QUOTA_EXHAUSTED
    if error_class is None and error.code is None:
        error_class = next((cls for pattern, cls in _MESSAGE_HINTS if pattern.search(message)), None)
    code = error.code or (error.requirement.type if error.requirement else None)
    return Failure(error_class=error_class or ErrorClass.INTERNAL, message=message, code=code)


def parse_capacity(reply: Reply, scope: str) -> CapacityReport | None:
    """The `X-RateLimit-Limit/Remaining/Reset` VideoGen sends on every reply (providers.md §2.6), per
    endpoint group; None when the reply carries none of them. A 429's `Retry-After` becomes the hint."""
    limit = _number(_header(reply.headers, "x-ratelimit-limit"))
    remaining = _number(_header(reply.headers, "x-ratelimit-remaining"))
    reset = _number(_header(reply.headers, "x-ratelimit-reset"))
    retry = _number(_header(reply.headers, "retry-after")) if reply.status_code == 429 else None
    if limit is None and remaining is None and reset is None and retry is None:
        return None
    return CapacityReport(
        provider=SLUG,
        scope=scope,
        limit=None if limit is None else int(limit),
        remaining=0 if reply.status_code == 429 else (None if remaining is None else int(remaining)),
        reset_at=reset if reset is None or reset >= _UNIX_EPOCH_FLOOR_S else None,
        retry_after_s=retry,
    )

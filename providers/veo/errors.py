"""Google's error replies (`{"error": {"code", "message", "status", "details"}}`, google.rpc.Status) and a failed
operation's `error` to the upstream error taxonomy; pure, no I/O or clock. The canonical `status` string and the
typed `details` (ErrorInfo reason, RetryInfo delay, QuotaFailure ids) decide, never the message text."""

from __future__ import annotations

import re

import msgspec

from providers.contract import (
    CapacityReport,
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
from providers.http_headers import retry_after_s
from providers.veo.wire import RPC_CODES, SLUG, ErrorReply, RpcStatus

_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
# An invalid Gemini key is a 400 INVALID_ARGUMENT whose ErrorInfo says API_KEY_INVALID (not a 401).
_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "ACCESS_TOKEN_EXPIRED"})
_DURATION = re.compile(r"(?P<seconds>\d+(\.\d+)?)s")  # google.protobuf.Duration in JSON: "34s", "1.5s"
# [inference] a quota counted per day is not a short window: the account is out until tomorrow.
_DAILY = re.compile(r"PerDay", re.IGNORECASE)

_BY_STATUS: dict[str, type[UpstreamError]] = {
    "INVALID_ARGUMENT": InvalidUpstreamRequest,
    "OUT_OF_RANGE": InvalidUpstreamRequest,
    "NOT_FOUND": InvalidUpstreamRequest,
    "UNAUTHENTICATED": UpstreamAuthError,
    "PERMISSION_DENIED": UpstreamAuthError,
    # [inference] billing not enabled, or a region the API does not serve: this account cannot, another may.
    "FAILED_PRECONDITION": UpstreamAuthError,
    "RESOURCE_EXHAUSTED": UpstreamRateLimited,
    "INTERNAL": UpstreamInternalError,
    "UNKNOWN": UpstreamInternalError,
    "UNAVAILABLE": UpstreamUnavailable,
    "DEADLINE_EXCEEDED": UpstreamUnavailable,
}

_FAILURE_CLASSES: dict[str, ErrorClass] = {
    "INVALID_ARGUMENT": ErrorClass.INVALID_REQUEST,
    "FAILED_PRECONDITION": ErrorClass.INVALID_REQUEST,
    "PERMISSION_DENIED": ErrorClass.AUTH,
    "UNAUTHENTICATED": ErrorClass.AUTH,
    "RESOURCE_EXHAUSTED": ErrorClass.RATE_LIMITED,
    "UNAVAILABLE": ErrorClass.UPSTREAM_UNAVAILABLE,
    "DEADLINE_EXCEEDED": ErrorClass.UPSTREAM_UNAVAILABLE,
}


def _decode(body: bytes) -> RpcStatus:
    try:
        return msgspec.json.decode(body, type=ErrorReply).error or RpcStatus()
    except msgspec.DecodeError:
        return RpcStatus()  # an HTML page from a proxy: the HTTP status alone decides


def _details(error: RpcStatus, kind: str) -> list[dict[str, object]]:
    return [detail for detail in error.details if detail.get("@type") == kind]


def _by_http(status_code: int) -> type[UpstreamError]:
    if status_code in (401, 403):
        return UpstreamAuthError
    if status_code == 429:
        return UpstreamRateLimited
    if status_code == 500:
        return UpstreamInternalError
    if status_code > 500:
        return UpstreamUnavailable
    return InvalidUpstreamRequest if status_code >= 400 else UpstreamProtocolError


def _retry_delay_s(error: RpcStatus) -> float | None:
    for detail in _details(error, _RETRY_INFO):
        match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
        if match:
            return float(match["seconds"])
    return None


def _daily_quota(error: RpcStatus) -> bool:
    for detail in _details(error, _QUOTA_FAILURE):
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else ():
            if isinstance(violation, dict) and _DAILY.search(str(violation.get("quotaId", ""))):
                return True
    return False


def _error_type(status_code: int, error: RpcStatus) -> type[UpstreamError]:
    reasons = {str(detail.get("reason")) for detail in _details(error, _ERROR_INFO)}
    if reasons & _KEY_REASONS:
        return UpstreamAuthError
    if error.status == "RESOURCE_EXHAUSTED" and _daily_quota(error):
        return QuotaExhausted
    return _BY_STATUS.get(error.status or "", _by_http(status_code))


def classify_error(reply: Reply, *, now_s: float | None = None) -> UpstreamError:
    """Map an error reply to its class by Google's canonical status (HTTP status when the body has none)."""
    error = _decode(reply.body)
    error_type = _error_type(reply.status_code, error)
    label = error.status or str(reply.status_code)
    message = f"{SLUG} replied {reply.status_code} {label}: {error.message or 'no error message'}"
    wait_s = _retry_delay_s(error)
    if wait_s is None and reply.status_code == 429:
        wait_s = retry_after_s(reply.headers, now_s)
    return error_type(message, provider=SLUG, status_code=reply.status_code, code=error.status, retry_after_s=wait_s)


def operation_failure(error: RpcStatus) -> Failure:
    """A finished operation's `error` (its `code` is the gRPC code number) as the job's failure."""
    status = error.status or RPC_CODES.get(error.code or 0, "UNKNOWN")
    error_class = _FAILURE_CLASSES.get(status, ErrorClass.INTERNAL)
    return Failure(error_class=error_class, message=error.message or f"{SLUG} operation failed: {status}", code=status)


def error_capacity(error: UpstreamError, *, model: str) -> CapacityReport | None:
    """A 429 is capacity news for that model: Gemini quotas count per project and model (QuotaFailure ids)."""
    if isinstance(error, UpstreamRateLimited | QuotaExhausted):
        return CapacityReport(provider=SLUG, scope=f"model:{model}", remaining=0, retry_after_s=error.retry_after_s)
    return None

"""The NanoGPT emulator's error replies (providers.md §4): the three envelopes, balance and rate-limit refusals,
and the bodies injected faults answer with. Pure: no HTTP, clock or randomness."""

from __future__ import annotations

import http
import math

import msgspec

MICROS_PER_USD = 1_000_000


class VendorError(Exception):
    """A vendor error reply: `payload` is encoded as the JSON body, with `status_code` and `headers`."""

    def __init__(self, status_code: int, payload: object, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.payload = payload
        self.headers = headers or {}


# ------------------------------------------------------------------------------------------ error bodies


class ErrorDetail(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """§4.6 shape 1 (video guide, `type` upper-case) and shape 2 (OpenAI-style, with `code`/`param`)."""

    error: ErrorDetail
    refund_message: str | None = msgspec.field(default=None, name="refundMessage")


class BalanceError(msgspec.Struct, frozen=True, kw_only=True):
    """§4.6 shape 3, the legacy 402: `{"error":"Insufficient balance","requiredBalance":…,"status":402}`."""

    error: str
    required_balance: float = msgspec.field(name="requiredBalance")
    status: int


class PlainError(msgspec.Struct, frozen=True, kw_only=True):
    """The OpenAPI `Error` schema the status route uses: `{"error": <int>, "message": <string>}`."""

    error: int
    message: str


def envelope(
    status_code: int,
    message: str,
    type_: str,
    *,
    code: str | None = None,
    param: str | None = None,
    refund: str | None = None,
    headers: dict[str, str] | None = None,
) -> VendorError:
    detail = ErrorDetail(message=message, type=type_, code=code, param=param)
    return VendorError(status_code, ErrorEnvelope(error=detail, refund_message=refund), headers)


def invalid(message: str, *, param: str | None = None, status_code: int = 400) -> VendorError:
    """A validation error in the video-guide envelope; its `type` string is our choice [inference]."""
    return envelope(status_code, message, "VALIDATION_ERROR", param=param)


def usd(micros: int) -> float:
    return micros / MICROS_PER_USD


def balance_error(required_micros: int) -> VendorError:
    body = BalanceError(error="Insufficient balance", required_balance=usd(required_micros), status=402)
    return VendorError(402, body)


# §4.3/§4.8: a pre-generation block is a 400 `content_policy_violation` and is not charged.
BLOCKED = ("Your prompt was flagged by our content policy.", "CONTENT_POLICY_VIOLATION")
NOT_CHARGED = "You have not been charged for this request."
RATE_LIMITED = ("Too many video requests. Please slow down.", "RATE_LIMITED")


def daily_limit(limit: int, retry_after_s: int) -> VendorError:
    """§4.7's documented body for an exceeded per-key daily request cap."""
    message = f"Daily request limit exceeded ({limit}/{limit}). Resets at midnight UTC."
    headers = {"Retry-After": str(retry_after_s)}
    return envelope(429, message, "rate_limit_error", code="daily_rpd_limit_exceeded", headers=headers)


def _phrase(status_code: int) -> str:
    try:
        return http.HTTPStatus(status_code).phrase
    except ValueError:
        return "Sandbox fault"


# Submit-route bodies for forced statuses: (message, type, code); 402 and 400 have their own shapes.
_FAULT_BODIES: dict[int, tuple[str, str, str | None]] = {
    401: ("Invalid API key", "authentication_error", "invalid_api_key"),
    403: ("This model requires a Pro subscription.", "PRO_REQUIRED", None),
    404: ("Model not found", "not_found_error", "model_not_found"),
    429: (*RATE_LIMITED, None),
    500: ("Internal server error", "server_error", None),
    503: ("Service temporarily unavailable. Consider changing model if persistent.", "service_unavailable", None),
}


def fault_error(action: str, status_code: int, time_scale: float = 1.0) -> VendorError:
    """NanoGPT's own body for a forced status: the status route's `Error` schema, else the submit envelopes.
    A forced 429 says Retry-After a minute of provider time (the submit window's length), times `time_scale`."""
    if action == "status":
        return VendorError(status_code, PlainError(error=status_code, message=_phrase(status_code)))
    if status_code == 400:
        return invalid("Invalid request")
    if status_code == 402:
        return balance_error(MICROS_PER_USD)
    message, type_, code = _FAULT_BODIES.get(status_code, (_phrase(status_code), "api_error", None))
    headers = {"Retry-After": str(max(1, math.ceil(60 * time_scale)))} if status_code == 429 else None
    return envelope(status_code, message, type_, code=code, headers=headers)

"""The gateway's error taxonomy, and the one table from an upstream error class to what a client is told: the
reply to a refused submit and the `error` of a job whose upstream job failed. The envelope is rendered by
gateway/api/http.py; nothing here carries a trace or a secret."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, ClassVar, NamedTuple

import msgspec

from providers.contract import ErrorClass, UpstreamError


def _described(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class ErrorBody(msgspec.Struct, kw_only=True):
    type: Annotated[str, _described("The error's class, one per HTTP status family: `invalid_request`, `not_found`…")]
    code: Annotated[str, _described("What exactly went wrong, stable for programs: `missing_scope`, `unknown_field`…")]
    message: Annotated[str, _described("For people: what went wrong and, where it helps, how to fix it")]
    param: Annotated[str | None, _described("The request parameter or body field at fault, as a dotted path")] = None
    provider: Annotated[str | None, _described("The provider whose answer caused the error, if one did")] = None
    retryable: Annotated[bool, _described("Whether the same request may succeed later (mind `Retry-After`)")] = False
    request_id: Annotated[str | None, _described("The `X-Request-Id` of the request, for the gateway's logs")] = None


class ErrorEnvelope(msgspec.Struct, kw_only=True):
    error: Annotated[ErrorBody, _described("Every error reply of the gateway is this one object")]


class GatewayError(Exception):
    status_code: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        provider: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.type
        self.param = param
        self.provider = provider
        self.headers = headers or {}

    def body(self, request_id: str | None) -> ErrorEnvelope:
        return ErrorEnvelope(
            error=ErrorBody(
                type=self.type,
                code=self.code,
                message=self.message,
                param=self.param,
                provider=self.provider,
                retryable=self.retryable,
                request_id=request_id,
            )
        )


class InvalidRequest(GatewayError):
    status_code = 400
    type = "invalid_request"


class Unauthorized(GatewayError):
    status_code = 401
    type = "unauthorized"


class Forbidden(GatewayError):
    status_code = 403
    type = "forbidden"


class NotFound(GatewayError):
    status_code = 404
    type = "not_found"


class MethodNotAllowed(GatewayError):
    status_code = 405
    type = "invalid_request"


class Conflict(GatewayError):
    status_code = 409
    type = "conflict"


class RequestInProgress(Conflict):
    """The same request (same Idempotency-Key) is still being processed: retry shortly."""

    retryable = True


class PayloadTooLarge(GatewayError):
    status_code = 413
    type = "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status_code = 415
    type = "invalid_request"


class RateLimited(GatewayError):
    status_code = 429
    type = "rate_limited"
    retryable = True


class QuotaExceeded(GatewayError):
    """A team's or key's quota refused the job; `code` names the quota, the message its numbers."""

    status_code = 429
    type = "quota_exceeded"


class ConcurrencyExceeded(QuotaExceeded):
    """`max_concurrent_jobs`: frees up as soon as one of the scope's jobs finishes."""

    retryable = True


class ContentPolicy(GatewayError):
    status_code = 400
    type = "content_policy"


class UnsupportedRequest(GatewayError):
    """No configured offering could serve the request as asked (mode, seconds, size, fields): "never", so not
    worth a retry; the message names what does not fit per offering and the models that could serve it."""

    status_code = 400
    type = "unsupported_request"


class NoProviderAvailable(GatewayError):
    """Offerings that fit exist but none can take the request now (disabled, ops rules, circuit, headroom):
    "not now", with `Retry-After` when the first block lapses on its own."""

    status_code = 503
    type = "no_provider_available"
    retryable = True


class UpstreamFailed(GatewayError):
    status_code = 502
    type = "upstream_error"
    retryable = True


class UpstreamTimedOut(GatewayError):
    status_code = 504
    type = "upstream_timeout"
    retryable = True


class StoreUnavailable(GatewayError):
    status_code = 503
    type = "store_unavailable"
    retryable = True


class PreconditionFailed(GatewayError):
    """A control-plane write named (`If-Match`) a version that is no longer current: read again and retry."""

    status_code = 412
    type = "precondition_failed"


class PreconditionRequired(GatewayError):
    """A control-plane write without `If-Match`: a write must say which version it changes."""

    status_code = 428
    type = "precondition_required"


class ClientCodes(NamedTuple):
    """What a client is told of one upstream error class: `reply` with `code` when a submit was refused (a
    create's answer), `job` when an accepted job ended so (its `error.code` is `job.type`, its `retryable`
    the class's)."""

    reply: type[GatewayError]
    code: str
    job: type[GatewayError]


UPSTREAM_CODES: dict[ErrorClass, ClientCodes] = {
    ErrorClass.CONTENT_POLICY: ClientCodes(ContentPolicy, "content_policy", ContentPolicy),
    ErrorClass.INVALID_REQUEST: ClientCodes(InvalidRequest, "upstream_rejected", InvalidRequest),
    # At submit a provider out of headroom means "not now": another moment or provider may serve it.
    ErrorClass.RATE_LIMITED: ClientCodes(NoProviderAvailable, "rate_limited", UpstreamFailed),
    ErrorClass.QUOTA_EXHAUSTED: ClientCodes(NoProviderAvailable, "quota_exhausted", UpstreamFailed),
    ErrorClass.TIMEOUT: ClientCodes(UpstreamTimedOut, "upstream_timeout", UpstreamTimedOut),
    ErrorClass.AUTH: ClientCodes(UpstreamFailed, "upstream_error", UpstreamFailed),
    ErrorClass.UPSTREAM_UNAVAILABLE: ClientCodes(UpstreamFailed, "upstream_unavailable", UpstreamFailed),
    ErrorClass.PROTOCOL: ClientCodes(UpstreamFailed, "protocol", UpstreamFailed),
    ErrorClass.INTERNAL: ClientCodes(UpstreamFailed, "internal", UpstreamFailed),
}


def from_upstream(exc: UpstreamError) -> GatewayError:
    """What a client sees when the provider refused a submit (after any failover)."""
    reply, code, _ = UPSTREAM_CODES[exc.error_class]
    message, headers = exc.message, {}
    if exc.error_class == ErrorClass.AUTH:
        # The provider refused *our* credential; the client's request is not at fault.
        message = f"{exc.provider} rejected the gateway's credentials"
    elif reply is NoProviderAvailable:
        message = f"{exc.provider} has no headroom: {exc.message}"
        if exc.retry_after_s:
            headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return reply(message, code=code, provider=exc.provider, headers=headers)


_MSGSPEC_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<field>[^`]+)`")


def from_validation(
    exc: msgspec.ValidationError | msgspec.DecodeError, *, spell: Callable[[str], str] = str
) -> InvalidRequest:
    """A body that does not decode: name the offending parameter as a dotted path, or as `spell` writes it (a
    multipart form's bracketed keys)."""
    text = str(exc)
    match = _MSGSPEC_PATH.search(text)
    path = (match.group("path") if match else "").replace("[...]", "")
    message = _MSGSPEC_PATH.sub("", text)
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        field = spell(f"{path}.{unknown.group('field')}" if path else unknown.group("field"))
        return InvalidRequest(f"unknown field `{field}`", code="unknown_field", param=field)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        return InvalidRequest(f"body is not valid JSON: {message}", code="invalid_json")
    code = "missing_field" if message.startswith("Object missing required field") else "invalid_value"
    path = spell(path)
    return InvalidRequest(f"{message} at `{path}`" if path else message, code=code, param=path or None)

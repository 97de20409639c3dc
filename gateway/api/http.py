"""The two HTTP edges every request crosses: the request-id middleware and the one exception-to-envelope mapper."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterable
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import (
    ErrorEnvelope,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    from_upstream,
    from_validation,
)
from providers.contract import UpstreamError

log = structlog.get_logger("gateway.api.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Headers whose meaning is ambiguous when sent twice (which key? which body length?): a 400, never a guess.
SINGLE_HEADERS = frozenset(
    {b"authorization", b"idempotency-key", b"content-type", b"content-length", b"transfer-encoding", b"x-request-id"}
)
# What litestar raises when the server ends the request body early: the client went away, or the server dropped
# a malformed chunked body (granian does), in which case the client is still there to read our 400.
_BODY_CUT_SHORT = "client disconnected prematurely"


_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Unique across replicas (random per-process prefix) and cheap on the hot path (a counter, no syscall)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


def request_id_for(given: str) -> str:
    """The client's `X-Request-Id` when well formed, else a new one."""
    return given if _REQUEST_ID.match(given) else new_request_id()


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take a well-formed `X-Request-Id` or make one; bind it for logs and echo it on the reply."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get("request_id")  # a fast lane that tried the request first has set it (and bound it)
        if request_id is None:
            given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
            request_id = state["request_id"] = request_id_for(given)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        # ASGI servers run each request in its own task, whose context is a copy: binding here cannot leak
        # into another request, and skips the reset a context manager would cost on every request.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        _check_single_headers(scope["headers"])
        await app(scope, receive, send_with_id)

    return middleware


class QueryCheck:
    """A `before_request` hook: a query parameter the matched route does not take is a 400 naming it, never
    silently ignored (a mistyped `provider=` filter would otherwise report on everything). Each route's names are
    read once from litestar's own signature model, so a new route needs no list kept by hand."""

    def __init__(self) -> None:
        self._taken: dict[int, frozenset[str]] = {}

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        if not request.scope.get("query_string"):
            return
        handler = request.route_handler
        taken = self._taken.get(id(handler))
        if taken is None:
            taken = self._taken[id(handler)] = frozenset(query_names(request).values())
        unknown = sorted(set(request.query_params) - taken)
        if unknown:
            names = ", ".join(f"`{name}`" for name in unknown)
            raise InvalidRequest(f"unknown query parameter {names}", code="unknown_parameter", param=unknown[0])


def query_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The matched route's query parameters, Python name to the name on the wire (`first` -> `from`), from
    litestar's own signature model, so a new route needs no list kept by hand."""
    model = request.route_handler.create_kwargs_model(path_parameters=dict.fromkeys(request.path_params))  # type: ignore[arg-type]
    return {p.field_name: p.field_alias for p in model.expected_query_params}


def _check_single_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    seen: set[bytes] = set()
    for name, _ in headers:
        if name in SINGLE_HEADERS:
            if name in seen:
                header = name.decode("latin-1")
                raise InvalidRequest(
                    f"the {header} header was sent more than once", code="duplicate_header", param=header
                )
            seen.add(name)


def to_gateway_error(exc: Exception) -> GatewayError:
    match exc:
        case GatewayError():
            return exc
        case UnicodeDecodeError(start=position):
            return InvalidRequest(f"the request is not valid UTF-8 (byte {position})", code="invalid_utf8")
        case InternalServerException(detail=detail) if detail == _BODY_CUT_SHORT:
            return InvalidRequest(
                "the request body ended before its declared length, or its chunked framing is malformed",
                code="incomplete_body",
            )
        case UpstreamError():
            return from_upstream(exc)
        case msgspec.ValidationError() | msgspec.DecodeError():
            return from_validation(exc)
        case ValidationException():
            return InvalidRequest(_validation_message(exc), code="invalid_value", param=_validation_param(exc))
        case HTTPException(status_code=404):
            return NotFound("no such route")
        case HTTPException(status_code=405, headers=headers):
            # RFC 9110 §15.5.6: a 405 lists the methods the route takes (litestar's exception carries them).
            allow = {"Allow": headers["allow"]} if headers and "allow" in headers else None
            return MethodNotAllowed("method not allowed on this route", headers=allow)
        case HTTPException(status_code=413):
            return PayloadTooLarge("request body too large")
        case HTTPException(status_code=code) if 400 <= code < 500:
            return InvalidRequest(str(exc.detail))
    return GatewayError("internal error; the request id identifies it in the logs")


def error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    error = to_gateway_error(exc)
    if isinstance(exc, ValidationException) and error.param and "route_handler" in request.scope:
        # litestar names a parameter by its Python name; the client knows it by its wire name.
        wire = query_names(request).get(error.param, error.param)
        error.message, error.param = error.message.replace(f"{error.param}:", f"{wire}:"), wire
    if error.status_code >= 500 and type(error) is GatewayError:
        log.error("request_crashed", path=request.url.path, exc_info=exc)
    elif error.code == "incomplete_body":
        log.info("request_body_cut_short", path=request.url.path)
    state = request.scope.setdefault("state", {})
    headers = dict(error.headers)
    if "request_id" not in state:
        # The router refused the request (404/405) before any route middleware ran: name it here.
        state["request_id"] = new_request_id()
        headers["x-request-id"] = state["request_id"]
    return Response(error.body(state["request_id"]), status_code=error.status_code, headers=headers)


def _validation_param(exc: ValidationException) -> str | None:
    extra = exc.extra if isinstance(exc.extra, list) else []
    keys = {str(e["key"]) for e in extra if isinstance(e, dict) and e.get("key")}
    return keys.pop() if len(keys) == 1 else None


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = [f"{e.get('key', '?')}: {e.get('message', '')}" for e in extra if isinstance(e, dict)]
    return "invalid parameters: " + "; ".join(details) if details else "invalid parameters"

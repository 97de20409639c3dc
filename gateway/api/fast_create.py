"""The create's fast lane: `POST /v1/videos` with a JSON body answered in front of litestar, for its happy path.

A create's own CPU sets how many creates a process takes, and litestar's exception middleware, router, dependency
injection, signature model and response object cost a tenth of it. The lane takes a create only when nothing about
the request is litestar's to refuse (POST, that path, no query string, no repeated header, a valid `Host`, a JSON
content type, a key with the `videos` scope, a body within the size limit that decodes and normalizes), with the
route's own functions (`create_intake`, `create_reply`) and the reply the route gives: 202, the headers litestar
and the request-id middleware add, in their order. Before the create, anything else is handed to litestar with the
body it read replayed, untouched. A create that fails is not tried again: the lane leaves the failure in the scope
(`LANE_CREATE_FAILURE`), and the route, given the same request, raises it, so every error still comes from the one
exception handler (gateway/api/http.py) and is logged there. The request id the lane binds for the create's logs
is the one the reply carries either way. tests/gateway/api/test_fast_create.py compares the two replies."""

from __future__ import annotations

import msgspec
import structlog
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from gateway.api.fast_status import JSON_TYPE, answer, lane_caller, single_headers
from gateway.api.http import request_id_for
from gateway.api.videos import LANE_CREATE_FAILURE, create_intake, create_reply, origin
from gateway.auth import Caller, KeyRing
from gateway.config import Settings
from gateway.schema.wire import CreateVideoBody

_PATH = "/v1/videos"
_REPLAYED = (b"idempotent-replayed", b"true")


def fast_create(app: ASGIApp, *, keys: KeyRing, state: State, settings: Settings) -> ASGIApp:
    """Wrap litestar's ASGI handler `app`: the JSON create's happy path is answered here, everything else by `app`.
    `state` is the app's state, where the lifespan puts the idempotent creates and the public base URL."""
    max_body_bytes = settings.server.max_body_bytes

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        if not _candidate(scope):
            await app(scope, receive, send)
            return
        given = single_headers(scope)
        caller = None if given is None or not _json(given) else lane_caller(given, keys)
        if given is None or caller is None:
            await app(scope, receive, send)
            return
        received, body = await _read(receive, max_body_bytes)
        reply = None if body is None else await _create(scope, given, caller, body, state, settings)
        if reply is None:
            await app(scope, _replay(received, receive), send)
            return
        await answer(send, 202, *reply)

    return lane


def _candidate(scope: Scope) -> bool:
    return (
        scope["type"] == ScopeType.HTTP
        and scope.get("method") == "POST"
        and scope.get("path") == _PATH
        and not scope.get("query_string")
        and not scope.get("root_path")
    )


def _json(given: dict[bytes, bytes]) -> bool:
    media_type = given.get(b"content-type", b"").split(b";")[0].strip().lower()
    return media_type == b"application/json"


async def _read(receive: Receive, max_body_bytes: int) -> tuple[list[ReceiveMessage], bytes | None]:
    """The messages received (for litestar, should it answer) and the whole body, or None when it is not all there
    or is over the limit (litestar then reads on, and answers as it would)."""
    received: list[ReceiveMessage] = []
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, None
        parts.append(message.get("body", b""))
        size += len(parts[-1])
        if size > max_body_bytes:
            return received, None
        if not message.get("more_body", False):
            return received, b"".join(parts)


def _replay(received: list[ReceiveMessage], receive: Receive) -> Receive:
    """`receive` with the messages the lane took first given again, in order."""
    pending = list(received)

    async def replayed() -> ReceiveMessage:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _create(
    scope: Scope, given: dict[bytes, bytes], caller: Caller, body: bytes, state: State, settings: Settings
) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """The reply's headers and body, or None for litestar to answer (with the create's failure in the scope when
    it was tried)."""
    host = given.get(b"host")
    try:
        create = msgspec.json.decode(body, type=CreateVideoBody)
        base = state.public_base_url or origin(scope, None if host is None else host.decode("latin-1"))
        intake = create_intake(create, None, caller=caller, settings=settings, state=state, base=base)
    except Exception:  # litestar answers it: the route raises the same error, from the one handler
        return None
    request_id = request_id_for(given.get(b"x-request-id", b"").decode("latin-1"))
    scope.setdefault("state", {})["request_id"] = request_id
    # As the request-id middleware binds it: each request runs in a task of its own, so this does not leak.
    structlog.contextvars.bind_contextvars(request_id=request_id)
    key = given.get(b"idempotency-key")
    try:
        job, replayed = await state.creates.create(
            caller,
            intake,
            metadata=dict(create.metadata),
            idempotency_key=None if key is None else key.decode("latin-1"),
        )
    except Exception as exc:  # tried once: the route raises it
        scope["state"][LANE_CREATE_FAILURE] = exc
        return None
    content = create_reply(job, base)
    headers = [_REPLAYED] if replayed else []
    headers += [JSON_TYPE, (b"content-length", str(len(content)).encode()), (b"x-request-id", request_id.encode())]
    return headers, content

"""The status poll's fast lane: `GET /v1/videos/{id}` answered in front of litestar, for its happy path only.

Clients poll a job's status many times per job, so this one read sets how many polls a process serves; litestar's
exception middleware, router, request-id middleware, dependency injection and response object cost several times
the read itself. The lane answers exactly the happy path (GET, that path, no query string, no repeated header,
a valid `Host`, a key with the `videos` scope, the job found and visible to the caller) with the reply the route
would give: the same `status_reply` body and poll headers, then the headers litestar and the request-id middleware
add, in their order. Anything else is handed to litestar untouched, so every error still comes from the one
exception handler (gateway/api/http.py). Nothing the lane does before handing over counts, limits or logs: it
reads the key ring and the store, and the only write (the key's last-used time, a timestamp) is written again by
the route. It binds no log context either, as nothing on its path logs. When its store read fails (no such job of
the caller's, the store down) it leaves the failure in the scope for the route to raise, so the store is read
once, as without the lane. tests/gateway/api/test_fast_status.py
compares the two replies byte for byte."""

from __future__ import annotations

# litestar's own Host check (its router's first step), so the lane answers no request litestar would refuse.
from litestar._asgi.utils import is_valid_host
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway.api.http import SINGLE_HEADERS, request_id_for
from gateway.api.videos import LANE_READ_FAILURE, origin, status_reply
from gateway.auth import Caller, KeyRing

_PREFIX = "/v1/videos/"
_MAX_ID = 64  # the route's `_VideoId`: longer is litestar's 400
# The headers whose values the lane reads, and those a repeat of which litestar refuses: any of them twice, and
# litestar answers.
_WATCHED = SINGLE_HEADERS | {b"host"}
JSON_TYPE = (b"content-type", b"application/json")


def fast_status(app: ASGIApp, *, keys: KeyRing, state: State) -> ASGIApp:
    """Wrap litestar's ASGI handler `app`: the status read's happy path is answered here, everything else by `app`.
    `state` is the app's state, where the lifespan puts the video service and the public base URL."""

    async def lane(scope: Scope, receive: Receive, send: Send) -> None:
        reply = await _reply(scope, keys, state) if _candidate(scope) else None
        if reply is None:
            await app(scope, receive, send)
            return
        await answer(send, 200, *reply)

    return lane


async def answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """A lane's whole reply, in the two ASGI messages."""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _candidate(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    return (
        scope["type"] == ScopeType.HTTP
        and scope.get("method") == "GET"
        and not scope.get("query_string")
        and not scope.get("root_path")
        and path.startswith(_PREFIX)
        and 0 < len(path) - len(_PREFIX) <= _MAX_ID
        and "/" not in path[len(_PREFIX) :]
    )


def single_headers(scope: Scope) -> dict[bytes, bytes] | None:
    """The values of the headers a lane reads, each sent at most once and with a valid `Host` if any; None when
    litestar must answer (it refuses a repeat of these, and an invalid host)."""
    given: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _WATCHED:
            if name in given:
                return None
            given[name] = value
    host = given.get(b"host")
    if host is not None and not is_valid_host(host):
        return None
    return given


def lane_caller(given: dict[bytes, bytes], keys: KeyRing) -> Caller | None:
    """The caller of a key with the `videos` scope, or None when litestar must answer (with its one error
    envelope, and its log)."""
    authorization = given.get(b"authorization")
    try:
        caller = keys.authenticate(None if authorization is None else authorization.decode("latin-1"))
    except Exception:
        return None
    return caller if "videos" in caller.scopes else None


async def _reply(scope: Scope, keys: KeyRing, state: State) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    """The reply's headers and body, or None for litestar to answer."""
    given = single_headers(scope)
    caller = None if given is None else lane_caller(given, keys)
    if given is None or caller is None:
        return None
    host = given.get(b"host")
    service = getattr(state, "service", None)  # None before the lifespan has started: litestar answers
    if service is None:
        return None
    try:
        job = await service.get(caller, scope["path"][len(_PREFIX) :])
    except Exception as exc:  # no such job of the caller's, or the store failing: the route raises it
        scope.setdefault("state", {})[LANE_READ_FAILURE] = exc
        return None
    try:
        base = state.public_base_url or origin(scope, None if host is None else host.decode("latin-1"))
        body, poll_headers = status_reply(job, base=base, now=service.now())
    except Exception:
        return None
    request_id = request_id_for(given.get(b"x-request-id", b"").decode("latin-1"))
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in poll_headers]
    headers += [JSON_TYPE, (b"content-length", str(len(body)).encode()), (b"x-request-id", request_id.encode())]
    return headers, body

"""A lean HTTP/1.1 client for adapter calls (`AiohttpPool.exchange`): one `asyncio.Protocol` per connection, idle
connections kept per origin, the request written as one buffer, the reply parsed by llhttp (`httptools`) and read
whole. aiohttp's `ClientSession._request` was about half of a status poll's send path (its request and response
objects, yarl URLs, tracing hooks, stream readers; bench/RESULTS.md, "poll path"); this path does only what an
adapter call needs, for about half the CPU per call.

What it keeps from the aiohttp path it replaces, exactly:
- the four httpx timeouts: getting a connection (waiting for a slot, DNS, TCP and TLS) within connect + pool, the
  TCP and TLS connect within connect; each read within read, from the request's last byte on; the whole exchange up
  to the reply's head within all four together (there is no separate write timeout);
- one cap on connections in use, shared with the aiohttp session (`Slots`); idle connections are not counted and
  close after `keepalive_expiry`;
- the errors: a connect or pool timeout is `httpx.ConnectTimeout` (never reached the provider); anything after a
  byte was written is a read timeout, a read error or a protocol error (may have). A request is never sent twice,
  except that an idle connection found closed before anything was written is dropped for another;
- the bytes on the wire (header order and case, `Host`, `Content-Length`, aiohttp's `Content-Type` for an untyped
  body or a body-less POST, PUT or PATCH) and the reply as aiohttp read it (gzip and deflate decoded, the header kept).

A URL aiohttp would rewrite (yarl re-quotes percent escapes and drops dot segments), a HEAD request or user info in
the authority is not for this path: `split_url` answers None and the caller sends it through aiohttp (as it does a
call without httpx's default headers, or asking for a coding this client does not decode)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import zlib
from collections import deque
from collections.abc import Mapping
from typing import cast

import aiohappyeyeballs
import httptools
import httpx
import msgspec

MAX_HEADERS = 128  # aiohttp's limits on a reply's head
MAX_FIELD_BYTES = 8190
MAX_HEAD_BYTES = MAX_HEADERS * MAX_FIELD_BYTES
MAX_BODY_BYTES = 512 * 1024 * 1024  # far above any JSON reply or inline video; a runaway body is an error
LARGE_BODY_BYTES = 64 * 1024  # written after the head rather than copied into one buffer
MAX_ORIGINS_KEPT = 1024

_SAFE_TARGET = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*")  # what yarl sends unchanged (no %, checked below)
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab
_SAFE_AUTHORITY = re.compile(r"([a-z0-9\-.]+)(?::([0-9]{1,5}))?")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # aiohttp types these even without a body
_NO_LENGTH_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # ... and these no Content-Length without one
_DECODED = frozenset({"gzip", "deflate"})
_NOT_DECODABLE = frozenset({"br", "zstd"})  # aiohttp knows them but has no codec installed: an error, as there


class Origin:
    """Where a connection goes: scheme, host and port, and the `Host` header aiohttp sends for them."""

    __slots__ = ("host", "host_header", "key", "port", "tls")

    def __init__(self, tls: bool, host: str, port: int) -> None:
        self.tls = tls
        self.host = host
        self.port = port
        default = 443 if tls else 80
        self.host_header = host if port == default else f"{host}:{port}"
        self.key = (tls, host, port)


_origins: dict[str, Origin] = {}


def split_url(method: str, url: str) -> tuple[Origin, str] | None:
    """The origin and request target of `url`, or None when aiohttp would send something else than the URL as
    given (it re-quotes escapes, drops dot segments, lower-cases the host) or the request is not for this path."""
    if url.startswith("https://"):
        tls, rest = True, url[8:]
    elif url.startswith("http://"):
        tls, rest = False, url[7:]
    else:
        return None
    if method == "HEAD":  # the reply's head announces a body that never comes: left to aiohttp
        return None
    cut = rest.find("/")
    authority, target = (rest, "/") if cut < 0 else (rest[:cut], rest[cut:])
    if "%" in target or "/." in target or not _SAFE_TARGET.fullmatch(target):
        return None
    key = ("s" if tls else "") + authority
    origin = _origins.get(key)
    if origin is None:
        found = _SAFE_AUTHORITY.fullmatch(authority)
        if found is None or not found.group(1):
            return None
        port = int(found.group(2) or (443 if tls else 80))
        if not 0 < port < 65536:
            return None
        origin = Origin(tls, found.group(1), port)
        if len(_origins) < MAX_ORIGINS_KEPT:  # providers' hosts; fetched links' hosts may be any number
            _origins[key] = origin
    return origin, target


def request_bytes(method: str, target: str, origin: Origin, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request's head (and a small body) as aiohttp writes them: `Host` first unless given, the headers as
    given, then `Content-Length` and, for a body or a POST, PUT or PATCH without a type, `Content-Type`."""
    lines = [f"{method} {target} HTTP/1.1\r\n"]
    if "host" not in headers:
        lines.append(f"Host: {origin.host_header}\r\n")
    for name, value in headers.items():
        if name in ("content-length", "transfer-encoding"):
            continue  # the length is the body's, always
        lines.append(f"{name}: {value}\r\n")
    if body or method not in _NO_LENGTH_METHODS:
        lines.append(f"Content-Length: {len(body) if body else 0}\r\n")
    if (body or method in _BODY_METHODS) and "content-type" not in headers:
        lines.append("Content-Type: application/octet-stream\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    if head.count("\r\n") != len(lines) or _FORBIDDEN.search(head.replace("\r\n", "")):
        raise ValueError(  # aiohttp's refusal (RFC 9110 5.5), word for word
            "Forbidden control character detected in headers. Potential header injection attack."
        )
    encoded = head.encode("utf-8")
    if body and len(body) <= LARGE_BODY_BYTES:
        return encoded + body
    return encoded


class Slots:
    """The cap on connections in use, shared by this client and the aiohttp session: a connection holds a slot
    from the moment it is taken for a request until its reply is read (or, for aiohttp, its response released).
    Waiters are served first come, first served."""

    def __init__(self, limit: int | None) -> None:
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self._free is None:
            return True
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Take a slot once one is given back (call after `try_take` failed)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot just as the wait ended: pass it on
            else:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        if self._free is None:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class _Decoder:
    """A body's content coding undone as aiohttp does: gzip, or deflate with or without its zlib wrapper."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._zlib: zlib._Decompress | None = None

    def decode(self, data: bytes) -> bytes:
        if self._zlib is None:
            if self._coding == "gzip":
                wbits = 16 + zlib.MAX_WBITS
            else:  # a zlib stream starts with a deflate method byte; raw deflate does not
                wbits = zlib.MAX_WBITS if data and data[0] & 0x0F == 8 else -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(wbits=wbits)
        return self._zlib.decompress(data)

    def flush(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""


class Exchanged(msgspec.Struct, frozen=True):
    """A whole reply as `AiohttpPool.exchange` gives it: headers as httpx gives them (lower-case names, repeated
    ones joined by ", ") and the body, decompressed as httpx would."""

    status: int
    headers: dict[str, str]
    body: bytes


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: at most one request at a time, its reply parsed as bytes arrive. While a request is
    out, `done` is the future its reply (or error) lands on; between requests the connection sits idle in its
    pool, and anything the peer sends then (its close included) ends it."""

    def __init__(self, pool: Http1Pool, origin: Origin) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.done: asyncio.Future[Exchanged] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._timer: asyncio.TimerHandle | None = None
        self._budget_at: float | None = None
        self._read_s: float | None = None
        self._last_read = 0.0
        self._writable: asyncio.Future[None] | None = None
        self._paused = False
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._raw: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._head_done = False
        self._framed = False
        self._informational = False
        self._chunks: list[bytes] = []
        self._size = 0
        self._decoder: _Decoder | None = None
        self._keep_alive = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pool.forget(self)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self.done is None or self.done.done():
            return
        if exc is None and self._head_done and not self._framed and not self._informational:
            self._finish()  # a reply delimited by the connection's close (HTTP/1.0 style)
        elif not self._head_done:
            if exc is None:
                self._fail(httpx.RemoteProtocolError("Server disconnected"))
            else:
                self._fail(httpx.ReadError(str(exc) or type(exc).__name__))
        else:
            self._fail(httpx.RemoteProtocolError(f"Response payload is not completed: {exc or 'server closed'}"))

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self.done is None or self.done.done():
            self.close()  # nothing was asked: a peer talking out of turn cannot be trusted with the next request
            return
        self._last_read = self._loop.time()
        if not self._head_done:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._fail(httpx.RemoteProtocolError("reply head too large"))
                return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if not self.done.done():  # an upgrade we never asked for: its head is the reply, the connection ends
                self._keep_alive = False
                self._finish()
            self.close()
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc, httptools.HttpParserCallbackError) else exc
            if self.done.done():
                self.close()
            else:
                self._fail(httpx.RemoteProtocolError(str(cause) or type(cause).__name__))

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.done is None or self.done.done():  # bytes after the reply: nothing on this connection is safe now
            raise ValueError("data after the reply")
        self._reset()

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_FIELD_BYTES or len(self._raw) >= MAX_HEADERS:
            raise ValueError("reply header too large or too many headers")
        self._raw.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        self._status = status
        self._informational = 100 <= status < 200 and status != 101  # skipped, as aiohttp does
        if self._informational:
            self._raw = []
            return
        self._head_done = True
        headers: dict[str, str] = {}  # as httpx gives them: lower-case names, a repeated header's values joined
        for name, value in self._raw:
            key = name.decode("utf-8", "surrogateescape").lower()
            text = value.decode("utf-8", "surrogateescape")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        self._headers = headers
        self._framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
        coding = headers.get("content-encoding")
        if coding is None:
            return
        coding = coding.lower()
        if coding in _DECODED:
            self._decoder = _Decoder(coding)
        elif coding in _NOT_DECODABLE:
            raise ValueError(f"cannot decode content-encoding {coding}")

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decode(body)
            except zlib.error as exc:
                raise ValueError(f"cannot decode content-encoding: {exc}") from exc
        self._size += len(body)
        if self._size > MAX_BODY_BYTES:
            raise ValueError(f"reply body larger than {MAX_BODY_BYTES} bytes")
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._reset()
            return
        self._keep_alive = self._parser.should_keep_alive()
        self._finish()

    # the pool's side

    def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    @property
    def keep_alive(self) -> bool:
        return self._keep_alive and not self.closed

    def start(self, data: bytes, body: bytes | None, *, budget_at: float | None) -> asyncio.Future[Exchanged]:
        """Write one request; its reply (or error) lands on the future returned. `budget_at` (loop time) bounds
        the wait for the reply's head; `reading` starts the bound on each read once the request is out."""
        assert self.transport is not None
        self._reset()
        done: asyncio.Future[Exchanged] = self._loop.create_future()
        self.done = done
        self._budget_at = budget_at
        self._read_s = None
        self.transport.write(data)
        if body and len(body) > LARGE_BODY_BYTES:
            self.transport.write(body)
        return done

    @property
    def writing(self) -> bool:
        """The transport holds more than its high-water mark: the request is not out yet."""
        return self._paused and not self.closed

    async def drained(self) -> None:
        """Wait until the request is out, within the budget (its timeout fails `done` and ends this wait)."""
        self._writable = self._loop.create_future()
        self._schedule(self._budget_at)
        await self._writable

    def reading(self, read_s: float | None) -> None:
        """The request is out: from now on each read must come within `read_s`."""
        self._read_s = read_s
        self._last_read = self._loop.time()
        if read_s is not None:
            self._schedule(self._last_read + read_s)
        self._schedule(self._budget_at)

    def _schedule(self, at: float | None) -> None:
        """Make sure the timer fires by `at`. The timer is left running between requests rather than cancelled
        and set anew for each: when it fires it checks what is actually due and sets itself again if needed."""
        if at is None:
            return
        timer = self._timer
        if timer is not None:
            if timer.when() <= at:
                return
            timer.cancel()
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        done = self.done
        if done is None or done.done():
            return
        now = self._loop.time()
        budget_at = None if self._head_done else self._budget_at
        read_at = None if self._read_s is None else self._last_read + self._read_s
        if budget_at is not None and now >= budget_at:
            self._fail(httpx.ReadTimeout("timed out"))
        elif read_at is not None and now >= read_at:
            self._fail(httpx.ReadTimeout("Timeout on reading data from socket"))
        else:
            self._schedule(budget_at)
            self._schedule(read_at)

    def _finish(self) -> None:
        done = self.done
        if done is None or done.done():
            return
        try:
            tail = self._decoder.flush() if self._decoder is not None else b""
        except zlib.error as exc:
            self._fail(httpx.RemoteProtocolError(f"cannot decode content-encoding: {exc}"))
            return
        if tail:
            self._chunks.append(tail)
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        done.set_result(Exchanged(self._status, self._headers, body))

    def _fail(self, exc: Exception) -> None:
        self._keep_alive = False
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self.close()


def _literal_address(
    host: str, port: int
) -> list[tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[str, int]]] | None:
    """An IPv4 address as `getaddrinfo` would give it, without its trip through the executor's thread (asyncio's
    `create_connection` and aiohttp skip it the same way); None for a name to resolve. `split_url` lets no IPv6
    literal through (those go to aiohttp)."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]


class Http1Pool:
    """Connections per origin over one event loop: idle ones kept (newest reused first) and closed after
    `keepalive_expiry` seconds idle (None: kept until the peer closes them); connections in use capped by `slots`."""

    def __init__(self, slots: Slots, *, keepalive_expiry: float | None, ssl_context: ssl.SSLContext) -> None:
        self.loop = asyncio.get_running_loop()
        self._slots = slots
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[tuple[bool, str, int], list[Connection]] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    async def exchange(
        self,
        method: str,
        origin: Origin,
        target: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: httpx.Timeout,
    ) -> Exchanged:
        """One request and its whole reply, with the httpx errors `AiohttpPool.exchange` promises."""
        data = request_bytes(method, target, origin, headers, body)
        connect, read, write, pool = timeouts.connect, timeouts.read, timeouts.write, timeouts.pool
        started = self.loop.time()
        budget_at = (
            None
            if connect is None or read is None or write is None or pool is None
            else started + connect + read + write + pool
        )
        if not self._slots.try_take():
            await self._wait_slot(None if connect is None or pool is None else connect + pool)
        connection: Connection | None = None
        try:
            connection = self._idle_connection(origin)
            if connection is None:
                waited = self.loop.time() - started
                bound = None if connect is None or pool is None else connect + pool - waited
                connection = await self._open(origin, bound, connect)
            done = connection.start(data, body, budget_at=budget_at)
            if connection.writing:
                await connection.drained()
            connection.reading(read)
            reply = await done
        except BaseException:
            if connection is not None:
                connection.close()  # its state is unknown: never reused
            self._slots.give()
            raise
        self._slots.give()
        if connection.keep_alive and not self._closed:
            self._keep(connection)
        else:
            connection.close()
        return reply

    async def _wait_slot(self, bound: float | None) -> None:
        try:
            async with asyncio.timeout(bound):
                await self._slots.wait()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out waiting for a connection") from exc

    def _idle_connection(self, origin: Origin) -> Connection | None:
        """The newest idle connection to `origin` still open; closed or expired ones on the way are dropped
        (nothing was written to them, so taking another is no retry)."""
        idle = self._idle.get(origin.key)
        if not idle:
            return None
        now = self.loop.time()
        while idle:
            connection = idle.pop()
            if connection.usable() and (self._expiry is None or now - connection.idle_since < self._expiry):
                return connection
            connection.close()
        return None

    async def _open(self, origin: Origin, bound: float | None, connect: float | None) -> Connection:
        def made() -> Connection:
            return Connection(self, origin)

        try:
            async with asyncio.timeout(bound if connect is None else connect if bound is None else min(bound, connect)):
                # aiohttp's way, on any event loop (uvloop's create_connection has no happy_eyeballs_delay): IPv6 and
                # IPv4 addresses tried side by side, 0.25 s apart
                infos = _literal_address(origin.host, origin.port) or await self.loop.getaddrinfo(
                    origin.host, origin.port, type=socket.SOCK_STREAM
                )
                sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=0.25, loop=self.loop)
                try:
                    _, protocol = await self.loop.create_connection(
                        made,
                        sock=sock,
                        ssl=self._ssl if origin.tls else None,
                        server_hostname=origin.host.rstrip(".") if origin.tls else None,
                    )
                except BaseException:
                    sock.close()  # a failed or cancelled handshake: the socket is ours until a transport holds it
                    raise
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"Connection timeout to host {origin.host}:{origin.port}") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return protocol

    def _keep(self, connection: Connection) -> None:
        if self._expiry is not None and self._expiry <= 0:
            connection.close()
            return
        connection.idle_since = self.loop.time()
        self._idle.setdefault(connection.origin.key, []).append(connection)
        if self._sweeper is None and self._expiry is not None:
            self._sweeper = self.loop.call_at(connection.idle_since + self._expiry, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for `keepalive_expiry`; come back when the oldest remaining one is due."""
        self._sweeper = None
        assert self._expiry is not None
        now = self.loop.time()
        oldest: float | None = None
        for key, idle in list(self._idle.items()):
            kept = []
            for connection in idle:
                if connection.usable() and now - connection.idle_since < self._expiry:
                    kept.append(connection)
                    oldest = connection.idle_since if oldest is None else min(oldest, connection.idle_since)
                else:
                    connection.close()
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]
        if oldest is not None:
            self._sweeper = self.loop.call_at(oldest + self._expiry, self._sweep)

    def forget(self, connection: Connection) -> None:
        """A connection closed: out of the idle list if it was there."""
        idle = self._idle.get(connection.origin.key)
        if idle and connection in idle:
            idle.remove(connection)

    def idle_count(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

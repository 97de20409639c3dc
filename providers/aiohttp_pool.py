"""The shared upstream client's connection pool: an httpx transport over aiohttp's. httpcore's pool walks every
pooled connection on each request and on each response close (a poll(2) per idle one); aiohttp keeps idle
connections per host and parses HTTP in C, for ~2.5x less CPU per upstream call (bench/RESULTS.md,
upstream_cpu). aiohttp's errors become httpx's own, keeping the line `Transport` draws: a connect or pool timeout
never reached the provider, a later timeout or failure may have.

Two ways in: httpx requests (`handle_async_request`: asset downloads, tests' clients, anything holding an httpx
client), and `exchange`, the lean one `Transport` takes for adapter calls on a `PooledClient`: one aiohttp request
with no httpx Request, Response, URL parsing or cookie extraction around it (a poll costs about half the CPU). It
goes on the lean HTTP/1.1 client of `providers/http1.py` (about half the CPU again), or on aiohttp for a URL that
client leaves to it. Both count their connections in use against one cap, `max_connections` (`Slots`)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import httpx

from providers.http1 import Exchanged, Http1Pool, Slots, split_url

CHUNK_BYTES = 64 * 1024
# The lean client takes a call with httpx's default headers (`Transport` always sends them; without them aiohttp
# adds its own) asking for the codings it decodes (httpx asks for br and zstd too where their packages are).
_AIOHTTP_DEFAULTS = frozenset({"accept", "accept-encoding", "user-agent"})
_DECODED = "gzip, deflate"


@contextmanager
def _as_httpx(request: httpx.Request | None) -> Iterator[None]:
    """aiohttp's exceptions as the httpx exceptions httpcore raises in the same situation."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # waiting for a pooled slot or the TCP connect
        raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
    except (aiohttp.SocketTimeoutError, aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
    except aiohttp.ClientError as exc:  # a reset or any other socket failure after connecting
        raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc


def _timeouts(timeout: Mapping[str, float | None]) -> tuple[float | None, aiohttp.ClientTimeout]:
    """httpx's four timeouts as aiohttp's: connect and pool bound getting a connection, read each socket read.
    aiohttp has no write timeout, so the whole exchange up to the reply's head is bounded by every budget together
    (the first value; None when any is unbounded)."""
    connect, read, write, pool = (timeout.get(part) for part in ("connect", "read", "write", "pool"))
    budget = None if connect is None or read is None or write is None or pool is None else connect + read + write + pool
    return budget, aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )


async def _take(slots: Slots, bounds: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """A slot for an aiohttp request, waited for within its connect bound (the pool wait), and the timeout that
    leaves for the connect itself: the wait and the connect share one bound, as they did inside aiohttp."""
    if slots.try_take():
        return bounds
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(bounds.connect):
            await slots.wait()
    except TimeoutError as exc:
        raise aiohttp.ConnectionTimeoutError("timed out waiting for a connection") from exc
    if bounds.connect is None:
        return bounds
    left = max(bounds.connect - (loop.time() - started), 0.001)
    return aiohttp.ClientTimeout(total=None, connect=left, sock_connect=bounds.sock_connect, sock_read=bounds.sock_read)


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request, release: Callable[[], None]) -> None:
        self._response = response
        self._request = request
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self._request):
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()
        self._release()


def _once(slots: Slots) -> Callable[[], None]:
    """Gives a slot back the first time it is called, never again (a body may be closed twice)."""
    given = False

    def release() -> None:
        nonlocal given
        if not given:
            given = True
            slots.give()

    return release


class AiohttpPool(httpx.AsyncBaseTransport):
    """Requests sent through one aiohttp session, and adapter calls (`exchange`) through the lean client of
    `providers/http1.py`: `max_connections` caps the connections in use by both together (`Slots`; neither has a
    separate idle cap, so `max_keepalive_connections` is not applied); idle ones close after `keepalive_expiry`.
    No cookies kept, no redirect followed; bodies are decompressed by httpx on its way in, on `exchange`'s as
    aiohttp would."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._slots = Slots(limits.max_connections)
        self._ssl: ssl.SSLContext | None = None
        self._session: aiohttp.ClientSession | None = None
        self._h1: Http1Pool | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # the CA bundle httpx verified with (certifi, or SSL_CERT_FILE), for both clients
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: a session belongs to the running loop
            connector = aiohttp.TCPConnector(
                limit=0,  # the cap is `Slots`, taken before aiohttp is asked
                keepalive_timeout=self._limits.keepalive_expiry or 0,
                ssl=self._ssl_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
        return self._session

    def _lean(self) -> Http1Pool:
        if self._h1 is None:  # like the session, bound to the loop of its first use
            self._h1 = Http1Pool(
                self._slots, keepalive_expiry=self._limits.keepalive_expiry, ssl_context=self._ssl_context()
            )
        return self._h1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        budget, timeout = _timeouts(request.extensions.get("timeout", {}))
        content = await request.aread()
        release = _once(self._slots)
        with _as_httpx(request):
            async with asyncio.timeout(budget):
                timeout = await _take(self._slots, timeout)
                try:
                    response = await self._opened().request(
                        request.method,
                        str(request.url),
                        headers=request.headers.multi_items(),
                        data=content or None,
                        allow_redirects=False,
                        compress=False,
                        timeout=timeout,
                    )
                except BaseException:
                    release()
                    raise
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request, release),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def exchange(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeouts: httpx.Timeout
    ) -> Exchanged:
        """One whole request and reply, with the timeouts and the httpx errors (with no `request`) of
        `handle_async_request`. `url` is complete, query included; `headers` are sent as given."""
        split = split_url(method, url)
        if split is None or not _AIOHTTP_DEFAULTS.issubset(headers) or headers["accept-encoding"] != _DECODED:
            return await self._exchange_aiohttp(method, url, headers=headers, body=body, timeouts=timeouts)
        origin, target = split
        return await self._lean().exchange(method, origin, target, headers=headers, body=body, timeouts=timeouts)

    async def _exchange_aiohttp(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeouts: httpx.Timeout
    ) -> Exchanged:
        """`exchange` through aiohttp: for what the lean client leaves to it (see `split_url`)."""
        budget, client_timeout = _timeouts(timeouts.as_dict())
        with _as_httpx(None):
            async with asyncio.timeout(budget):
                client_timeout = await _take(self._slots, client_timeout)
                try:
                    response = await self._opened().request(
                        method,
                        url,
                        headers=headers,
                        data=body,
                        allow_redirects=False,
                        compress=False,
                        auto_decompress=True,
                        timeout=client_timeout,
                    )
                except BaseException:
                    self._slots.give()
                    raise
            try:
                content = await response.read()
            finally:
                response.release()
                self._slots.give()
        joined: dict[str, str] = {}
        for name, value in response.headers.items():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return Exchanged(response.status, joined, content)

    async def aclose(self) -> None:
        if self._h1 is not None:
            self._h1.close()
        if self._session is not None:
            await self._session.close()


class PooledClient(httpx.AsyncClient):
    """An httpx client over an `AiohttpPool` that also exposes the pool, so `Transport` can send on it directly."""

    def __init__(self, limits: httpx.Limits) -> None:
        self.pool = AiohttpPool(limits)
        super().__init__(transport=self.pool)

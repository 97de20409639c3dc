"""The shared upstream client's connection pool: an httpx transport over aiohttp's. httpcore's pool walks every
pooled connection on each request and on each response close (a poll(2) per idle one); aiohttp keeps idle
connections per host and parses HTTP in C, for ~2.5x less CPU per upstream call (bench/RESULTS.md,
upstream_cpu). aiohttp's errors become httpx's own, keeping the line `Transport` draws: a connect or pool timeout
never reached the provider, a later timeout or failure may have.

Two ways in: httpx requests (`handle_async_request`: asset downloads, tests' clients, anything holding an httpx
client), and `exchange`, the lean one `Transport` takes for adapter calls on a `PooledClient`: one aiohttp request
with no httpx Request, Response, URL parsing or cookie extraction around it (a poll costs about half the CPU)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager

import aiohttp
import httpx
import msgspec

CHUNK_BYTES = 64 * 1024


class Exchanged(msgspec.Struct, frozen=True):
    """A whole reply read by `AiohttpPool.exchange`: headers as httpx gives them (lower-case names, repeated ones
    joined by ", ") and the body, decompressed as httpx would."""

    status: int
    headers: dict[str, str]
    body: bytes


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


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx(self._request):
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpPool(httpx.AsyncBaseTransport):
    """Requests sent through one aiohttp session: `max_connections` caps open connections (aiohttp has no separate
    idle cap, so `max_keepalive_connections` is not applied); idle ones close after `keepalive_expiry`. No cookies
    kept, no redirect followed; bodies are decompressed by httpx on its way in, by aiohttp on `exchange`'s."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use: a session belongs to the running loop
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry or 0,
                ssl=httpx.create_ssl_context(),  # the CA bundle httpx verified with (certifi, or SSL_CERT_FILE)
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        budget, timeout = _timeouts(request.extensions.get("timeout", {}))
        content = await request.aread()
        with _as_httpx(request):
            async with asyncio.timeout(budget):
                response = await self._opened().request(
                    request.method,
                    str(request.url),
                    headers=request.headers.multi_items(),
                    data=content or None,
                    allow_redirects=False,
                    compress=False,
                    timeout=timeout,
                )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def exchange(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeouts: httpx.Timeout
    ) -> Exchanged:
        """One whole request and reply, with the timeouts and the httpx errors (with no `request`) of
        `handle_async_request`. `url` is complete, query included; `headers` are sent as given."""
        budget, client_timeout = _timeouts(timeouts.as_dict())
        with _as_httpx(None):
            async with asyncio.timeout(budget):
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
            try:
                content = await response.read()
            finally:
                response.release()
        joined: dict[str, str] = {}
        for name, value in response.headers.items():
            key = name.lower()
            joined[key] = f"{joined[key]}, {value}" if key in joined else value
        return Exchanged(response.status, joined, content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class PooledClient(httpx.AsyncClient):
    """An httpx client over an `AiohttpPool` that also exposes the pool, so `Transport` can send on it directly."""

    def __init__(self, limits: httpx.Limits) -> None:
        self.pool = AiohttpPool(limits)
        super().__init__(transport=self.pool)

"""The lean HTTP/1.1 client under `AiohttpPool.exchange` (providers/http1.py), against raw servers on loopback: what
reaches the wire (the same bytes aiohttp sends), connection reuse, the shared cap, idle expiry, reply framing and
codings, each timeout, and each failure as the httpx error aiohttp's path raised (never reached / may have).

tests/providers/tls/ holds a self-signed certificate for `localhost` and 127.0.0.1 (100 years, test use only)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import struct
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from providers.aiohttp_pool import AiohttpPool
from providers.http1 import split_url

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TLS = Path(__file__).parent / "tls"
FIVE = httpx.Timeout(5.0)
HEADERS = dict(httpx.AsyncClient().headers)  # what `Transport` sends: httpx's defaults


class Server:
    """A raw loopback server that counts connections and requests."""

    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed += 1
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One whole request (head and content-length body), or None at the connection's end."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@contextlib.asynccontextmanager
async def serving(
    handle: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[Server, str]]:
    server = Server(lambda reader, writer: handle(server, reader, writer))
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        listening.close()


def reply(body: bytes = b"{}", *, status: bytes = b"200 OK", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\ncontent-length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


async def ok_each(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request on the connection 200 with its number on the server."""
    while await server.read_request(reader) is not None:
        writer.write(reply(b'{"n":%d}' % len(server.requests)))
        await writer.drain()


@pytest.fixture
async def pool() -> AsyncIterator[AiohttpPool]:
    pool = AiohttpPool(httpx.Limits(max_connections=1, keepalive_expiry=5.0))
    yield pool
    await pool.aclose()


async def test_keep_alive_reuses_one_connection(pool: AiohttpPool) -> None:
    async with serving(ok_each) as (server, url):
        first = await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
        second = await pool.exchange("GET", url + "/b", headers=HEADERS, body=None, timeouts=FIVE)

    assert (first.body, second.body) == (b'{"n":1}', b'{"n":2}')
    assert server.connections == 1
    assert lean_only(pool) == 1


def lean_only(pool: AiohttpPool) -> int:
    """How many connections the lean client keeps idle, after checking aiohttp was never asked."""
    assert pool._session is None
    assert pool._h1 is not None
    return pool._h1.idle_count()


async def test_the_bytes_on_the_wire_are_aiohttps() -> None:
    """Each request shape reaches the server byte for byte as aiohttp's path sends it; headers the lean client
    would send otherwise (no httpx defaults, a coding it cannot decode) leave the call to aiohttp."""
    calls: list[tuple[str, str, dict[str, str], bytes | None, bool]] = [
        ("GET", "/v1/videos/vid_1?page=2&q=a+b", {**HEADERS, "authorization": "Bearer sk"}, None, True),
        ("POST", "/v1/videos", {**HEADERS, "content-type": "application/json"}, b'{"prompt":"a boat"}', True),
        ("POST", "/v1/videos/vid_1/cancel", HEADERS, None, True),
        ("DELETE", "/v1/videos/vid_1", HEADERS, None, True),
        ("PUT", "/upload", HEADERS, b"\x00\x01mp4", True),
        ("PUT", "/upload", {**HEADERS, "content-type": "video/mp4"}, b"\x00\x01mp4", True),
        ("GET", "", HEADERS, None, True),
        ("GET", "/no-defaults", {"authorization": "Bearer sk"}, None, False),
        ("GET", "/br", {**HEADERS, "accept-encoding": "gzip, deflate, br"}, None, False),
    ]
    async with serving(ok_each) as (server, url):
        for method, path, headers, body, lean_path in calls:
            pool = AiohttpPool(httpx.Limits(max_connections=4))
            await pool.exchange(method, url + path, headers=headers, body=body, timeouts=FIVE)
            assert (pool._h1 is not None) is lean_path, path
            await pool._exchange_aiohttp(method, url + path, headers=headers, body=body, timeouts=FIVE)
            await pool.aclose()

    sent = server.requests
    assert len(sent) == 2 * len(calls)
    for lean_bytes, aiohttp_bytes in zip(sent[::2], sent[1::2], strict=True):
        assert lean_bytes == aiohttp_bytes


async def test_a_url_aiohttp_would_rewrite_goes_through_aiohttp(pool: AiohttpPool) -> None:
    """yarl re-quotes escapes: such a URL is left to aiohttp, so the provider sees what it always saw."""
    assert split_url("GET", "http://h/v1/videos?id=a%3Ab") is None
    assert split_url("GET", "http://h/v1/../videos") is None
    assert split_url("HEAD", "http://h/v1/videos") is None
    assert split_url("GET", "http://user:pw@h/v1") is None
    assert split_url("GET", "ftp://h/v1") is None
    async with serving(ok_each) as (server, url):
        got = await pool.exchange("GET", url + "/v1/videos?id=a%3Ab", headers=HEADERS, body=None, timeouts=FIVE)

    assert got.status == 200
    assert server.requests[0].startswith(b"GET /v1/videos?id=a:b HTTP/1.1\r\n")


async def test_a_chunked_reply_is_read_whole(pool: AiohttpPool) -> None:
    async def chunked(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in (b'{"status":', b'"queued"}'):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with serving(chunked) as (_, url):
        got = await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)

    assert got.body == b'{"status":"queued"}'
    assert got.headers["transfer-encoding"] == "chunked"
    assert lean_only(pool) == 1


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        ("gzip", gzip.compress(b'{"status":"queued"}', mtime=0)),
        ("deflate", zlib.compress(b'{"status":"queued"}')),
        ("deflate", zlib.compress(b'{"status":"queued"}')[2:-4]),  # raw deflate, no zlib wrapper
        ("GZIP", gzip.compress(b'{"status":"queued"}', mtime=0)),
    ],
    ids=["gzip", "deflate", "raw-deflate", "upper-case"],
)
async def test_compressed_replies_are_decoded(pool: AiohttpPool, coding: str, packed: bytes) -> None:
    async def compressed(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(reply(packed, extra=b"content-encoding: %s\r\n" % coding.encode()))
        await writer.drain()
        await reader.read()

    async with serving(compressed) as (_, url):
        got = await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)

    assert got.body == b'{"status":"queued"}'
    assert got.headers["content-encoding"] == coding


async def test_a_corrupt_compressed_body_is_a_protocol_error(pool: AiohttpPool) -> None:
    async def corrupt(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(reply(b"not gzip at all", extra=b"content-encoding: gzip\r\n"))
        await writer.drain()
        await reader.read()

    async with serving(corrupt) as (_, url):
        with pytest.raises(httpx.RemoteProtocolError):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)


async def test_connection_close_and_http_1_0_replies_are_not_reused(pool: AiohttpPool) -> None:
    """`connection: close`, and an HTTP/1.0 reply delimited by the connection's end: read whole, then a new
    connection for the next request."""

    async def closing(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        if len(server.requests) == 1:
            writer.write(reply(b'{"n":1}', extra=b"connection: close\r\n"))
        else:
            writer.write(b'HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{"n":2}')
        await writer.drain()

    async with serving(closing) as (server, url):
        first = await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
        second = await pool.exchange("GET", url + "/b", headers=HEADERS, body=None, timeouts=FIVE)
        third = await pool.exchange("GET", url + "/c", headers=HEADERS, body=None, timeouts=FIVE)

    assert (first.body, second.body, third.body) == (b'{"n":1}', b'{"n":2}', b'{"n":2}')
    assert server.connections == 3
    assert lean_only(pool) == 0


async def test_an_informational_reply_is_skipped(pool: AiohttpPool) -> None:
    async def early(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + reply(b"{}", status=b"201 Created"))
        await writer.drain()
        await reader.read()

    async with serving(early) as (_, url):
        got = await pool.exchange("POST", url + "/v", headers=HEADERS, body=b"{}", timeouts=FIVE)

    assert got.status == 201


async def test_idle_connections_close_after_keepalive_expiry() -> None:
    pool = AiohttpPool(httpx.Limits(max_connections=4, keepalive_expiry=0.2))
    async with serving(ok_each) as (server, url):
        await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
        await pool.exchange("GET", url + "/b", headers=HEADERS, body=None, timeouts=FIVE)
        assert (server.connections, server.closed) == (1, 0)
        await asyncio.sleep(0.6)
        assert server.closed == 1  # closed by the pool, unasked
        await pool.exchange("GET", url + "/c", headers=HEADERS, body=None, timeouts=FIVE)
    await pool.aclose()

    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced(pool: AiohttpPool) -> None:
    """The server ends a kept-alive connection between requests: the next request goes on a new one, once."""

    async def one_per_connection(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(reply())  # keep-alive announced, then closed anyway
        await writer.drain()

    async with serving(one_per_connection) as (server, url):
        await pool.exchange("POST", url + "/v", headers=HEADERS, body=b"{}", timeouts=FIVE)
        await asyncio.sleep(0.05)
        await pool.exchange("POST", url + "/v", headers=HEADERS, body=b"{}", timeouts=FIVE)

    assert len(server.requests) == 2
    assert server.connections == 2


async def test_a_request_that_may_have_arrived_is_never_sent_again(pool: AiohttpPool) -> None:
    """The server reads a POST and closes without answering (a stale keep-alive connection looks the same): a
    protocol error, and the POST reached the server exactly once."""

    async def reads_then_drops(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            if b"/drop" in request:
                return
            writer.write(reply())
            await writer.drain()

    async with serving(reads_then_drops) as (server, url):
        await pool.exchange("GET", url + "/warm", headers=HEADERS, body=None, timeouts=FIVE)  # a kept connection
        with pytest.raises(httpx.RemoteProtocolError):
            await pool.exchange("POST", url + "/drop", headers=HEADERS, body=b"{}", timeouts=FIVE)
        await asyncio.sleep(0.05)

    assert [r.split(b" ")[1] for r in server.requests] == [b"/warm", b"/drop"]


async def test_a_reset_is_a_read_error(pool: AiohttpPool) -> None:
    async def resets(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
        writer.transport.abort()

    async with serving(resets) as (_, url):
        with pytest.raises(httpx.ReadError):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)


async def test_a_malformed_or_oversized_reply_is_a_protocol_error(pool: AiohttpPool) -> None:
    replies = [
        b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 8190 + b"\r\ncontent-length: 0\r\n\r\n",  # over aiohttp's 8190
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"x-%d: 1\r\n" % n for n in range(200)) + b"content-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}",  # then the connection ends
        b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\ncontent-length: 2\r\n\r\n{}",
    ]

    async def bad(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(replies[len(server.requests) - 1])
        await writer.drain()

    async with serving(bad) as (_, url):
        for _ in replies:
            with pytest.raises(httpx.RemoteProtocolError):
                await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)


async def test_a_hang_up_before_any_reply_is_a_protocol_error(pool: AiohttpPool) -> None:
    async def hangs_up(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)

    async with serving(hangs_up) as (_, url):
        with pytest.raises(httpx.RemoteProtocolError):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)


async def test_each_read_has_its_own_timeout_once_the_head_is_in(pool: AiohttpPool) -> None:
    """A body trickling in, each piece within the read timeout, takes longer than it in all: read whole. A body
    that stops for longer than the read timeout: a read timeout."""

    async def trickles(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n")
        pause = 0.1 if len(server.requests) == 1 else 1.0
        for piece in (b"ab", b"cd", b"ef"):
            await asyncio.sleep(pause)
            writer.write(piece)
            await writer.drain()
        await reader.read()

    timeouts = httpx.Timeout(0.4, read=0.25)
    async with serving(trickles) as (_, url):
        got = await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=timeouts)
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=timeouts)

    assert got.body == b"abcdef"
    assert time.perf_counter() - started < 0.9


async def test_the_whole_budget_bounds_a_head_that_never_completes(pool: AiohttpPool) -> None:
    """A head sent one byte at a time, each within the read timeout: the four timeouts together bound it."""

    async def drips(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await server.read_request(reader)
        for byte in b"HTTP/1.1 200 OK\r\nx-slow: " + b"z" * 100:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)

    timeouts = httpx.Timeout(0.1, read=0.2)  # budget: 0.1 + 0.2 + 0.1 + 0.1
    async with serving(drips) as (_, url):
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=timeouts)

    assert 0.45 <= time.perf_counter() - started < 2.0


async def test_a_request_the_server_never_reads_is_bounded_by_the_budget(pool: AiohttpPool) -> None:
    """There is no write timeout of its own: a large body the server never takes waits out the whole budget."""

    async def never_reads(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    timeouts = httpx.Timeout(0.1, read=0.2)
    async with serving(never_reads) as (_, url):
        with pytest.raises(httpx.ReadTimeout):
            await pool.exchange("PUT", url + "/up", headers=HEADERS, body=b"x" * 32 * 1024 * 1024, timeouts=timeouts)


async def test_a_tls_handshake_that_never_ends_is_a_connect_timeout(pool: AiohttpPool) -> None:
    """Connecting includes TLS: a server that accepts and never answers the handshake times out as never sent."""

    async def mute(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async with serving(mute) as (_, url):
        started = time.perf_counter()
        with pytest.raises(httpx.ConnectTimeout):
            await pool.exchange(
                "GET", url.replace("http:", "https:") + "/s", headers=HEADERS, body=None, timeouts=httpx.Timeout(0.2)
            )

    assert time.perf_counter() - started < 1.5


async def test_a_refused_connection_is_a_connect_error(pool: AiohttpPool) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await pool.exchange("GET", f"http://127.0.0.1:{port}/s", headers=HEADERS, body=None, timeouts=FIVE)


async def silent(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await server.read_request(reader)
    await asyncio.sleep(30)


async def test_one_cap_counts_streamed_downloads_and_exchanges_together(pool: AiohttpPool) -> None:
    """With one connection allowed: an open streamed download (aiohttp) leaves an exchange waiting until its pool
    timeout, as never sent; an exchange in flight does the same to a download; each slot comes back after."""

    async def download(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await server.read_request(reader)) is not None:
            if b"/slow" in request:
                await asyncio.sleep(30)
            writer.write(reply(b"mp4"))
            await writer.drain()

    async with serving(download) as (_, url), httpx.AsyncClient(transport=pool) as client:
        async with client.stream("GET", url + "/asset", timeout=5) as streamed:
            with pytest.raises(httpx.ConnectTimeout):
                await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=httpx.Timeout(0.2))
            assert await streamed.aread() == b"mp4"
        got = await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE)
        assert got.body == b"mp4"

        slow = asyncio.create_task(
            pool.exchange("GET", url + "/slow", headers=HEADERS, body=None, timeouts=httpx.Timeout(30))
        )
        await asyncio.sleep(0.1)
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(url + "/asset", timeout=0.2)
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
        assert (await client.get(url + "/asset", timeout=5)).content == b"mp4"


async def test_failed_and_cancelled_exchanges_give_their_slot_back(pool: AiohttpPool) -> None:
    async with serving(silent) as (_, url):
        with pytest.raises(httpx.ReadTimeout):
            await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=httpx.Timeout(0.1))
        task = asyncio.create_task(pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE))
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    async with serving(ok_each) as (_, url):
        got = await pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=httpx.Timeout(0.5))

    assert got.status == 200


async def test_a_waiter_gets_the_slot_a_finished_exchange_gives_back() -> None:
    pool = AiohttpPool(httpx.Limits(max_connections=1))

    async def slow_ok(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            await asyncio.sleep(0.1)
            writer.write(reply())
            await writer.drain()

    async with serving(slow_ok) as (server, url):
        replies = await asyncio.gather(
            *(pool.exchange("GET", url + "/s", headers=HEADERS, body=None, timeouts=FIVE) for _ in range(3))
        )
    await pool.aclose()

    assert [got.status for got in replies] == [200, 200, 200]
    assert server.connections == 1


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A TLS server context for the test certificate, which httpx's default context is made to trust."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "localhost.crt"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
    return context


async def test_tls_verifies_the_certificate_and_sends_sni(pool: AiohttpPool, trusted: ssl.SSLContext) -> None:
    names: list[str | None] = []
    trusted.sni_callback = lambda _sock, name, _context: names.append(name)  # type: ignore[assignment,func-returns-value]
    async with serving(ok_each, tls=trusted) as (server, url):
        url = url.replace("127.0.0.1", "localhost")
        first = await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
        second = await pool.exchange("GET", url + "/b", headers=HEADERS, body=None, timeouts=FIVE)

    assert (first.body, second.body) == (b'{"n":1}', b'{"n":2}')
    assert names == ["localhost"]
    assert server.connections == 1
    assert lean_only(pool) == 1
    assert server.requests[0].startswith(b"GET /a HTTP/1.1\r\nHost: localhost:")


async def test_an_untrusted_certificate_is_a_connect_error(
    trusted: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    pool = AiohttpPool(httpx.Limits(max_connections=1))
    async with serving(ok_each, tls=trusted) as (server, url):
        with pytest.raises(httpx.ConnectError):
            await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
    await pool.aclose()

    assert server.requests == []


async def test_bytes_after_a_reply_end_the_connection(pool: AiohttpPool) -> None:
    """A reply followed by more than was asked for: the reply stands, the connection is not used again."""

    async def chatty(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await server.read_request(reader) is not None:
            writer.write(reply(b'{"n":%d}' % len(server.requests)) + b"HTTP/1.1 200 OK\r\ncontent-length: 9")
            await writer.drain()

    async with serving(chatty) as (server, url):
        first = await pool.exchange("GET", url + "/a", headers=HEADERS, body=None, timeouts=FIVE)
        second = await pool.exchange("GET", url + "/b", headers=HEADERS, body=None, timeouts=FIVE)

    assert (first.body, second.body) == (b'{"n":1}', b'{"n":2}')
    assert server.connections == 2


@pytest.mark.parametrize("value", ["Bearer sk\r\nx-evil: 1", "Bearer sk\n", "Bearer \x00sk", "Bearer \x7fsk"])
async def test_a_control_character_in_a_header_is_refused(pool: AiohttpPool, value: str) -> None:
    """A line break or another control character in a header value (a key read with its newline) is refused, as
    aiohttp refuses it, before anything is sent; a tab is allowed."""
    async with serving(ok_each) as (server, url):
        with pytest.raises(ValueError, match="Forbidden control character detected in headers"):
            await pool.exchange(
                "GET", url + "/s", headers={**HEADERS, "authorization": value}, body=None, timeouts=FIVE
            )
        tabbed = await pool.exchange("GET", url + "/t", headers={**HEADERS, "x-tab": "a\tb"}, body=None, timeouts=FIVE)

    assert tabbed.status == 200
    assert len(server.requests) == 1

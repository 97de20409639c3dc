"""`AiohttpPool` under httpx, and `Transport`'s lean path on a `PooledClient`, against raw servers on loopback: what
reaches the wire, and each failure as the httpx error (and so the upstream error) httpcore would have raised."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from providers.aiohttp_pool import AiohttpPool, PooledClient
from providers.contract import HttpCall, Operation, ProviderSettings, UpstreamTimeout, UpstreamUnavailable
from providers.transport import Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)
STATUS = HttpCall(method="GET", path="/v2/status", operation=Operation.STATUS)


@pytest.fixture(params=["httpx", "lean"])
def pooled(request: pytest.FixtureRequest) -> Callable[[], httpx.AsyncClient]:
    """A client over the pool: a plain httpx client (Transport sends through httpx), or a `PooledClient`
    (Transport sends on the pool directly)."""
    if request.param == "httpx":
        return lambda: httpx.AsyncClient(transport=AiohttpPool(LIMITS))
    return lambda: PooledClient(LIMITS)


@contextlib.asynccontextmanager
async def raw_server(handle: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request 201 with its request line, headers and body echoed back in the body."""
    while head := await reader.readuntil(b"\r\n\r\n"):
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        body = head + await reader.readexactly(length)
        writer.write(b"HTTP/1.1 201 Created\r\nx-echo: yes\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        if reader.at_eof():
            return


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await asyncio.sleep(30)


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


def transport(client: httpx.AsyncClient, base_url: str, timeout_s: float) -> Transport:
    settings = ProviderSettings(base_url=base_url, api_key="sk-test", timeout_s=timeout_s)
    return Transport(client, settings, provider="vidgen")


async def test_request_and_reply_cross_the_wire_intact(pooled: Callable[[], httpx.AsyncClient]) -> None:
    """Method, path, query, headers and JSON body reach the server; status, headers and body come back."""
    async with raw_server(echo) as url, pooled() as client:
        call = HttpCall(
            method="POST",
            path="/v2/generate",
            operation=Operation.GENERATE,
            headers={"authorization": "Bearer sk-test"},
            params={"page": "2"},
            json={"prompt": "a paper boat"},
        )
        reply = await transport(client, url, 5.0).send(call)
        again = await transport(client, url, 5.0).send(call)

    assert reply.status_code == 201
    assert reply.headers["x-echo"] == "yes"
    assert reply.body.startswith(b"POST /v2/generate?page=2 HTTP/1.1\r\n")
    assert b"\r\nauthorization: bearer sk-test\r\n" in reply.body.lower()
    assert b"\r\ncontent-type: application/json\r\n" in reply.body.lower()
    assert reply.body.endswith(b'\r\n\r\n{"prompt":"a paper boat"}')
    assert again.body == reply.body


async def test_no_answer_is_a_timeout_whose_outcome_is_unknown(pooled: Callable[[], httpx.AsyncClient]) -> None:
    """A provider that takes the request and never answers: a timeout that may have been accepted."""
    async with raw_server(silent) as url, pooled() as client:
        with pytest.raises(UpstreamTimeout) as caught:
            await transport(client, url, 0.2).send(STATUS)

    assert caught.value.outcome_unknown is True
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_a_full_pool_times_out_as_never_sent(pooled: Callable[[], httpx.AsyncClient]) -> None:
    """With the one connection busy, a second call that waits out its timeout never reached the provider."""
    async with raw_server(silent) as url, pooled() as client:
        busy = asyncio.create_task(client.get(url, timeout=30))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamTimeout) as caught:
            await transport(client, url, 0.2).send(STATUS)
        busy.cancel()

    assert caught.value.outcome_unknown is False
    assert isinstance(caught.value.__cause__, httpx.ConnectTimeout)


async def test_a_hang_up_and_a_refused_connection_are_unavailable(pooled: Callable[[], httpx.AsyncClient]) -> None:
    """A connection closed before any reply, and a port nobody listens on: the provider is unavailable."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{unused.getsockname()[1]}"
    call = STATUS
    async with raw_server(hang_up) as url, pooled() as client:
        with pytest.raises(UpstreamUnavailable) as hung_up:
            await transport(client, url, 5.0).send(call)
        with pytest.raises(UpstreamUnavailable) as not_listening:
            await transport(client, refused, 5.0).send(call)

    assert isinstance(hung_up.value.__cause__, httpx.RemoteProtocolError)
    assert isinstance(not_listening.value.__cause__, httpx.ConnectError)


async def gzipped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers one request with a gzip body and a header sent twice."""
    await reader.readuntil(b"\r\n\r\n")
    body = gzip.compress(b'{"status":"queued"}')
    head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\nx-limit: 10\r\nX-Limit: 20\r\ncontent-length: %d\r\n\r\n"
    writer.write(head % len(body) + body)
    await writer.drain()


async def test_a_compressed_reply_and_a_repeated_header_read_as_httpx_reads_them(
    pooled: Callable[[], httpx.AsyncClient],
) -> None:
    """The body decompressed, header names in lower case, a repeated header's values joined."""
    async with raw_server(gzipped) as url, pooled() as client:
        reply = await transport(client, url, 5.0).send(STATUS)

    assert reply.body == b'{"status":"queued"}'
    assert reply.headers["x-limit"] == "10, 20"
    assert reply.headers["content-encoding"] == "gzip"


async def test_both_paths_send_httpx_default_headers(pooled: Callable[[], httpx.AsyncClient]) -> None:
    """The lean path sends what httpx adds to every request, so a provider sees the same client either way."""
    async with raw_server(echo) as url, pooled() as client:
        reply = await transport(client, url, 5.0).send(STATUS)

    sent = reply.body.lower()
    assert b"\r\nuser-agent: python-httpx/" in sent
    assert b"\r\naccept-encoding: gzip, deflate" in sent
    assert b"\r\naccept: */*\r\n" in sent

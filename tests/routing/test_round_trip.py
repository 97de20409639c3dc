"""`send_commands` on a real Redis and on a server that never answers: replies come back in order with an error
reply in its command's place, a batch cut short never leaves its replies for the next one, and a silent server is
redis-py's TimeoutError once the client's retries are spent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import hiredis
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from routing.round_trip import pairs, send_commands
from tests.conftest import REDIS_URL


async def test_replies_come_back_in_order_with_an_error_reply_in_its_place(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """INCR on a key holding text is that command's error; the commands after it ran and answered."""
    text, counter, hash_key = f"{redis_prefix}text", f"{redis_prefix}counter", f"{redis_prefix}hash"
    await redis_client.set(text, "not a number")

    replies = await send_commands(
        redis_client,
        [("INCR", text), ("INCRBY", counter, 5), ("HSET", hash_key, "a", 1, "b", 2.5), ("HGETALL", hash_key)],
    )

    assert isinstance(replies[0], redis.exceptions.ResponseError)
    assert replies[1:3] == [5, 2]
    assert pairs(replies[3]) == {b"a": b"1", b"b": b"2.5"}
    assert await redis_client.get(counter) == b"5"


async def test_a_batch_cut_short_leaves_no_reply_for_the_next(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    """A batch cancelled while Redis still blocks on it (BLPOP) does not hand its connection back with the reply
    pending: the next batch on the client reads its own replies."""
    client = aioredis.Redis.from_url(REDIS_URL, max_connections=1)  # one connection: the next batch must reuse it
    key = f"{redis_prefix}k"
    try:
        cut = asyncio.create_task(send_commands(client, [("SET", key, "mine"), ("BLPOP", f"{redis_prefix}empty", 1)]))
        await asyncio.sleep(0.2)
        cut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cut

        assert await send_commands(client, [("GET", key), ("PING",)]) == [b"mine", b"PONG"]
    finally:
        await client.aclose()


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[int, list[int]]]:
    """A server that takes a connection's handshake (CLIENT SETINFO: +OK) and then never answers a command: (its
    port, connections accepted so far)."""
    accepted = [0]
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[0] += 1
        held.append(writer)
        commands = hiredis.Reader()
        while data := await reader.read(65536):
            commands.feed(data)
            while (command := commands.gets()) is not False:
                if command[0].upper() == b"CLIENT":
                    writer.write(b"+OK\r\n")

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], accepted
        for writer in held:
            writer.transport.abort()


async def test_a_server_that_never_answers_is_a_timeout_after_the_retries(
    silent_server: tuple[int, list[int]],
) -> None:
    """Each try waits the socket timeout for the batch's replies, then drops its connection; the retry sends the
    batch again on a new one; when the retries are spent the caller gets redis-py's TimeoutError."""
    port, accepted = silent_server
    client = aioredis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 2),
        protocol=2,
    )
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            await send_commands(client, [("PING",), ("PING",)])
    finally:
        await client.aclose()
    assert accepted[0] == 3  # the first try and two retries, each on a connection of its own


def test_a_hash_reply_becomes_a_dict_from_either_protocol() -> None:
    """RESP2's flat list of fields and values and RESP3's map read the same."""
    assert pairs([b"a", b"1", b"b", b"2"]) == {b"a": b"1", b"b": b"2"}
    assert pairs({b"a": b"1"}) == {b"a": b"1"}
    assert pairs([]) == {}

"""One round trip to a single Redis node: a list of commands written at once, their replies read back in order,
each reply or error reply in its command's place. The batched callers (routing/batching.py, the store's MGET
reader) send through it instead of redis-py's `Pipeline`, whose bookkeeping per command (the command stack, the
response callbacks, a timeout context per reply) cost more CPU than the command itself on the create path.

What it keeps of redis-py: the client's connection pool (so sentinel-managed and TLS connections, AUTH and the
connect handshake are redis-py's), each connection's `read_response` (with its own disconnect on a read that fails;
`timeout=math.inf` is redis-py's, since 8.1, for a read it must not time out itself) under one deadline per batch,
and the client's `Retry` policy over the whole batch, as a pipeline has it. It applies no response callbacks:
callers get the server's replies as they are (an HGETALL is a flat list on RESP2).
Single-node clients only; a cluster routes by key slot (its callers keep redis-py's cluster paths)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

Command = Sequence[str | bytes | int | float]


async def send_commands(client: aioredis.Redis, commands: Sequence[Command]) -> list[Any]:
    """The replies to `commands`, sent together on one of `client`'s connections; an error reply is returned in its
    command's place as the `ResponseError` redis-py makes of it (the commands around it did run). A connection
    error or a timeout is retried by the client's `Retry` policy, the whole batch again on a new connection, as
    redis-py retries a pipeline; when retries run out it is raised."""
    # hiredis's stub types the argument as a tuple of one element; it takes a command of any length.
    packed = b"".join([hiredis.pack_command(tuple(command)) for command in commands])  # type: ignore[arg-type]
    pool = client.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]  # a deprecation wrapper drops its types
    try:
        replies: list[Any] = await connection.retry.call_with_retry(
            lambda: _exchange(connection, packed, len(commands)), lambda _error: connection.disconnect()
        )
        return replies
    finally:
        await pool.release(connection)


async def _exchange(connection: AbstractConnection, packed: bytes, count: int) -> list[Any]:
    try:
        await connection.send_packed_command(packed)
        replies: list[Any] = []
        # One deadline for the batch's replies (the connection's socket timeout, as each reply has on its own in a
        # pipeline): redis-py's timeout context per reply cost more than reading the reply.
        async with asyncio.timeout(connection.socket_timeout):
            for _ in range(count):
                try:
                    replies.append(await connection.read_response(timeout=math.inf))
                except ResponseError as exc:
                    replies.append(exc)
        return replies
    except TimeoutError as exc:  # the retry policy and the stores know redis-py's own
        await connection.disconnect(nowait=True)
        raise redis.exceptions.TimeoutError("Timeout reading the replies of a batch") from exc
    except BaseException:
        # A batch cut short (a cancellation between two replies included) leaves replies unread on the socket: the
        # connection must not go back to the pool as it is.
        await connection.disconnect(nowait=True)
        raise


def pairs(reply: Any) -> dict[bytes, bytes]:
    """An HGETALL reply as a dict: RESP2 sends a flat list of fields and values, RESP3 a map."""
    if isinstance(reply, dict):
        return reply
    fields = iter(reply)
    return dict(zip(fields, fields, strict=True))

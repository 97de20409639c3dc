"""Counts the round trips a client makes: every write to the server from its connections, with the commands in
it, whichever path sent them (a redis-py pipeline, a command on its own, `routing.round_trip`). For tests that
check that calls made together share a round trip (single-node clients only)."""

from __future__ import annotations

from typing import Any

import hiredis
import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection

# What a connection sends of its own when it connects, before any command of the caller's.
_HANDSHAKE = {"AUTH", "CLIENT", "HELLO", "SELECT", "READONLY"}


class RoundTrips:
    def __init__(self, client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[list[tuple[str, ...]]] = []
        """One entry per round trip: the commands it carried (name and keys or arguments as text)."""
        pool = client.connection_pool
        real_get = pool.get_connection
        watched: set[int] = set()

        async def get_connection(*args: Any, **kwargs: Any) -> AbstractConnection:
            connection = await real_get(*args, **kwargs)
            if id(connection) not in watched:
                watched.add(id(connection))
                self._watch(connection, monkeypatch)
            return connection

        monkeypatch.setattr(pool, "get_connection", get_connection)

    def _watch(self, connection: AbstractConnection, monkeypatch: pytest.MonkeyPatch) -> None:
        send = connection.send_packed_command

        async def recorded(command: Any, check_health: bool = True) -> None:
            commands = _decode(command)
            if commands and commands[0][0].upper() not in _HANDSHAKE:
                self.sent.append(commands)
            await send(command, check_health)

        monkeypatch.setattr(connection, "send_packed_command", recorded)

    def commands(self, name: str) -> list[tuple[str, ...]]:
        """Every command `name` sent, in order, whatever round trip carried it."""
        return [command for trip in self.sent for command in trip if command[0].upper() == name]


def _decode(packed: Any) -> list[tuple[str, ...]]:
    """The commands in what a connection writes (RESP arrays of bulk strings, read back with hiredis's reader)."""
    chunks = [packed] if isinstance(packed, bytes | str) else list(packed)
    reader = hiredis.Reader()
    reader.feed(b"".join(chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in chunks))
    commands = []
    while (command := reader.gets()) is not False:
        commands.append(tuple(part.decode() for part in command))
    return commands


def count_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times any connection writes to the server from now on (one element, counted up)."""
    sends = [0]
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sends[0] += 1
        await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sends

"""Counts the round trips a client makes: every pipeline it executes, with the commands in it, and every command
sent on its own. For tests that check that calls made together share a round trip (single-node clients only)."""

from __future__ import annotations

from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection


class RoundTrips:
    def __init__(self, client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[list[tuple[str, ...]]] = []
        """One entry per round trip: the commands it carried (name and keys or arguments as text)."""
        real_pipeline, real_execute = client.pipeline, client.execute_command

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = real_pipeline(*args, **kwargs)
            execute = pipe.execute

            async def recorded(*args: Any, **kwargs: Any) -> Any:
                if pipe.command_stack:
                    self.sent.append([_text(command) for command, _ in pipe.command_stack])
                return await execute(*args, **kwargs)

            pipe.execute = recorded  # type: ignore[method-assign]
            return pipe

        async def execute_command(*args: Any, **kwargs: Any) -> Any:
            self.sent.append([_text(args)])
            return await real_execute(*args, **kwargs)

        monkeypatch.setattr(client, "pipeline", pipeline)
        monkeypatch.setattr(client, "execute_command", execute_command)

    def commands(self, name: str) -> list[tuple[str, ...]]:
        """Every command `name` sent, in order, whatever round trip carried it."""
        return [command for trip in self.sent for command in trip if command[0].upper() == name]


def _text(command: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(part.decode() if isinstance(part, bytes) else str(part) for part in command)


def count_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times any connection writes to the server from now on (one element, counted up)."""
    sends = [0]
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sends[0] += 1
        await original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sends

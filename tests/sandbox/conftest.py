"""What every emulator test shares: one emulator served on loopback on hand-moved clocks, and arming a fault
switch. Each provider's conftest builds its emulator with `running_emulator` and serves one per test module."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

import httpx
from litestar import Litestar

from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app
from tests.conftest import WALL_START, FakeClock


class Sandbox(NamedTuple):
    client: httpx.AsyncClient
    clock: FakeClock
    wall: FakeClock
    base_url: str


@contextlib.asynccontextmanager
async def running_emulator(
    make: Callable[[FakeClock, FakeClock], Litestar], *, wall_start: float = WALL_START
) -> AsyncIterator[Sandbox]:
    """Serve the emulator `make(clock, wall_clock)` builds, with a client that opens a connection per request."""
    clock, wall = FakeClock(100.0), FakeClock(wall_start)
    limits = httpx.Limits(max_keepalive_connections=0)
    async with serve_app(make(clock, wall)) as base_url, httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        yield Sandbox(client, clock, wall, base_url)


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    await SandboxControl(client).arm(FaultSpec(**spec))  # raises unless 201

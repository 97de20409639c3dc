"""What every emulator test module shares: hand-moved clocks and one emulator served on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple

import httpx
from litestar import Litestar

from sandbox.serving import serve_app

WALL_START = 1_750_000_000.0  # 2025-06-15T15:06:40Z


class FakeClock:
    """A clock the test moves by hand; with `step` set, every reading also moves it on by `step`."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.step = 0.0

    def __call__(self) -> float:
        reading = self.now
        self.now += self.step
        return reading

    def advance(self, seconds: float) -> None:
        self.now += seconds


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

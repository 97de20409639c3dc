"""Shared by the retention tests: a clock the memory stores read (advanced by hand, so nothing sleeps) and a
bounded wait for Redis, whose TTLs run on its own clock. Only helpers; fixtures live in each module."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class ManualClock:
    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0) -> None:
    """Poll `check` until it holds; bounded, so a record that never goes fails the test (no timing asserted)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)

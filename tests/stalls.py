"""A bound on a test's whole run that, when it fires, prints where every task of the loop was waiting: a stall
then fails with the stack of what stalled, not only the test's own frame."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def bounded(timeout_s: float) -> AsyncIterator[None]:
    """`asyncio.timeout(timeout_s)`, and when it expires, every task's stack on stdout (pytest shows it with the
    failure)."""
    loop = asyncio.get_running_loop()
    handle = loop.call_later(timeout_s - 0.5, _print_tasks) if timeout_s > 1 else None
    try:
        async with asyncio.timeout(timeout_s):
            yield
    finally:
        if handle is not None:
            handle.cancel()


def _print_tasks() -> None:
    out = io.StringIO()
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}: {task.get_coro()!r}", file=out)
        task.print_stack(limit=40, file=out)
    print(f"the loop's tasks half a second before the bound:\n{out.getvalue()}")

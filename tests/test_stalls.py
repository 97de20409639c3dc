"""`bounded` fails a stalled run with the stack of the task that stalled."""

from __future__ import annotations

import asyncio

import pytest

from tests.stalls import bounded


async def _stuck_in_shutdown() -> None:
    await asyncio.Event().wait()


async def test_a_stall_past_the_bound_prints_where_each_task_waits(capsys: pytest.CaptureFixture[str]) -> None:
    """A task waiting forever: the bound raises TimeoutError, and the output names the coroutine it waits in."""
    stuck = asyncio.create_task(_stuck_in_shutdown(), name="stuck")
    with pytest.raises(TimeoutError):
        async with bounded(1.5):
            await stuck
    out = capsys.readouterr().out
    assert "--- task stuck" in out
    assert "_stuck_in_shutdown" in out

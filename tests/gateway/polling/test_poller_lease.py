"""One claim's lease shared by the polls it started (`_Lease`): one timer cuts every upstream call still running
when the claim's call budget is spent, as `asyncio.timeout` would around each; nothing else changes meaning."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from gateway.polling.poller import LeaseSpent, _Lease

BUDGET_S = 0.05


async def _answer(value: str, after_s: float) -> str:
    await asyncio.sleep(after_s)
    return value


async def test_calls_still_running_when_the_budget_is_spent_time_out_and_the_others_answer() -> None:
    lease = _Lease(calls_end_at=0.0, polls=3)
    quick = asyncio.create_task(lease.bound(_answer("quick", 0.0), BUDGET_S))
    slow = [asyncio.create_task(lease.bound(_answer("slow", 10.0), BUDGET_S)) for _ in range(2)]

    assert await quick == "quick"
    for task in slow:
        with pytest.raises(TimeoutError):
            await task
        assert task.cancelling() == 0  # the lease's cancel was withdrawn: the task goes on as if uncut


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    lease = _Lease(calls_end_at=0.0, polls=1)
    task = asyncio.create_task(lease.bound(_answer("slow", 10.0), 10.0))
    await asyncio.sleep(0)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancel_from_outside_at_the_cut_stays_a_cancel() -> None:
    """Both at once (the lease's timer and, say, a shutdown): the task is being cancelled, not timed out."""
    lease = _Lease(calls_end_at=0.0, polls=1)
    outcome: list[str] = []

    async def poll() -> None:
        try:
            await lease.bound(_answer("slow", 10.0), 10.0)
        except TimeoutError:
            outcome.append("timeout")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    task = asyncio.create_task(poll())
    await asyncio.sleep(0)
    lease._expire()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]


async def test_no_call_starts_once_the_budget_is_spent() -> None:
    lease = _Lease(calls_end_at=0.0, polls=2)
    with pytest.raises(TimeoutError):
        await lease.bound(_answer("slow", 10.0), 0.0)
    late = _answer("late", 0.0)

    with pytest.raises(LeaseSpent):
        await lease.bound(late, BUDGET_S)
    assert inspect.getcoroutinestate(late) == inspect.CORO_CLOSED  # never to be awaited


async def test_the_timer_goes_with_the_claims_last_poll() -> None:
    lease = _Lease(calls_end_at=0.0, polls=2)
    assert await lease.bound(_answer("one", 0.0), 10.0) == "one"
    lease.poll_done()
    timer = lease._timer
    assert timer is not None
    assert not timer.cancelled()
    lease.poll_done()

    assert timer.cancelled()

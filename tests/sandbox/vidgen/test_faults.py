"""The Vidgen v2 emulator's test controls over real HTTP: prompt markers that force an outcome, the
/_sandbox/faults switches and the /_sandbox/stats counters. Normal replies and job timing live elsewhere."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from sandbox.faults import Outcome, marker_outcome
from tests.conftest import FakeClock
from tests.sandbox.conftest import add_fault
from tests.sandbox.vidgen.conftest import call, poll, submit

# One emulator serves the whole module (starting and stopping one takes ~0.2 s); fixtures reset its
# clocks, switches and statistics around each test. The mark reaches every test, so even the pure
# ones below are `async def`.
pytestmark = pytest.mark.asyncio(loop_scope="module")


# --------------------------------------------------------------------------------------------------- markers


async def test_block_marker_refuses_the_submit(client: httpx.AsyncClient) -> None:
    """A prompt with [sandbox:block] fails the generate call with 400 Content blocked."""
    reply = await call(client, {"action": "generate", "scenes": [{"prompt": "ok"}, {"prompt": "x [sandbox:block]"}]})
    assert (reply.status_code, reply.json()) == (400, {"error": "Content blocked"})


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("[sandbox:fail]", {"status": "FAILED", "error": "Generation failed"}),
        ("[sandbox:timeout]", {"status": "TIMED_OUT", "error": "Job execution timed out"}),
        ("[SANDBOX:CANCEL]", {"status": "CANCELLED"}),
    ],
)
async def test_outcome_markers_pick_the_terminal_state(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, expected: dict[str, Any]
) -> None:
    """A marker in any scene makes the job end FAILED, TIMED_OUT or CANCELLED after the normal phases."""
    job = await submit(client, "ocean", f"gulls {marker}")
    clock.advance(1.5)
    assert (await poll(client, job))["status"] == "IN_PROGRESS"
    clock.advance(1_000)
    assert await poll(client, job) == expected


async def test_unsafe_marker_completes_without_meta(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:unsafe] ends COMPLETED with compliance unsafe, the flagged category and no meta."""
    job = await submit(client, "ocean [sandbox:unsafe]")
    clock.advance(1_000)
    body = await poll(client, job)
    assert (body["status"], body["compliance"]) == ("COMPLETED", "unsafe")
    assert body["error"] == "Content blocked — flagged for: Violence."
    assert body["filter_categories"] == ["violence"]
    assert "meta" not in body


async def test_stuck_marker_never_finishes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:stuck] stays IN_PROGRESS however long the job runs."""
    job = await submit(client, "ocean [sandbox:stuck]")
    clock.advance(1e9)
    assert await poll(client, job) == {"status": "IN_PROGRESS"}


async def test_marker_outcome_prefers_the_earliest_outcome_and_ignores_case() -> None:
    """Several markers resolve in Outcome order; no marker means no forced outcome."""
    assert marker_outcome(["a [sandbox:STUCK]", "b [sandbox:unsafe]"]) is Outcome.UNSAFE
    assert marker_outcome(["plain prompt", "[sandbox:nothing]"]) is None


# --------------------------------------------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("action", "status_code", "error"),
    [
        ("generate", 502, "Generation failed"),
        ("optimize", 502, "Enhancement failed"),
        ("status", 400, "Bad ID"),
        ("models", 503, "Service Unavailable"),
    ],
)
async def test_status_switch_answers_with_the_vendor_error(
    client: httpx.AsyncClient, action: str, status_code: int, error: str
) -> None:
    """A status-code switch without a body answers with the seed's error for that action and status."""
    await add_fault(client, action=action, status_code=status_code)
    body = {"action": action, "id": "run_x", "prompt": "p", "scenes": [{"prompt": "p"}]}
    reply = await call(client, body)
    assert (reply.status_code, reply.json()) == (status_code, {"error": error})


async def test_body_switch_sends_malformed_json(client: httpx.AsyncClient) -> None:
    """A body switch sends its raw text verbatim, so a 200 can carry broken JSON."""
    await add_fault(client, action="status", body='{"status": "COMPL')
    reply = await call(client, {"action": "status", "id": "run_x", "model": "scenex"})
    assert (reply.status_code, reply.text) == (200, '{"status": "COMPL')
    with pytest.raises(json.JSONDecodeError):
        reply.json()


async def test_delay_switch_makes_the_client_time_out(client: httpx.AsyncClient) -> None:
    """A delay longer than the client's timeout surfaces as a read timeout; the next call is served."""
    await add_fault(client, action="models", delay_s=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await call(client, {"action": "models"}, timeout=0.05)
    assert (await call(client, {"action": "models"})).status_code == 200


async def test_delay_alone_still_serves_the_call(client: httpx.AsyncClient) -> None:
    """A delay with no status or body answers normally once the delay is over."""
    await add_fault(client, action="generate", delay_s=0.01)
    job = await submit(client)
    assert job["model"] == "scenex"


async def test_switch_is_consumed_after_times_calls(client: httpx.AsyncClient) -> None:
    """A switch with times 2 hits the next two matching calls, then the vendor answers normally."""
    await add_fault(client, action="models", status_code=502, times=2)
    codes = [(await call(client, {"action": "models"})).status_code for _ in range(3)]
    assert codes == [502, 502, 200]


async def test_unlimited_switch_lasts_until_cleared(client: httpx.AsyncClient) -> None:
    """times -1 keeps failing calls until DELETE /_sandbox/faults."""
    await add_fault(client, action="*", status_code=502, times=-1)
    codes = [(await call(client, {"action": action})).status_code for action in ("models", "random", "models")]
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    codes.append((await call(client, {"action": "models"})).status_code)
    assert codes == [502, 502, 502, 200]


async def test_switch_only_hits_its_action(client: httpx.AsyncClient) -> None:
    """A switch for generate leaves other actions alone and waits for the next generate."""
    await add_fault(client, action="generate", status_code=502)
    assert (await call(client, {"action": "models"})).status_code == 200
    assert (await call(client, {"action": "generate", "scenes": [{"prompt": "p"}]})).status_code == 502


@pytest.mark.parametrize("spec", [{"times": 0}, {"status_code": 700}, {"delay_s": -1}, {"colour": "red"}])
async def test_invalid_switch_is_rejected(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    """A switch with a zero count, an impossible status, a negative delay or an unknown field gets 400."""
    assert (await client.post("/_sandbox/faults", json=spec)).status_code == 400


# --------------------------------------------------------------------------------------------------- stats


async def test_stats_count_calls_per_action_and_per_job(client: httpx.AsyncClient) -> None:
    """Stats count every call by action, faulted ones included, and status calls by job id."""
    first, second = await submit(client), await submit(client)
    await add_fault(client, action="status", status_code=502)
    for job in (first, first, second):
        await call(client, {"action": "status", "id": job["id"], "model": job["model"]})
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["calls"] == {"generate": 2, "status": 3}
    assert stats["job_calls"] == {first["id"]: 2, second["id"]: 1}
    assert (await client.delete("/_sandbox/stats")).status_code == 204
    assert (await client.get("/_sandbox/stats")).json()["calls"] == {}


async def test_stats_record_overlapping_polls_of_a_job(client: httpx.AsyncClient) -> None:
    """Two concurrent polls of one job lift its in-flight high-water mark to 2; sequential ones stay at 1."""
    overlapped, sequential = await submit(client), await submit(client)
    await add_fault(client, action="status", delay_s=0.1, times=2)
    await asyncio.gather(poll(client, overlapped), poll(client, overlapped))
    await poll(client, sequential)
    await poll(client, sequential)
    in_flight = (await client.get("/_sandbox/stats")).json()["job_max_in_flight"]
    assert in_flight == {overlapped["id"]: 2, sequential["id"]: 1}

"""The NanoGPT emulator's sandbox controls over real HTTP: prompt markers that pick a job's outcome, queued
switches that force NanoGPT-shaped errors, malformed bodies and delays, and call statistics."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.conftest import FakeClock
from tests.sandbox.conftest import add_fault
from tests.sandbox.nanogpt.conftest import get_status, poll, post_generate, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


# ----------------------------------------------------------------------------------------------- markers


async def test_block_marker_refuses_the_submit_with_content_policy(client: httpx.AsyncClient) -> None:
    """[sandbox:block] is a 400 in the video-guide envelope: CONTENT_POLICY_VIOLATION, code and refund note."""
    reply = await post_generate(client, prompt="a scene [sandbox:block]")
    assert reply.status_code == 400
    body = reply.json()
    assert (body["error"]["type"], body["error"]["code"]) == ("CONTENT_POLICY_VIOLATION", "content_policy_violation")
    assert "not been charged" in body["refundMessage"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        (
            "[sandbox:unsafe]",
            {
                "status": "FAILED",
                "error": "Content policy violation",
                "isNSFWError": True,
                "userFriendlyError": "Content flagged as inappropriate. Please modify your prompt and try again.",
            },
        ),
        (
            "[sandbox:fail]",
            {
                "status": "FAILED",
                "error": "Generation failed",
                "isNSFWError": False,
                "userFriendlyError": "Video generation failed. Your balance has been refunded.",
            },
        ),
        ("[SANDBOX:CANCEL]", {"status": "CANCELED"}),
    ],
)
async def test_outcome_markers_pick_the_terminal_state(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, expected: dict[str, Any]
) -> None:
    """A marker lets the job run its phases, then end FAILED (NSFW or not) or CANCELED with one L."""
    job = await submit(client, prompt=f"waves {marker}")
    clock.advance(2)
    assert (await poll(client, job["runId"]))["data"]["status"] == "IN_PROGRESS"
    clock.advance(1_000)
    data = (await poll(client, job["runId"]))["data"]
    assert data == {"requestId": job["runId"], **expected}


async def test_stuck_marker_never_finishes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:stuck] stays IN_PROGRESS however long it runs."""
    job = await submit(client, prompt="waves [sandbox:stuck]")
    clock.advance(1e9)
    assert (await poll(client, job["runId"]))["data"]["status"] == "IN_PROGRESS"


# ---------------------------------------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (402, {"error": "Insufficient balance", "requiredBalance": 1.0, "status": 402}),
        (429, {"error": {"message": "Too many video requests. Please slow down.", "type": "RATE_LIMITED"}}),
        (
            503,
            {
                "error": {
                    "message": "Service temporarily unavailable. Consider changing model if persistent.",
                    "type": "service_unavailable",
                }
            },
        ),
        (403, {"error": {"message": "This model requires a Pro subscription.", "type": "PRO_REQUIRED"}}),
    ],
)
async def test_generate_switch_answers_with_a_nanogpt_body(
    client: httpx.AsyncClient, status_code: int, expected: dict[str, Any]
) -> None:
    """A status-code switch on generate answers in NanoGPT's envelope for that status (legacy 402 included)."""
    await add_fault(client, action="generate", status_code=status_code)
    reply = await post_generate(client)
    assert (reply.status_code, reply.json()) == (status_code, expected)


async def test_forced_429_carries_retry_after(client: httpx.AsyncClient) -> None:
    """A forced 429 has a Retry-After header, as the real throughput limit does."""
    await add_fault(client, action="generate", status_code=429)
    assert (await post_generate(client)).headers["retry-after"] == "60"


async def test_status_switch_answers_in_the_error_schema(client: httpx.AsyncClient) -> None:
    """A status-code switch on status answers `{"error": <int>, "message": …}`."""
    await add_fault(client, action="status", status_code=500)
    reply = await get_status(client, "vid_any")
    assert (reply.status_code, reply.json()) == (500, {"error": 500, "message": "Internal Server Error"})


async def test_body_switch_sends_malformed_json(client: httpx.AsyncClient) -> None:
    """A body switch sends its raw text, so a 200 can carry broken JSON."""
    await add_fault(client, action="status", body='{"data": {"status": "COMPL')
    reply = await get_status(client, "vid_any")
    assert (reply.status_code, reply.text) == (200, '{"data": {"status": "COMPL')
    with pytest.raises(json.JSONDecodeError):
        reply.json()


async def test_delay_switch_makes_the_client_time_out(client: httpx.AsyncClient) -> None:
    """A delay longer than the client's timeout is a read timeout; the next call is served normally."""
    await add_fault(client, action="status", delay_s=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await get_status(client, "vid_any", timeout=0.05)
    assert (await get_status(client, "vid_any")).status_code == 404


async def test_wildcard_switch_lasts_until_cleared(client: httpx.AsyncClient) -> None:
    """action "*" with times -1 fails submits and polls alike until DELETE /_sandbox/faults."""
    await add_fault(client, action="*", status_code=503, times=-1)
    codes = [(await post_generate(client)).status_code, (await get_status(client, "vid_any")).status_code]
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    codes.append((await post_generate(client)).status_code)
    assert codes == [503, 503, 202]


async def test_switch_only_hits_its_action(client: httpx.AsyncClient) -> None:
    """A generate switch leaves status calls alone and waits for the next submit."""
    await add_fault(client, action="generate", status_code=500)
    assert (await get_status(client, "vid_any")).status_code == 404
    assert (await post_generate(client)).status_code == 500


# ------------------------------------------------------------------------------------------------- stats


async def test_stats_count_calls_and_status_calls_per_run_id(client: httpx.AsyncClient) -> None:
    """Stats count calls per action, forced ones included, and status calls per run id."""
    first, second = await submit(client), await submit(client)
    await add_fault(client, action="status", status_code=500)
    for job in (first, first, second):
        await get_status(client, job["runId"])
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["calls"] == {"generate": 2, "status": 3}
    assert stats["job_calls"] == {first["runId"]: 2, second["runId"]: 1}


async def test_stats_record_overlapping_polls_of_a_job(client: httpx.AsyncClient) -> None:
    """Two concurrent polls of one job lift its in-flight high-water mark to 2; sequential ones stay at 1."""
    overlapped, sequential = await submit(client), await submit(client)
    await add_fault(client, action="status", delay_s=0.1, times=2)
    await asyncio.gather(poll(client, overlapped["runId"]), poll(client, overlapped["runId"]))
    await poll(client, sequential["runId"])
    await poll(client, sequential["runId"])
    in_flight = (await client.get("/_sandbox/stats")).json()["job_max_in_flight"]
    assert in_flight == {overlapped["runId"]: 2, sequential["runId"]: 1}


async def test_stats_log_each_consumed_switch_with_the_clock_reading(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """Each consumed switch is logged with its action, status and the emulator clock; a stats reset forgets them."""
    await add_fault(client, action="generate", status_code=429)
    await add_fault(client, action="generate", status_code=503)
    await post_generate(client)
    clock.advance(7)
    await post_generate(client)
    taken = (await client.get("/_sandbox/stats")).json()["faults_taken"]
    await client.delete("/_sandbox/stats")
    assert [(t["action"], t["status_code"], t["at"] - taken[0]["at"]) for t in taken] == [
        ("generate", 429, 0.0),
        ("generate", 503, 7.0),
    ]
    assert (await client.get("/_sandbox/stats")).json()["faults_taken"] == []

"""The VideoGen emulator over real HTTP: auth, the generate tool's validation, execution progress, results
served locally, cancel, the sandbox markers and call statistics. Uploads, rate windows, switches and the
adapter end to end are in test_flows.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from sandbox.videogen.app import VideoGenEmulatorConfig
from tests.conftest import WALL_START, FakeClock
from tests.sandbox.conftest import add_fault
from tests.sandbox.videogen.conftest import AUTH, GENERATE, KEY, OTHER_KEY, poll, running, start

# One emulator serves the module (see conftest.py); fixtures reset its clocks, windows, switches and statistics
# around each test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


# --------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "Basic dmc=", "Bearer", "Token vg-live", KEY])
async def test_request_without_a_bearer_key_is_missing_api_key(client: httpx.AsyncClient, header: str | None) -> None:
    """No header, another scheme, an empty token or a bare key get 401 missing_api_key and no rate headers."""
    headers = {} if header is None else {"Authorization": header}
    reply = await client.post(GENERATE, json={"prompt": "x"}, headers=headers)
    assert (reply.status_code, reply.json()["code"]) == (401, "missing_api_key")
    assert "x-ratelimit-limit" not in reply.headers


async def test_unknown_api_key_is_invalid_api_key(client: httpx.AsyncClient) -> None:
    """A key the account never issued gets the docs' 401 invalid_api_key body."""
    reply = await client.get("/v1/tools/executions/vg_exec_abc", headers={"Authorization": "Bearer nope"})
    assert (reply.status_code, reply.json()) == (
        401,
        {"message": "API key is invalid or has been revoked.", "code": "invalid_api_key"},
    )


# --------------------------------------------------------------------------------------------------- generate


async def test_generate_accepts_with_202_an_exec_id_and_rate_headers(client: httpx.AsyncClient) -> None:
    """Start answers 202 `{toolExecutionId: vg_exec_...}` with the X-RateLimit headers and a request id."""
    reply = await client.post(GENERATE, json={"prompt": "ocean", "fps": 24}, headers=AUTH)
    assert reply.status_code == 202
    assert re.fullmatch(r"vg_exec_[0-9a-f]{24}", reply.json()["toolExecutionId"])
    assert reply.headers["x-ratelimit-limit"] == "500"
    assert reply.headers["x-request-id"].startswith("req_")


async def test_id_prefix_switch_issues_vg_tool_ids() -> None:
    """With the CLI-era prefix configured, execution ids start with vg_tool_ and can be polled."""
    async with running(VideoGenEmulatorConfig(api_keys=frozenset({KEY}), id_prefix="vg_tool_")) as sandbox:
        execution_id = await start(sandbox.client)
        assert (await poll(sandbox.client, execution_id))["status"] == "pending"
    assert execution_id.startswith("vg_tool_")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prompt": "   "},
        {"prompt": 5},
        {"prompt": "x", "aspectRatio": "16:9"},
        {"prompt": "x", "aspectRatio": {"width": 16}},
        {"prompt": "x", "aspectRatio": {"width": 1280, "height": 0}},
        {"prompt": "x", "durationSeconds": 0},
        {"prompt": "x", "durationSeconds": 31},
        {"prompt": "x", "watermarkMode": "OFF"},
        {"prompt": "x", "numResults": 101},
        {"prompt": "x", "quality": "ULTRA"},
        {"prompt": "x", "imageFileIds": ["vg_file_neverissued"]},
        {"startFrameFileId": "vg_file_neverissued"},
    ],
)
async def test_generate_rejects_invalid_parameters(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """No input, a bad aspectRatio shape, out-of-range numbers, unknown enums or unknown files get 400."""
    reply = await client.post(GENERATE, json=body, headers=AUTH)
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_parameters")
    assert reply.headers["x-ratelimit-remaining"].isdigit()


async def test_watermark_none_without_the_add_on_is_a_403_purchase_requirement(client: httpx.AsyncClient) -> None:
    """NONE needs the Production API add-on: without it, 403 with requirement.type purchase_add_on."""
    reply = await client.post(GENERATE, json={"prompt": "x", "watermarkMode": "NONE"}, headers=AUTH)
    assert reply.status_code == 403
    assert reply.json()["requirement"]["type"] == "purchase_add_on"
    assert "code" not in reply.json()


async def test_watermark_none_with_the_add_on_is_accepted() -> None:
    """An account with the add-on may turn the watermark off."""
    async with running(VideoGenEmulatorConfig(api_keys=frozenset({KEY}), add_on=True)) as sandbox:
        assert (await start(sandbox.client, watermarkMode="NONE")).startswith("vg_exec_")


# --------------------------------------------------------------------------------------------------- status


async def test_execution_goes_pending_then_running_with_rising_progress_then_succeeded(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """pending for queue_s, running for run_s with progress rising, then succeeded at 100 with results."""
    execution_id = await start(client)
    seen = []
    for step in (0.0, 0.5, 1.0, 2.0, 1.5):
        clock.advance(step)
        body = await poll(client, execution_id)
        seen.append((body["status"], body["progressPercentage"], len(body["results"])))
    assert seen == [
        ("pending", 0, 0),
        ("pending", 0, 0),
        ("running", 12.5, 0),
        ("running", 62.5, 0),
        ("succeeded", 100, 1),
    ]
    assert body["toolType"] == "GENERATE_VIDEO_CLIP"
    assert (body["attemptIndex"], body["error"]) == (0, None)


async def test_succeeded_results_are_served_by_the_emulator(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Each result's downloadUrl serves a real MP4 and thumbnailUrl a JPEG, both valid for an hour."""
    execution_id = await start(client, numResults=2, durationSeconds=8, aspectRatio={"width": 9, "height": 16})
    clock.advance(100)
    results = (await poll(client, execution_id))["results"]
    assert len(results) == 2
    first = results[0]
    assert (first["type"], first["downloadUrlExpiresAt"]) == ("VIDEO", int(WALL_START) + 3600)
    assert first["file"]["durationSeconds"] == 8.0
    assert (first["file"]["downloadSource"]["width"], first["file"]["downloadSource"]["height"]) == (720, 1280)
    video, thumb = await client.get(first["downloadUrl"]), await client.get(first["thumbnailUrl"])
    assert (video.status_code, video.content[4:8]) == (200, b"ftyp")
    assert (thumb.headers["content-type"], thumb.content[:2]) == ("image/jpeg", b"\xff\xd8")


async def test_download_url_expires_and_refuses_tampering(
    client: httpx.AsyncClient, clock: FakeClock, wall: FakeClock
) -> None:
    """A changed signature is refused, and the real URL stops working after downloadUrlExpiresAt."""
    execution_id = await start(client)
    clock.advance(100)
    url = (await poll(client, execution_id))["results"][0]["downloadUrl"]
    assert url.startswith(f"{client.base_url}".rstrip("/") + "/_storage/files/vg_file_")
    assert (await client.get(url.replace("signature=", "signature=0"))).status_code == 403
    assert (await client.get(url)).status_code == 200
    wall.advance(3_601)
    expired = await client.get(url)
    assert (expired.status_code, "<Message>Request has expired</Message>" in expired.text) == (403, True)


async def test_polling_a_malformed_unknown_or_foreign_execution(client: httpx.AsyncClient) -> None:
    """A malformed id is 400 invalid_id; an unknown one and another key's are both 404."""
    foreign = await start(client, key=OTHER_KEY)
    replies = [await client.get(f"/v1/tools/executions/{eid}", headers=AUTH) for eid in ("abc", "vg_exec_x0", foreign)]
    assert [(r.status_code, r.json().get("code")) for r in replies] == [(400, "invalid_id"), (404, None), (404, None)]


# --------------------------------------------------------------------------------------------------- cancel


async def test_cancel_stops_a_running_execution_for_good(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Cancel answers 202 and the execution stays cancelled, at the progress it had, however long after."""
    execution_id = await start(client)
    clock.advance(2.0)
    reply = await client.post(f"/v1/tools/executions/{execution_id}/cancel", headers=AUTH)
    assert (reply.status_code, reply.content) == (202, b"")
    clock.advance(1_000)
    body = await poll(client, execution_id)
    assert (body["status"], body["progressPercentage"], body["results"]) == ("cancelled", 25.0, [])


async def test_cancel_of_a_finished_execution_changes_nothing(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A succeeded execution stays succeeded after a cancel; an unknown one is 404."""
    execution_id = await start(client)
    clock.advance(100)
    cancel = await client.post(f"/v1/tools/executions/{execution_id}/cancel", headers=AUTH)
    missing = await client.post("/v1/tools/executions/vg_exec_nothing/cancel", headers=AUTH)
    assert (cancel.status_code, missing.status_code) == (202, 404)
    assert (await poll(client, execution_id))["status"] == "succeeded"


# --------------------------------------------------------------------------------------------------- markers


async def test_block_marker_fails_at_once_with_a_content_policy_code(client: httpx.AsyncClient) -> None:
    """[sandbox:block] is accepted, then is a terminal failed execution from the first poll."""
    body = await poll(client, await start(client, prompt="a riot [sandbox:block]"))
    assert (body["status"], body["error"]["code"]) == ("failed", "content_policy_violation")
    assert "content policy" in body["error"]["message"]


@pytest.mark.parametrize(
    ("marker", "status", "code"),
    [
        ("[sandbox:fail]", "failed", None),
        ("[SANDBOX:TIMEOUT]", "failed", "execution_timed_out"),
        ("[sandbox:unsafe]", "failed", "content_policy_violation"),
        ("[sandbox:cancel]", "cancelled", None),
    ],
)
async def test_outcome_markers_pick_the_terminal_state(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, status: str, code: str | None
) -> None:
    """A marker runs the normal phases, then ends failed (with its code) or cancelled."""
    execution_id = await start(client, prompt=f"gulls {marker}")
    clock.advance(2.0)
    assert (await poll(client, execution_id))["status"] == "running"
    clock.advance(1_000)
    body = await poll(client, execution_id)
    assert (body["status"], (body["error"] or {}).get("code"), body["results"]) == (status, code, [])


async def test_stuck_marker_never_finishes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:stuck] stays running below 100% however long it runs."""
    execution_id = await start(client, prompt="ocean [sandbox:stuck]")
    clock.advance(1e9)
    body = await poll(client, execution_id)
    assert (body["status"], body["progressPercentage"]) == ("running", 99.0)


# --------------------------------------------------------------------------------------------------- stats


async def test_stats_count_status_calls_per_execution(client: httpx.AsyncClient) -> None:
    """Stats count calls by action, faulted ones included, and status calls by execution id."""
    first, second = await start(client), await start(client)
    await add_fault(client, action="status", status_code=503)
    for execution_id in (first, first, second):
        await client.get(f"/v1/tools/executions/{execution_id}", headers=AUTH)
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["calls"] == {"generate": 2, "status": 3}
    assert stats["job_calls"] == {first: 2, second: 1}


async def test_stats_record_overlapping_polls_of_an_execution(client: httpx.AsyncClient) -> None:
    """Two concurrent polls of one execution lift its in-flight high-water mark to 2; sequential ones stay 1."""
    overlapped, sequential = await start(client), await start(client)
    await add_fault(client, action="status", delay_s=0.1, times=2)
    await asyncio.gather(poll(client, overlapped), poll(client, overlapped))
    await poll(client, sequential)
    await poll(client, sequential)
    in_flight = (await client.get("/_sandbox/stats")).json()["job_max_in_flight"]
    assert in_flight == {overlapped: 2, sequential: 1}

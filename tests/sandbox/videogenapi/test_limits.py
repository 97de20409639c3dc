"""The videogenapi emulator's real counters (monthly allowance, per-model hourly window) and the sandbox's
fault switches and call statistics, over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.serving import serve_app
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig, sandbox_app
from tests.sandbox.conftest import Sandbox, add_fault
from tests.sandbox.videogenapi.conftest import (
    AUTH,
    KEY,
    OTHER_AUTH,
    OTHER_KEY,
    generate,
    post_generate,
    running,
    status,
)

LIMITED = VideoGenApiEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), monthly_limit=3, hourly_limits={"sora-2": 2})
DETAIL_KEYS = [
    "current_usage", "limit", "window", "reset_time", "seconds_until_reset", "upgrade_required", "upgrade_plan",
]  # fmt: skip

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    await SandboxControl(sandbox.client).reset_stats()
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


async def usage_of(client: httpx.AsyncClient, headers: dict[str, str] = AUTH) -> int:
    used: int = (await client.get("/api/v1/user", headers=headers)).json()["usage"]["current_month_usage"]
    return used


# --------------------------------------------------------------------------------------------------- monthly


async def test_monthly_allowance_depletes_to_the_monthly_429() -> None:
    """Three accepted generations report usage 1-3; the fourth gets the monthly 429 with its counters."""
    async with running(LIMITED) as sandbox:
        usages = [(await generate(sandbox.client))["usage"]["current_month_usage"] for _ in range(3)]
        refused = await post_generate(sandbox.client)
        still_polls = await sandbox.client.get("/api/v1/user", headers=AUTH)
    assert usages == [1, 2, 3]
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "Monthly usage limit exceeded",
        "message": "You have used 3 of the 3 generations included in your plan this month.",
        "usage": {"current_month_usage": 3, "monthly_limit": 3},
    }
    assert still_polls.json()["usage"] == {"current_month_usage": 3, "monthly_limit": 3}


async def test_monthly_allowance_resets_when_the_wall_clock_enters_a_new_month() -> None:
    """After the UTC month rolls over, generate is accepted again with usage back at 1."""
    async with running(LIMITED) as sandbox:
        for _ in range(3):
            await generate(sandbox.client)
        assert (await post_generate(sandbox.client)).status_code == 429
        sandbox.wall.advance(31 * 86_400)  # 2025-06-15 -> 2025-07-16
        renewed = await generate(sandbox.client)
    assert renewed["usage"] == {"current_month_usage": 1, "monthly_limit": 3}


async def test_monthly_allowance_is_per_key_and_ignores_refused_requests() -> None:
    """Another key's usage is separate, and 400s do not count against the allowance."""
    async with running(LIMITED) as sandbox:
        await generate(sandbox.client)
        assert (await post_generate(sandbox.client, duration=99)).status_code == 400
        await generate(sandbox.client, OTHER_AUTH)
        mine, theirs = await usage_of(sandbox.client), await usage_of(sandbox.client, OTHER_AUTH)
    assert (mine, theirs) == (1, 1)


# --------------------------------------------------------------------------------------------------- hourly


async def test_hourly_window_depletes_to_the_documented_model_429() -> None:
    """Past the model's hourly cap the reply is seed 004's 429, its details key for key, counting down."""
    async with running(LIMITED) as sandbox:
        await generate(sandbox.client, model="sora-2")
        sandbox.clock.advance(600)
        await generate(sandbox.client, model="sora-2")
        sandbox.clock.advance(153)
        refused = await post_generate(sandbox.client, model="sora-2")
        other_model = await post_generate(sandbox.client, model="kling_25")
        used = await usage_of(sandbox.client)
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"] == "Sora-2 rate limit exceeded"
    assert body["message"].startswith("The Sora-2 model is limited to 2 generations per hour")
    assert list(body["details"]) == DETAIL_KEYS
    assert body["details"] | {"reset_time": None} == {
        "current_usage": 2,
        "limit": 2,
        "window": "1 hour",
        "reset_time": None,
        "seconds_until_reset": 3600 - 753,
        "upgrade_required": True,
        "upgrade_plan": "Unlimited $199/month",
    }
    assert body["details"]["reset_time"] == "2025-06-15 15:54:07"  # wall start + 2847 s, tz-less like the docs
    assert (other_model.status_code, used) == (200, 3)


async def test_hourly_window_moves_so_the_oldest_generation_frees_a_slot() -> None:
    """Once the first generation is an hour old one more is accepted, then the cap applies again."""
    async with running(LIMITED) as sandbox:
        await generate(sandbox.client, model="sora-2")
        sandbox.clock.advance(1_800)
        await generate(sandbox.client, model="sora-2")
        sandbox.clock.advance(1_800)
        codes = [(await post_generate(sandbox.client, model="sora-2")).status_code for _ in range(2)]
    assert codes == [200, 429]


async def test_default_account_has_100_a_month_and_10_sora_2_an_hour() -> None:
    """The defaults follow the docs (usage limit 100, Sora-2 details.limit 10): the 11th sora-2 in an hour is 429."""
    config = VideoGenApiEmulatorConfig(api_keys=frozenset({KEY}))
    assert (config.monthly_limit, config.hourly_limits) == (100, {"sora-2": 10})
    async with serve_app(sandbox_app(KEY, 0.01)) as url, httpx.AsyncClient(base_url=url) as client:
        codes = [(await post_generate(client, model="sora-2")).status_code for _ in range(11)]
        usage = (await client.get("/api/v1/user", headers=AUTH)).json()["usage"]
    assert codes == [200] * 10 + [429]
    assert usage == {"current_month_usage": 10, "monthly_limit": 100}


# --------------------------------------------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("action", "status_code", "body"),
    [
        ("generate", 400, {"error": "Bad Request", "message": "Invalid parameters or missing required fields"}),
        ("status", 401, {"error": "Unauthorized", "message": "Invalid or missing API key"}),
        ("status", 404, {"error": "Not Found", "message": "Resource not found"}),
        ("generate", 500, {"error": "Internal Server Error", "message": "Internal server error"}),
        ("generate", 503, {"error": "Service Unavailable", "message": "Sandbox fault"}),
    ],
)
async def test_status_switch_answers_with_a_videogenapi_error_body(
    client: httpx.AsyncClient, action: str, status_code: int, body: dict[str, str]
) -> None:
    """A status-code switch renders `{"error", "message"}` from seed 002's error table, else the phrase."""
    await add_fault(client, action=action, status_code=status_code)
    reply = await (post_generate(client) if action == "generate" else client.get("/api/v1/status/x", headers=AUTH))
    assert (reply.status_code, reply.json()) == (status_code, body)


async def test_429_switch_renders_the_documented_sora_2_body(client: httpx.AsyncClient) -> None:
    """A forced 429 is the seed 004 rate-limit body, so adapters see the real shape."""
    await add_fault(client, action="generate", status_code=429)
    reply = await post_generate(client)
    assert reply.status_code == 429
    assert (reply.json()["error"], reply.json()["details"]["window"]) == ("Sora-2 rate limit exceeded", "1 hour")


async def test_body_switch_sends_malformed_json(client: httpx.AsyncClient) -> None:
    """A body switch sends its raw text verbatim, so a 200 can carry broken JSON."""
    await add_fault(client, action="status", body='{"status": "compl')
    reply = await client.get("/api/v1/status/gen_x", headers=AUTH)
    assert (reply.status_code, reply.text) == (200, '{"status": "compl')
    with pytest.raises(json.JSONDecodeError):
        reply.json()


async def test_delay_switch_makes_the_client_time_out_then_serves_normally(client: httpx.AsyncClient) -> None:
    """A delay longer than the client's timeout surfaces as a read timeout; the next call is served."""
    await add_fault(client, action="generate", delay_s=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await client.post("/api/v1/generate", json={"prompt": "x", "model": "kling_25"}, headers=AUTH, timeout=0.05)
    assert (await post_generate(client)).status_code == 200


async def test_switch_is_consumed_after_times_calls_and_only_hits_its_action(client: httpx.AsyncClient) -> None:
    """A generate switch with times 2 leaves status alone and hits the next two generates only."""
    job = await generate(client)
    await add_fault(client, action="generate", status_code=502, times=2)
    polled = await client.get(f"/api/v1/status/{job['generation_id']}", headers=AUTH)
    codes = [(await post_generate(client)).status_code for _ in range(3)]
    assert (polled.status_code, codes) == (200, [502, 502, 200])


async def test_wildcard_switch_lasts_until_cleared(client: httpx.AsyncClient) -> None:
    """action "*" with times -1 fails every API call until DELETE /_sandbox/faults."""
    await add_fault(client, action="*", status_code=503, times=-1)
    codes = [(await post_generate(client)).status_code, (await client.get("/api/v1/user", headers=AUTH)).status_code]
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    codes.append((await post_generate(client)).status_code)
    assert codes == [503, 503, 200]


@pytest.mark.parametrize("spec", [{"times": 0}, {"status_code": 700}, {"delay_s": -1}, {"colour": "red"}])
async def test_invalid_switch_is_rejected(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    """A zero count, an impossible status, a negative delay or an unknown field gets 400."""
    assert (await client.post("/_sandbox/faults", json=spec)).status_code == 400


# --------------------------------------------------------------------------------------------------- stats


async def test_stats_count_calls_per_action_and_status_calls_per_generation(client: httpx.AsyncClient) -> None:
    """Every call is counted by action, switched ones included, and status calls by generation id."""
    first, second = await generate(client), await generate(client)
    await add_fault(client, action="status", status_code=502)
    for job in (first, first, second):
        await client.get(f"/api/v1/status/{job['generation_id']}", headers=AUTH)
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["calls"] == {"generate": 2, "status": 3}
    assert stats["job_calls"] == {first["generation_id"]: 2, second["generation_id"]: 1}
    assert (await client.delete("/_sandbox/stats")).status_code == 204
    assert (await client.get("/_sandbox/stats")).json()["calls"] == {}


async def test_stats_record_overlapping_polls_of_a_generation(client: httpx.AsyncClient) -> None:
    """Two concurrent polls of one generation lift its in-flight mark to 2; sequential ones stay at 1."""
    overlapped, sequential = await generate(client), await generate(client)
    await add_fault(client, action="status", delay_s=0.1, times=2)
    await asyncio.gather(*(status(client, overlapped["generation_id"]) for _ in range(2)))
    for _ in range(2):
        await status(client, sequential["generation_id"])
    in_flight = (await client.get("/_sandbox/stats")).json()["job_max_in_flight"]
    assert in_flight == {overlapped["generation_id"]: 2, sequential["generation_id"]: 1}

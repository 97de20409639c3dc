"""Two gateway OS processes sharing one Redis: a team budget is one budget across replicas. 50 creates split
between them against a budget that fits 10 admit exactly 10, and spent + reserved never passes it. A team's
request rate is one moving window across replicas too."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL, VIDGEN_KEY_ENV, auth, gateway_settings_text
from tests.e2e.processes import gateway_process

# One Vidgen scene: 5 s at $0.02/s = $0.10 per job, so $1.00 fits exactly ten.
BUDGET = "[quotas.teams.team-a]\nmonthly_budget_usd = 1.0\n"


def two_replica_settings(vidgen_url: str, prefix: str, *, quotas: str = BUDGET) -> str:
    text = gateway_settings_text(vidgen_url, extra=quotas)
    store = f'\n[store]\nbackend = "redis"\nredis_url = "{REDIS_URL}"\nkey_prefix = "{prefix}"\n'
    return text.replace("[providers.vidgen]", store + "[providers.vidgen]", 1)


async def team_budget(client: httpx.AsyncClient) -> dict[str, Any]:
    rows = (await client.get("/v1/usage/budgets", headers=auth())).json()["data"]
    row: dict[str, Any] = next(r for r in rows if (r["scope"], r["name"]) == ("team", "team-a"))
    return row


async def test_fifty_creates_across_two_replicas_admit_exactly_ten(
    vidgen_url: str, vidgen_key: str, tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    """25 creates at once on each replica: 10 accepted in all, 40 `quota_exceeded`; both replicas see the same
    budget, and once every job settled the team spent exactly $1.00 with nothing held."""
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    text = two_replica_settings(vidgen_url, prefix)
    env = {VIDGEN_KEY_ENV: vidgen_key}
    try:
        async with (
            gateway_process(text, workdir=tmp_path, env=env, name="first") as first,
            gateway_process(text, workdir=tmp_path, env=env, name="second") as second,
            httpx.AsyncClient(base_url=first.url, timeout=30) as one,
            httpx.AsyncClient(base_url=second.url, timeout=30) as two,
        ):
            body = {"prompt": "a lighthouse at dawn"}
            replies = await asyncio.gather(
                *(client.post("/v1/videos", json=body, headers=auth()) for _ in range(25) for client in (one, two))
            )
            codes = [r.status_code for r in replies]
            assert (codes.count(202), codes.count(429)) == (10, 40)
            assert {r.json()["error"]["code"] for r in replies if r.status_code == 429} == {"monthly_budget_usd"}
            row = await team_budget(one)
            assert row["spent_micros"] + row["reserved_micros"] <= 1_000_000
            for _ in range(400):
                row = await team_budget(two)
                if row["reserved_micros"] == 0 and row["active_jobs"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert (row["spent_micros"], row["reserved_micros"], row["remaining_micros"]) == (1_000_000, 0, 0)
            assert (await one.post("/v1/videos", json=body, headers=auth())).status_code == 429
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)


async def test_a_team_request_rate_is_one_window_across_two_replicas(
    vidgen_url: str, vidgen_key: str, tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    """`requests = "6/hour"` with creates alternating between two replicas: six accepted in all, then either
    replica refuses with 429 `rate_limited` and a Retry-After (each alone would have admitted six)."""
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    text = two_replica_settings(vidgen_url, prefix, quotas='[quotas.teams.team-a]\nrequests = "6/hour"\n')
    try:
        async with (
            gateway_process(text, workdir=tmp_path, env={VIDGEN_KEY_ENV: vidgen_key}, name="first") as first,
            gateway_process(text, workdir=tmp_path, env={VIDGEN_KEY_ENV: vidgen_key}, name="second") as second,
            httpx.AsyncClient(timeout=30) as client,
        ):
            replies = [
                await client.post(f"{url}/v1/videos", json={"prompt": "a kite"}, headers=auth())
                for _ in range(5)
                for url in (first.url, second.url)
            ]
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)

    assert [r.status_code for r in replies] == [202] * 6 + [429] * 4
    for refused in replies[6:]:
        assert refused.json()["error"]["type"] == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0

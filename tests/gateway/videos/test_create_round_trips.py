"""The Redis scripts of one `POST /v1/videos` on one Redis node, as the client's script pipeline sends them: the
hold's reserve, the job's create (team index and record in one script), the provider's concurrency slot, then the
record of the provider's acceptance and the hold's resize together, in one round trip; the hold then holds the
accepted job's cost."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.store import redis as store_redis
from gateway.store.batching import ScriptPipeline
from gateway.store.redis import RedisStore
from gateway.usage import budget_redis
from routing.headroom import store as headroom_store
from tests.conftest import REDIS_URL, GatewayFactory, auth, gateway_settings
from tests.gateway.usage.conftest import FINANCE_KEY, usage_keyring

# Each script of the create path by the text the pipeline runs (a batch lists them in the order they were made).
NAMES = {
    budget_redis._RESERVE: "reserve",
    store_redis._INDEX_AND_CREATE: "create",
    headroom_store._ACQUIRE: "acquire",
    store_redis.REPLACE_SCRIPT: "record",
    budget_redis._RESIZE: "resize",
}


async def test_the_acceptance_and_the_hold_resize_share_one_round_trip(
    vidgen_url: str, redis_prefix: str, serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[list[str]] = []
    run = ScriptPipeline._run

    async def recorded(self: ScriptPipeline, items: list[Any]) -> list[Any]:
        batches.append([NAMES.get(script.script, "other") for script, _ in items])
        return await run(self, items)

    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    settings = gateway_settings(vidgen_url, extra="[quotas.teams.team-a]\nmonthly_budget_usd = 10.0\n")
    try:
        async with (
            serve_gateway(settings, store=store, keyring=usage_keyring(), run_poller=False) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as client,
        ):
            monkeypatch.setattr(ScriptPipeline, "_run", recorded)
            reply = await client.post("/v1/videos", json={"prompt": "a lighthouse at dawn"}, headers=auth())
            monkeypatch.undo()
            assert reply.status_code == 202, reply.text
            budgets = await client.get("/v1/usage/budgets", headers=auth(FINANCE_KEY))
    finally:
        await store.close()

    assert batches == [["reserve"], ["create"], ["acquire"], ["record", "resize"]]
    [team] = [row for row in budgets.json()["data"] if (row["scope"], row["name"]) == ("team", "team-a")]
    assert (team["reserved_micros"], team["active_jobs"]) == (100_000, 1)  # one Vidgen scene: 5 s at $0.02/s

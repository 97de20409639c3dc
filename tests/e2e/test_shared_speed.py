"""Two gateways on one Redis prefix share observed speed: a job finished through one shows on the other's
`GET /v1/providers` and in its `POST /v1/routing/explain` scores."""

from __future__ import annotations

import asyncio

import httpx

from gateway.auth import Caller, KeyRing, digest
from gateway.store.redis import RedisStore
from tests.conftest import REDIS_URL, TEAM_A_KEY, GatewayFactory, auth, gateway_settings, wait_terminal

ADMIN_KEY = "vgk_test_shared_speed_admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
KEYS = KeyRing(
    {
        digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
        digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"})),
    }
)


async def test_a_speed_observed_through_one_gateway_ranks_on_the_other(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """Before: no observed speed anywhere. A job completes via the first gateway (the only one polling, so the only
    one that observes it); the second, which saw nothing itself, then reports it."""
    settings = gateway_settings(vidgen_url)
    stores = [RedisStore.from_url(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    try:
        async with (
            serve_gateway(settings, store=stores[0], keyring=KEYS) as first,
            serve_gateway(settings, store=stores[1], keyring=KEYS, run_poller=False) as second,
            httpx.AsyncClient(timeout=10) as client,
        ):
            before = (await client.get(f"{second}/v1/providers", headers=ADMIN)).json()
            reply = await client.post(f"{first}/v1/videos", json={"prompt": "a lighthouse"}, headers=auth())
            async with httpx.AsyncClient(base_url=first, timeout=10) as via_first:
                assert (await wait_terminal(via_first, reply.json()["id"]))["status"] == "completed"
            # The poller records the speed just after the terminal write a client can already see: wait for it.
            for _ in range(200):
                after = (await client.get(f"{second}/v1/providers", headers=ADMIN)).json()
                if after[0]["observed_seconds_by_model"]:
                    break
                await asyncio.sleep(0.025)
            plan = (await client.post(f"{second}/v1/routing/explain", json={"prompt": "x"}, headers=ADMIN)).json()
    finally:
        for store in stores:
            await store.close()
    assert before[0]["observed_seconds_by_model"] == {}
    observed = after[0]["observed_seconds_by_model"]
    assert list(observed) == ["scenex"]
    assert observed["scenex"] > 0
    assert after[0]["observed_completions_by_model"] == {"scenex": 1}
    assert plan["candidates"][0]["score"]["expected_s"] == observed["scenex"]

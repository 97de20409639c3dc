"""A gateway on a Redis Cluster URL (the session's three primaries), built from its settings as in production: a
video created on the Vidgen emulator completes, settles into the ledger once, and every piece of shared state
(jobs, schedule, idempotency, budgets, request and provider windows, slots, breakers, speeds, beats) lives on the
cluster."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import Settings
from gateway.store.connect import redis_client
from tests.conftest import GatewayFactory, auth, eventually, gateway_settings, wait_terminal
from tests.gateway.usage.conftest import FINANCE_KEY, usage_keyring

pytestmark = pytest.mark.serial

# One Vidgen scene: 5 s at $0.02/s = $0.10 (tests/conftest.py's catalogue).
SHARED = """
[quotas.teams.team-a]
requests = "100/minute"
monthly_budget_usd = 5.0
[providers.vidgen.headroom]
windows = [{{ scope = "generate", limit = 100, per_s = 3600 }}]
max_in_flight = 5
[store]
backend = "redis"
redis_url = "{url}"
key_prefix = "{prefix}"
"""


@pytest.fixture
def settings(vidgen_url: str, redis_cluster_url: str, redis_prefix: str) -> Settings:
    return gateway_settings(vidgen_url, extra=SHARED.format(url=redis_cluster_url, prefix=redis_prefix))


async def test_a_video_on_a_cluster_completes_and_settles_once(
    settings: Settings, serve_gateway: GatewayFactory, redis_cluster_url: str, redis_prefix: str
) -> None:
    """Create (and replay the Idempotency-Key), complete, one ledger record of $0.10, nothing held; each key
    family of the shared state is found on the cluster."""
    async with (
        serve_gateway(settings, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        headers = {**auth(), "Idempotency-Key": "cluster-1"}
        body = {"model": "scenex", "prompt": "a harbour crane at night"}
        reply = await client.post("/v1/videos", json=body, headers=headers)
        assert reply.status_code == 202, reply.text
        video_id = reply.json()["id"]
        assert (await wait_terminal(client, video_id))["status"] == "completed"
        again = await client.post("/v1/videos", json=body, headers=headers)
        assert (again.status_code, again.json()["id"]) == (202, video_id)

        async def settled() -> bool:
            rows = (await client.get("/v1/usage/budgets", headers=auth(FINANCE_KEY))).json()["data"]
            team = next(r for r in rows if (r["scope"], r["name"]) == ("team", "team-a"))
            return (team["spent_micros"], team["reserved_micros"], team["active_jobs"]) == (100_000, 0, 0)

        await eventually(settled)
        records = (await client.get("/v1/usage/records", headers=auth(FINANCE_KEY))).json()["data"]
        assert [(r["job_id"], r["cost_micros"]) for r in records] == [(video_id, 100_000)]

    cluster = redis_client(redis_cluster_url)
    try:
        keys = {key.decode()[len(redis_prefix) :] async for key in cluster.scan_iter(match=f"{redis_prefix}*")}
    finally:
        await cluster.aclose()
    families = ["job:", "team:", "idem", "usage:{usage}:ledger", "usage:{usage}:day:", "quota", "headroom"]
    # No `breaker:` key: a closed, quiet circuit keeps its successes in memory until a failure or the next bucket
    # (routing/health/redis_breakers.py); the breaker suites run on this cluster themselves.
    families += ["speed", "replica:"]
    assert [family for family in families if not any(key.startswith(family) for key in keys)] == []

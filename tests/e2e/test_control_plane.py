"""The control plane across gateway OS processes on one Redis: a change through one replica is what the other
routes by within a second, a revoked key is refused everywhere within a second, writes race by version, an
invalid table changes nothing, rollback restores, the audit names the actor, a killed replica leaves the list;
and a SIGHUP to granian's main process reloads the file without dropping the memory store's jobs."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.auth import digest
from tests.conftest import REDIS_URL, TEAM_A_KEY, TEAM_B_KEY, VIDGEN_KEY_ENV, auth, gateway_settings_text
from tests.e2e.processes import GatewayProcess, gateway_process, on_shared_redis

DENY_VIDGEN = {"rules": [{"name": "no-vidgen", "deny": ["vidgen"]}]}
CREATE = {"model": "scenex", "prompt": "a lighthouse at dawn"}
# Beats every 0.2 s lapse after 0.6 s: a killed replica leaves the list quickly.
SHORT_BEAT = "[poller]\nheartbeat_s = 0.2\n"


async def within(check: Callable[[], Awaitable[bool]], *, limit_s: float) -> float:
    """Seconds until `check` holds, polling every 10 ms; fails past `limit_s`. The bound is loose on purpose (a
    loaded CI machine must not fail it): the tests print the measured time, which the design keeps under a second
    (a notification, else the `[control] check_s` timer), and bench/control_plane.py measures it properly."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > limit_s:
            raise AssertionError(f"the condition did not hold within {limit_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


class Pair:
    def __init__(self, a: GatewayProcess, b: GatewayProcess, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient) -> None:
        self.a, self.b, self.on_a, self.on_b = a, b, on_a, on_b


@pytest.fixture
async def pair(vidgen_url: str, vidgen_key: str, tmp_path: Path, redis_client: aioredis.Redis) -> AsyncIterator[Pair]:
    """Replicas A and B on one Redis prefix, with an admin client on each (key-a has the admin scope)."""
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    text = on_shared_redis(gateway_settings_text(vidgen_url), redis_url=REDIS_URL, prefix=prefix)
    text = text.replace("[poller]\n", SHORT_BEAT, 1)
    env = {VIDGEN_KEY_ENV: vidgen_key}
    try:
        async with (
            gateway_process(text, workdir=tmp_path, env=env, name="a") as a,
            gateway_process(text, workdir=tmp_path, env=env, name="b") as b,
            httpx.AsyncClient(base_url=a.url, timeout=10, headers=auth(TEAM_A_KEY)) as on_a,
            httpx.AsyncClient(base_url=b.url, timeout=10, headers=auth(TEAM_A_KEY)) as on_b,
        ):
            yield Pair(a, b, on_a, on_b)
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)


async def _explained(client: httpx.AsyncClient) -> dict[str, object]:
    reply = await client.post("/v1/routing/explain", json=CREATE)
    assert reply.status_code == 200, reply.text
    explained: dict[str, object] = reply.json()
    return explained


async def test_a_routing_change_through_a_is_what_b_routes_by_within_a_second(pair: Pair) -> None:
    """PUT through A; B's explain shows the new rules (its version) and B's creates follow them within 1 s."""
    put = await pair.on_a.put("/v1/admin/routing", json=DENY_VIDGEN, headers={"If-Match": '"1"'})
    assert put.status_code == 200, put.text
    rules_version = (await pair.on_a.get("/v1/routing/rules")).json()["version"]

    async def b_runs_it() -> bool:
        explained = await _explained(pair.on_b)
        return (explained["rules_version"], explained["matched_rules"]) == (rules_version, ["no-vidgen"])

    elapsed_s = await within(b_runs_it, limit_s=5.0)
    print(f"\nrouting change through A seen by B's explain after {elapsed_s * 1000:.0f} ms")
    refused = await pair.on_b.post("/v1/videos", json=CREATE)
    assert refused.status_code in (400, 503), refused.text
    replicas = (await pair.on_b.get("/v1/admin/replicas")).json()["data"]
    assert sorted(r["applied"]["routing"] for r in replicas) == [2, 2]


async def test_writes_race_by_version_and_an_invalid_one_changes_nothing(pair: Pair) -> None:
    """Two PUTs naming version 1 (one per replica): one 200, one 412. An invalid table is a 400 naming the path,
    the version unchanged; rollback to 1 restores vidgen on both; the audit names key-a for each change."""
    replies = await asyncio.gather(
        pair.on_a.put("/v1/admin/routing", json=DENY_VIDGEN, headers={"If-Match": '"1"'}),
        pair.on_b.put("/v1/admin/routing", json={"default_strategy": "fastest"}, headers={"If-Match": '"1"'}),
    )
    assert sorted(r.status_code for r in replies) == [200, 412]
    invalid = await pair.on_b.put(
        "/v1/admin/routing", json={"rules": [{"name": "x", "allow": ["nope"]}]}, headers={"If-Match": '"2"'}
    )
    assert (invalid.status_code, invalid.json()["error"]["param"]) == (400, "$.routing.rules[0].allow[0]")
    assert (await pair.on_a.get("/v1/admin/routing")).json()["version"] == 2
    rollback = await pair.on_b.post("/v1/admin/routing/rollback", json={"version": 1}, headers={"If-Match": '"2"'})
    assert (rollback.status_code, rollback.json()["version"]) == (200, 3)

    async def a_plans_vidgen_again() -> bool:
        candidates = (await _explained(pair.on_a))["candidates"]
        return isinstance(candidates, list) and [c["provider"] for c in candidates] == ["vidgen"]

    await within(a_plans_vidgen_again, limit_s=5.0)
    audit = (await pair.on_a.get("/v1/admin/audit", params={"kind": "routing"})).json()["data"]
    assert [(e["version"], e["action"], e["actor"]) for e in audit] == [
        (3, "rollback", "key-a"),
        (2, "put", "key-a"),
        (1, "seed", audit[-1]["actor"]),
    ]
    assert audit[-1]["actor"].startswith("file:")


async def test_a_key_made_on_one_replica_works_on_both_and_its_revocation_reaches_both(pair: Pair) -> None:
    """A key created through A, with its team's quota set through A, is served by B and limited across both;
    revoked through B, A refuses it within 1 s."""
    created = await pair.on_a.post("/v1/admin/keys", json={"team": "studio", "id": "studio-1"})
    secret = created.json()["key"]
    team = await pair.on_a.put("/v1/admin/teams/studio", json={"requests": "1/hour"}, headers={"If-Match": '"1"'})
    assert team.status_code == 200, team.text

    async def both_know_it() -> bool:
        replicas = (await pair.on_a.get("/v1/admin/replicas")).json()["data"]
        return sorted((r["applied"]["keys"], r["applied"]["quotas"]) for r in replicas) == [(2, 2), (2, 2)]

    await within(both_know_it, limit_s=5.0)
    first = await pair.on_b.post("/v1/videos", json=CREATE, headers=auth(secret))
    second = await pair.on_a.post("/v1/videos", json=CREATE, headers=auth(secret))
    assert (first.status_code, second.status_code) == (202, 429)
    assert second.json()["error"]["type"] == "rate_limited"  # the team's request window, counted across replicas
    assert (await pair.on_b.delete("/v1/admin/keys/studio-1")).status_code == 200

    async def a_refuses_it() -> bool:
        return (await pair.on_a.get("/v1/videos", headers=auth(secret))).status_code == 401

    elapsed_s = await within(a_refuses_it, limit_s=5.0)
    print(f"\nkey revoked through B refused by A after {elapsed_s * 1000:.0f} ms")
    assert (await pair.on_a.get("/v1/videos", headers=auth(TEAM_B_KEY))).status_code == 200
    logs = pair.a.log() + pair.b.log()
    assert secret not in logs
    assert digest(secret) not in logs


async def test_a_replica_killed_during_a_change_leaves_the_list_and_the_survivor_runs_the_change(pair: Pair) -> None:
    """B is SIGKILLed as the PUT through A lands: A runs version 2, and `replicas` lists only A once B's beat
    lapses."""
    put = asyncio.create_task(pair.on_a.put("/v1/admin/routing", json=DENY_VIDGEN, headers={"If-Match": '"1"'}))
    pair.b.kill()
    assert (await put).status_code == 200

    async def only_a_is_left() -> bool:
        replicas = (await pair.on_a.get("/v1/admin/replicas")).json()["data"]
        return len(replicas) == 1 and replicas[0]["applied"]["routing"] == 2

    await within(only_a_is_left, limit_s=5.0)
    assert (await _explained(pair.on_a))["matched_rules"] == ["no-vidgen"]


async def test_sighup_to_granian_reloads_the_file_and_keeps_the_memory_stores_jobs(
    vidgen_url: str, vidgen_key: str, tmp_path: Path
) -> None:
    """On granian with the memory store: a job made before SIGHUP is still there after it, and the file's changed
    `[routing]` table is in force as a new audited version."""
    text = gateway_settings_text(vidgen_url)
    env = {VIDGEN_KEY_ENV: vidgen_key}
    async with (
        gateway_process(text, workdir=tmp_path, env=env, name="hup", server="granian") as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=10, headers=auth(TEAM_A_KEY)) as client,
    ):
        job = (await client.post("/v1/videos", json=CREATE)).json()
        config = tmp_path / "hup.toml"
        config.write_text(config.read_text() + '\n[routing]\ndefault_strategy = "fastest"\n')
        gateway.process.send_signal(signal.SIGHUP)

        async def reloaded() -> bool:
            with contextlib.suppress(httpx.TransportError):
                rules = (await client.get("/v1/routing/rules")).json()
                return bool(rules["rules"]["default_strategy"] == "fastest")
            return False

        await within(reloaded, limit_s=10.0)
        assert (await client.get(f"/v1/videos/{job['id']}")).status_code == 200
        audit = (await client.get("/v1/admin/audit", params={"kind": "routing"})).json()["data"]
        assert (audit[0]["version"], audit[0]["action"], audit[0]["actor"]) == (2, "reload", "SIGHUP")

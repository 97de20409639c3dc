"""The control plane's admin API on one gateway, over the memory and the Redis store: versioned writes with
If-Match, validation naming the path, rollback, preview, provider switches, team quotas, keys and the audit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.store.base import JobStore
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, gateway_settings

ADMIN_KEY = "vgk_test_admin_cp_0123456789"
OPS = Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"}))
TEAM_A = Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"}))
DENY_VIDGEN = {"rules": [{"name": "no-vidgen", "deny": ["vidgen"]}]}
ADMIN_ROUTES = [
    ("GET", "/v1/admin/routing"),
    ("PUT", "/v1/admin/routing"),
    ("POST", "/v1/admin/routing/rollback"),
    ("POST", "/v1/admin/quotas/rollback"),
    ("GET", "/v1/admin/quotas/history"),
    ("GET", "/v1/admin/routing/history"),
    ("POST", "/v1/admin/routing/preview"),
    ("GET", "/v1/admin/providers/vidgen"),
    ("PUT", "/v1/admin/providers/vidgen"),
    ("GET", "/v1/admin/quotas"),
    ("PUT", "/v1/admin/quotas"),
    ("GET", "/v1/admin/teams/team-a"),
    ("PUT", "/v1/admin/teams/team-a"),
    ("POST", "/v1/admin/keys"),
    ("GET", "/v1/admin/keys"),
    ("DELETE", "/v1/admin/keys/key-a"),
    ("POST", "/v1/admin/keys/key-a/rotate"),
    ("GET", "/v1/admin/audit"),
    ("GET", "/v1/admin/replicas"),
]


@pytest.fixture
async def admin(vidgen_url: str, store: JobStore, serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    keyring = KeyRing({digest(ADMIN_KEY): OPS, digest(TEAM_A_KEY): TEAM_A})
    async with (
        serve_gateway(gateway_settings(vidgen_url), store=store, keyring=keyring) as url,
        httpx.AsyncClient(base_url=url, timeout=10, headers=auth(ADMIN_KEY)) as client,
    ):
        yield client


def _if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


HOSTILE = [
    ("PUT", "/v1/admin/routing", b"{not json", "invalid_json", None),
    ("PUT", "/v1/admin/routing", b"[]", "invalid_routing_rules", "$.routing"),
    ("PUT", "/v1/admin/routing", b'{"rules": [{"name": "a b"}]}', "invalid_routing_rules", "$.routing.rules[0].name"),
    (
        "PUT",
        "/v1/admin/quotas",
        b'{"teams": {"t": {"max_concurrent_jobs": 0}}}',
        "invalid_value",
        "$.quotas.teams.t.max_concurrent_jobs",
    ),
    ("PUT", "/v1/admin/quotas", b'{"tenants": {}}', "invalid_value", "$.quotas"),
    ("PUT", "/v1/admin/teams/a%20b", b"{}", "invalid_value", "team"),
    (
        "PUT",
        "/v1/admin/providers/vidgen",
        b'{"enabled": "yes"}',
        "invalid_routing_rules",
        "$.routing.providers.vidgen.enabled",
    ),
    ("POST", "/v1/admin/routing/rollback", b'{"version": 0}', "invalid_value", "version"),
    ("POST", "/v1/admin/routing/preview", b'{"routing": {}}', "missing_field", None),
    ("POST", "/v1/admin/keys", b'{"team": "t", "scopes": ["root"]}', "invalid_value", "scopes[0]"),
    ("POST", "/v1/admin/keys", b'{"team": "t", "secret": "mine"}', "unknown_field", "secret"),
    ("POST", "/v1/admin/keys", b'{"team": "t", "expires_at": -1}', "invalid_value", "expires_at"),
    ("GET", "/v1/admin/audit?kind=jobs", b"", None, None),
    ("GET", "/v1/admin/audit?limit=0", b"", None, None),
]


async def test_hostile_admin_bodies_are_400s_naming_the_problem_and_change_nothing(admin: httpx.AsyncClient) -> None:
    """Each malformed body or query is a 400 in the envelope (with its code and path where given); no version moves."""
    for method, path, body, code, param in HOSTILE:
        reply = await admin.request(
            method, path, content=body, headers={**_if_match(1), "Content-Type": "application/json"}
        )
        error = reply.json()["error"]
        assert (path, reply.status_code) == (path, 400), reply.text
        if code is not None:
            assert (path, error["code"]) == (path, code), reply.text
        if param is not None:
            assert (path, error["param"]) == (path, param), reply.text
    versions = [(await admin.get(f"/v1/admin/{kind}")).json()["version"] for kind in ("routing", "quotas")]
    assert versions == [1, 1]
    assert [k["id"] for k in (await admin.get("/v1/admin/keys")).json()["data"]] == ["ops", "key-a"]


async def test_a_put_with_the_current_version_makes_the_next_one(admin: httpx.AsyncClient) -> None:
    """The seeded table is version 1 (ETag "1"); a PUT with If-Match "1" makes version 2 and explain runs it."""
    seeded = await admin.get("/v1/admin/routing")
    assert (seeded.headers["etag"], seeded.json()["version"]) == ('"1"', 1)
    reply = await admin.put("/v1/admin/routing", json=DENY_VIDGEN, headers=_if_match(1))
    assert reply.status_code == 200, reply.text
    assert (reply.headers["etag"], reply.json()["value"]["rules"][0]["name"]) == ('"2"', "no-vidgen")
    explained = (await admin.post("/v1/routing/explain", json={"model": "scenex", "prompt": "a cat"})).json()
    assert (explained["matched_rules"], explained["candidates"]) == (["no-vidgen"], [])


async def test_a_stale_or_missing_if_match_changes_nothing(admin: httpx.AsyncClient) -> None:
    """A second PUT naming version 1 is a 412 carrying the current ETag; without If-Match it is a 428."""
    assert (await admin.put("/v1/admin/routing", json=DENY_VIDGEN, headers=_if_match(1))).status_code == 200
    stale = await admin.put("/v1/admin/routing", json={}, headers=_if_match(1))
    assert (stale.status_code, stale.json()["error"]["code"], stale.headers["etag"]) == (412, "version_mismatch", '"2"')
    missing = await admin.put("/v1/admin/routing", json={})
    assert (missing.status_code, missing.json()["error"]["type"]) == (428, "precondition_required")
    assert (await admin.get("/v1/admin/routing")).json()["version"] == 2


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ({"rules": [{"name": "x", "deny": ["nope"]}]}, "$.routing.rules[0].deny[0]"),
        ({"providers": {"vidgen": {"weight": -1}}}, "$.routing.providers.vidgen.weight"),
        ({"default_strategy": "random"}, "$.routing.default_strategy"),
        ({"rules": [{"name": "x", "colour": "red"}]}, "$.routing.rules[0]"),
    ],
)
async def test_an_invalid_table_is_a_400_naming_the_path(admin: httpx.AsyncClient, table: object, path: str) -> None:
    """The file's own checks run on the body: a 400 whose `param` is the path the file would show; still v1."""
    reply = await admin.put("/v1/admin/routing", json=table, headers=_if_match(1))
    assert (reply.status_code, reply.json()["error"]["param"]) == (400, path)
    assert path in reply.json()["error"]["message"]
    assert (await admin.get("/v1/admin/routing")).json()["version"] == 1


async def test_rollback_restores_an_earlier_table_as_a_new_version(admin: httpx.AsyncClient) -> None:
    """After v2 denies vidgen, rolling back to v1 makes v3 with v1's table; explain plans vidgen again."""
    await admin.put("/v1/admin/routing", json=DENY_VIDGEN, headers=_if_match(1))
    reply = await admin.post("/v1/admin/routing/rollback", json={"version": 1}, headers=_if_match(2))
    assert (reply.status_code, reply.json()["version"], reply.json()["value"]["rules"]) == (200, 3, [])
    explained = (await admin.post("/v1/routing/explain", json={"model": "scenex", "prompt": "a cat"})).json()
    assert [c["provider"] for c in explained["candidates"]] == ["vidgen"]
    history = (await admin.get("/v1/admin/routing/history")).json()["data"]
    assert [(h["version"], h["action"]) for h in history] == [(3, "rollback"), (2, "put"), (1, "seed")]
    missing = await admin.post("/v1/admin/routing/rollback", json={"version": 99}, headers=_if_match(3))
    assert missing.status_code == 404


async def test_preview_plans_under_the_proposed_table_and_applies_nothing(admin: httpx.AsyncClient) -> None:
    """The active plan keeps vidgen, the proposed one drops it, and the version stays 1."""
    body = {"routing": DENY_VIDGEN, "request": {"model": "scenex", "prompt": "a cat"}}
    reply = await admin.post("/v1/admin/routing/preview", json=body)
    assert reply.status_code == 200, reply.text
    active, proposed = reply.json()["active"], reply.json()["proposed"]
    assert ([c["provider"] for c in active["candidates"]], proposed["candidates"]) == (["vidgen"], [])
    assert proposed["matched_rules"] == ["no-vidgen"]
    assert (await admin.get("/v1/admin/routing")).json()["version"] == 1
    bad = await admin.post("/v1/admin/routing/preview", json={**body, "request": {"model": 5}})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "request.model")


async def test_a_provider_switch_drains_it_in_a_new_routing_version(admin: httpx.AsyncClient) -> None:
    """PUT drain=true on vidgen makes routing v2; explain drops vidgen as draining; an unknown slug is a 404."""
    assert (await admin.get("/v1/admin/providers/vidgen")).json()["value"] == {
        "enabled": True,
        "drain": False,
        "weight": 1.0,
    }
    reply = await admin.put("/v1/admin/providers/vidgen", json={"drain": True}, headers=_if_match(1))
    assert (reply.status_code, reply.json()["version"], reply.json()["value"]["drain"]) == (200, 2, True)
    explained = (await admin.post("/v1/routing/explain", json={"model": "scenex", "prompt": "a cat"})).json()
    assert "draining: takes no new jobs" in explained["dropped"][0]["reasons"]
    assert (await admin.get("/v1/admin/providers/nope")).status_code == 404
    bad = await admin.put("/v1/admin/providers/vidgen", json={"weight": "heavy"}, headers=_if_match(2))
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "$.routing.providers.vidgen.weight")


async def test_a_team_quota_applies_to_the_next_create(admin: httpx.AsyncClient) -> None:
    """After PUT requests="1/hour" for team-a, its first create is accepted and its second refused with a 429."""
    bad = await admin.put("/v1/admin/teams/team-a", json={"requests": "lots"}, headers=_if_match(1))
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "$.quotas.teams.team-a")
    reply = await admin.put("/v1/admin/teams/team-a", json={"requests": "1/hour"}, headers=_if_match(1))
    assert (reply.status_code, reply.json()["version"]) == (200, 2)
    assert (await admin.get("/v1/admin/teams/team-a")).json()["value"]["requests"] == "1/hour"
    body = {"model": "scenex", "prompt": "a cat"}
    first = await admin.post("/v1/videos", json=body, headers=auth(TEAM_A_KEY))
    second = await admin.post("/v1/videos", json=body, headers=auth(TEAM_A_KEY))
    assert (first.status_code, second.status_code) == (202, 429)


async def test_a_quotas_rollback_restores_the_earlier_limits(admin: httpx.AsyncClient) -> None:
    """Team limits set in v2 are gone after rolling back to v1 (as v3); the history shows the three versions."""
    await admin.put("/v1/admin/teams/team-a", json={"max_concurrent_jobs": 1}, headers=_if_match(1))
    reply = await admin.post("/v1/admin/quotas/rollback", json={"version": 1}, headers=_if_match(2))
    assert (reply.status_code, reply.json()["version"], reply.json()["value"]["teams"]) == (200, 3, {})
    assert (await admin.get("/v1/admin/teams/team-a")).json()["value"] is None
    history = (await admin.get("/v1/admin/quotas/history")).json()["data"]
    assert [(h["version"], h["action"]) for h in history] == [(3, "rollback"), (2, "team"), (1, "seed")]


async def test_a_created_key_works_until_it_is_revoked(admin: httpx.AsyncClient) -> None:
    """The secret comes once; the key lists without it and without its digest; revoked, it is a 401."""
    created = await admin.post("/v1/admin/keys", json={"team": "studio", "id": "studio-1"})
    assert created.status_code == 201, created.text
    secret = created.json()["key"]
    assert secret.startswith("vgk_")
    assert (await admin.get("/v1/videos", headers=auth(secret))).status_code == 200
    listed = (await admin.get("/v1/admin/keys")).text
    assert "studio-1" in listed
    assert secret not in listed
    assert digest(secret) not in listed
    assert (await admin.post("/v1/admin/keys", json={"team": "studio", "id": "studio-1"})).status_code == 409
    revoked = await admin.delete("/v1/admin/keys/studio-1")
    assert (revoked.status_code, revoked.json()["revoked_at"] is not None) == (200, True)
    assert (await admin.get("/v1/videos", headers=auth(secret))).status_code == 401
    audit = (await admin.get("/v1/admin/audit", params={"kind": "keys"})).json()["data"]
    assert [(e["action"], e["actor"], e["target"]) for e in audit[:2]] == [
        ("revoke_key", "ops", "studio-1"),
        ("create_key", "ops", "studio-1"),
    ]
    assert secret not in str(audit)
    assert digest(secret) not in str(audit)


async def test_a_rotated_key_has_a_new_secret_and_the_old_one_still_works(admin: httpx.AsyncClient) -> None:
    """Rotation gives a new secret; both work during the grace period; the reply says until when."""
    old = (await admin.post("/v1/admin/keys", json={"team": "studio", "id": "studio-2"})).json()["key"]
    rotated = await admin.post("/v1/admin/keys/studio-2/rotate")
    assert rotated.status_code == 200
    new = rotated.json()["key"]
    assert new != old
    assert rotated.json()["previous_valid_until"] is not None
    for secret in (old, new):
        assert (await admin.get("/v1/videos", headers=auth(secret))).status_code == 200


async def test_a_rotation_with_no_grace_cuts_the_old_secret_off_at_once(admin: httpx.AsyncClient) -> None:
    """`{"grace_s": 0}` (a leaked key): the new secret works, the old one is a 401 at once; a bad grace is a 400."""
    old = (await admin.post("/v1/admin/keys", json={"team": "studio", "id": "studio-3"})).json()["key"]
    bad = await admin.post("/v1/admin/keys/studio-3/rotate", json={"grace_s": -1})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "grace_s")
    assert (await admin.get("/v1/videos", headers=auth(old))).status_code == 200
    rotated = await admin.post("/v1/admin/keys/studio-3/rotate", json={"grace_s": 0})
    assert rotated.status_code == 200, rotated.text
    assert (await admin.get("/v1/videos", headers=auth(rotated.json()["key"]))).status_code == 200
    assert (await admin.get("/v1/videos", headers=auth(old))).status_code == 401


async def test_the_last_admin_key_cannot_be_revoked(admin: httpx.AsyncClient) -> None:
    """Revoking the only admin key is a 409 and the key keeps working."""
    reply = await admin.delete("/v1/admin/keys/ops")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "last_admin_key")
    assert (await admin.get("/v1/admin/keys")).status_code == 200


async def test_a_key_without_admin_gets_403_on_every_admin_route(admin: httpx.AsyncClient) -> None:
    """Every admin route refuses a videos-only key with a 403 and changes nothing."""
    for method, path in ADMIN_ROUTES:
        reply = await admin.request(method, path, json={}, headers={**auth(TEAM_A_KEY), **_if_match(1)})
        assert (method, path, reply.status_code, reply.json()["error"]["code"]) == (method, path, 403, "missing_scope")
    assert (await admin.get("/v1/admin/routing")).json()["version"] == 1
    assert len((await admin.get("/v1/admin/audit")).json()["data"]) == 3  # the three seeds


async def test_replicas_lists_this_one_with_its_applied_versions(admin: httpx.AsyncClient) -> None:
    """The one live replica shows the version of each document it runs, updated on a change."""
    await admin.put("/v1/admin/routing", json=DENY_VIDGEN, headers=_if_match(1))
    replicas = (await admin.get("/v1/admin/replicas")).json()["data"]
    assert len(replicas) == 1
    assert replicas[0]["applied"] == {"routing": 2, "quotas": 1, "keys": 1}

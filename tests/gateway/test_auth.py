"""Client keys: the key ring authenticates by digest, refuses with distinct codes, enforces scopes, and over
HTTP keeps teams apart (another team's job is a 404) without ever echoing a key."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest, new_key
from gateway.config import ApiKeyConfig, ConfigError
from gateway.errors import Forbidden, Unauthorized
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY, VIDGEN_KEY_ENV, auth, gateway_settings

USAGE_ONLY_KEY = "vgk_test_usage_only_" + secrets.token_hex(8)


def _ring() -> KeyRing:
    return KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(USAGE_ONLY_KEY): Caller(key_id="key-u", team="team-a", scopes=frozenset({"usage"})),
        }
    )


def _strings_in(value: Any, seen: set[int] | None = None) -> list[str]:
    """Every string reachable from `value` through containers and object attributes."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings_in(k, seen), *_strings_in(v, seen))]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for item in value for s in _strings_in(item, seen)]
    if hasattr(value, "__struct_fields__"):
        return [s for f in value.__struct_fields__ for s in _strings_in(getattr(value, f), seen)]
    if hasattr(value, "__dict__"):
        return _strings_in(vars(value), seen)
    return []


def test_valid_key_gives_its_caller() -> None:
    """A known bearer key authenticates as its key id, team and scopes."""
    caller = _ring().authenticate(f"Bearer {TEAM_A_KEY}")
    assert caller == Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"}))


def test_bearer_scheme_is_case_insensitive() -> None:
    """`bearer` in lower case is the same scheme (RFC 7235)."""
    assert _ring().authenticate(f"bearer {TEAM_A_KEY}").key_id == "key-a"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_key"),
        ("", "missing_key"),
        (f"Basic {TEAM_A_KEY}", "invalid_authorization"),
        (TEAM_A_KEY, "invalid_authorization"),
        ("Bearer ", "invalid_authorization"),
        ("Bearer vgk_not_a_key_at_all", "invalid_key"),
        (f"Bearer {TEAM_A_KEY}x", "invalid_key"),
    ],
    # Stable ids (the test key is random per process; parallel workers must collect the same names).
    ids=["no-header", "empty", "basic-scheme", "no-scheme", "empty-bearer", "unknown-key", "key-with-suffix"],
)
def test_refusals_have_distinct_codes(header: str | None, code: str) -> None:
    """No header, a wrong scheme and an unknown key are each Unauthorized with their own code."""
    with pytest.raises(Unauthorized) as raised:
        _ring().authenticate(header)
    assert raised.value.code == code
    assert raised.value.status_code == 401


def test_refusal_messages_never_contain_the_key() -> None:
    """An unknown key is refused without quoting it back."""
    presented = "vgk_presented_" + secrets.token_hex(8)
    with pytest.raises(Unauthorized) as raised:
        _ring().authenticate(f"Bearer {presented}")
    assert presented not in str(raised.value)


def test_key_ring_holds_digests_not_keys() -> None:
    """No string in the key ring's state is a plaintext key; the digest is there instead."""
    strings = _strings_in(_ring())
    assert not any(TEAM_A_KEY in s or USAGE_ONLY_KEY in s for s in strings)
    assert digest(TEAM_A_KEY) in strings


def test_key_ring_from_env_config_holds_no_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key read from its environment variable is digested at load; the plaintext is not kept."""
    key = new_key()
    monkeypatch.setenv("VG_TEST_CLIENT_KEY", key)
    ring = KeyRing.from_config((ApiKeyConfig(id="k1", team="t1", key_env="VG_TEST_CLIENT_KEY"),))
    assert not any(key in s for s in _strings_in(ring))
    assert ring.authenticate(f"Bearer {key}").team == "t1"


def test_key_ring_from_digest_config_accepts_the_key() -> None:
    """A `sha256` entry authenticates the key whose digest it is, with the configured scopes."""
    key = new_key()
    config = ApiKeyConfig(id="k2", team="t2", scopes=frozenset({"videos", "admin"}), sha256=digest(key))
    caller = KeyRing.from_config((config,)).authenticate(f"Bearer {key}")
    assert caller.scopes == frozenset({"videos", "admin"})


def test_key_ring_from_config_fails_when_the_key_env_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset key variable is a start-up ConfigError naming the variable."""
    monkeypatch.delenv("VG_TEST_UNSET_KEY", raising=False)
    with pytest.raises(ConfigError, match="VG_TEST_UNSET_KEY"):
        KeyRing.from_config((ApiKeyConfig(id="k3", team="t3", key_env="VG_TEST_UNSET_KEY"),))


def test_new_keys_are_prefixed_and_unique() -> None:
    """Generated keys carry the scanner-friendly prefix and do not repeat."""
    keys = {new_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(k.startswith("vgk_") and len(k) > 40 for k in keys)


def test_missing_scope_is_forbidden() -> None:
    """A caller without the needed scope gets Forbidden (403) with code `missing_scope`."""
    caller = _ring().authenticate(f"Bearer {USAGE_ONLY_KEY}")
    with pytest.raises(Forbidden) as raised:
        caller.require("videos")
    assert raised.value.status_code == 403
    assert raised.value.code == "missing_scope"


def test_present_scope_passes() -> None:
    """A caller with the scope passes `require`, and the same caller is still refused a scope it lacks."""
    caller = _ring().authenticate(f"Bearer {TEAM_A_KEY}")
    caller.require("videos")

    with pytest.raises(Forbidden):
        caller.require("usage")


# ------------------------------------------------------------------------------------------------ HTTP


# One gateway (and emulator) serves every HTTP test here (starting and stopping a pair costs ~0.4 s); team B
# never creates a job, so "B sees nothing" holds whatever order the tests run in.
on_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    ring = KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(TEAM_B_KEY): Caller(key_id="key-b", team="team-b", scopes=frozenset({"videos"})),
            digest(USAGE_ONLY_KEY): Caller(key_id="key-u", team="team-a", scopes=frozenset({"usage"})),
        }
    )
    vidgen_key = "sbx_" + secrets.token_hex(12)
    emulator = create_vidgen_emulator(VidgenEmulatorConfig(api_keys=frozenset({vidgen_key})))
    with pytest.MonkeyPatch.context() as env:
        env.setenv(VIDGEN_KEY_ENV, vidgen_key)
        async with serve_app(emulator) as vidgen_url:
            app = create_app(gateway_settings(vidgen_url), keyring=ring)
            async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
                yield client


def _error(reply: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert {"type", "code", "message", "param", "provider", "retryable", "request_id"} <= set(error)
    return error


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_key"),
        ({"Authorization": "Token abc"}, "invalid_authorization"),
        ({"Authorization": "Bearer vgk_wrong"}, "invalid_key"),
    ],
)
@on_module_loop
async def test_unauthenticated_request_is_a_401_envelope(
    gateway: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    """Without a valid key every route answers 401 with the error envelope and the refusal's code."""
    for method, path in [("GET", "/v1/videos"), ("POST", "/v1/videos"), ("GET", "/v1/videos/video_x")]:
        reply = await gateway.request(method, path, headers=headers, json={"prompt": "x"})
        assert reply.status_code == 401, (method, path, reply.text)
        error = _error(reply)
        assert error["type"] == "unauthorized"
        assert error["code"] == code
        assert error["request_id"] == reply.headers["x-request-id"]


@on_module_loop
async def test_key_without_videos_scope_is_a_403(gateway: httpx.AsyncClient) -> None:
    """A valid key lacking the `videos` scope cannot create or list videos (403 `missing_scope`)."""
    create = await gateway.post("/v1/videos", headers=auth(USAGE_ONLY_KEY), json={"prompt": "x"})
    listing = await gateway.get("/v1/videos", headers=auth(USAGE_ONLY_KEY))
    for reply in (create, listing):
        assert reply.status_code == 403
        assert _error(reply)["code"] == "missing_scope"


@on_module_loop
async def test_other_teams_job_is_a_404_like_a_missing_one(gateway: httpx.AsyncClient) -> None:
    """Team B reading, downloading or deleting team A's job gets the 404 an id that never existed gets."""
    created = await gateway.post("/v1/videos", headers=auth(TEAM_A_KEY), json={"prompt": "team a secret plan"})
    assert created.status_code == 202, created.text
    video_id = created.json()["id"]
    missing_id = "video_" + "0" * 28
    for method, suffix in [("GET", ""), ("GET", "/content"), ("DELETE", "")]:
        theirs = await gateway.request(method, f"/v1/videos/{video_id}{suffix}", headers=auth(TEAM_B_KEY))
        absent = await gateway.request(method, f"/v1/videos/{missing_id}{suffix}", headers=auth(TEAM_B_KEY))
        assert theirs.status_code == absent.status_code == 404, (method, suffix, theirs.text)
        mine, none = _error(theirs), _error(absent)
        assert (mine["type"], mine["code"], mine["param"]) == (none["type"], none["code"], none["param"])
        assert "team a secret plan" not in theirs.text
    still_there = await gateway.get(f"/v1/videos/{video_id}", headers=auth(TEAM_A_KEY))
    assert still_there.status_code == 200


@on_module_loop
async def test_other_teams_jobs_are_not_listed(gateway: httpx.AsyncClient) -> None:
    """Team B's listing is empty after team A creates a job."""
    created = await gateway.post("/v1/videos", headers=auth(TEAM_A_KEY), json={"prompt": "mine"})
    assert created.status_code == 202
    listing = await gateway.get("/v1/videos", headers=auth(TEAM_B_KEY))
    assert listing.json()["data"] == []


@on_module_loop
async def test_key_is_never_echoed_in_replies(gateway: httpx.AsyncClient) -> None:
    """Neither a valid nor an invalid key appears in any reply body or header, on success or on error."""
    bogus = "vgk_bogus_" + secrets.token_hex(12)
    replies = []
    for key in (TEAM_A_KEY, bogus):
        for headers in (auth(key), {"Authorization": f"Basic {key}"}, {"Authorization": key}):
            replies += [
                await gateway.post("/v1/videos", headers=headers, json={"prompt": "a kite"}),
                await gateway.post("/v1/videos", headers=headers, json={"prompt": "a kite", "nope": 1}),
                await gateway.get("/v1/videos", headers=headers),
                await gateway.get("/v1/videos/video_nope", headers=headers),
                await gateway.get("/v1/nowhere", headers=headers),
            ]
    assert {r.status_code for r in replies} >= {202, 400, 401, 404}
    for reply in replies:
        exposed = reply.text + "".join(f"{k}: {v}\n" for k, v in reply.headers.items())
        assert TEAM_A_KEY not in exposed
        assert bogus not in exposed

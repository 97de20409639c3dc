"""The admin CLI against a served gateway: apply shows the diff and writes only without --dry-run, export prints
the live state as TOML, keys and teams go through the API, and a refusal or an unreachable gateway is one line on
stderr with exit 2."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.cli import main
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, gateway_settings, gateway_settings_text
from tests.e2e.processes import free_port

ADMIN_KEY = "vgk_test_admin_cli_0123456789"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")
KEYS = {
    digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"})),
    digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
}


@pytest.fixture
async def url(vidgen_url: str, serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv("VIDEO_GATEWAY_KEY", ADMIN_KEY)
    async with serve_gateway(gateway_settings(vidgen_url), keyring=KeyRing(KEYS)) as served:
        monkeypatch.setenv("VIDEO_GATEWAY_URL", served)
        yield served


def _printed(capsys: pytest.CaptureFixture[str]) -> str:
    """What the CLI printed: stdout without the served gateway's log lines (which start with their time)."""
    lines = capsys.readouterr().out.splitlines(keepends=True)
    return "".join(line for line in lines if not LOG_LINE.match(line))


async def _cli(*argv: str) -> int:
    """The CLI's blocking client runs in a thread: the gateway is served on this test's loop."""
    return await asyncio.to_thread(main, list(argv))


async def test_apply_shows_the_diff_and_writes_only_without_dry_run(
    url: str, vidgen_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints the routing diff and leaves version 1; apply makes version 2; again, it is unchanged."""
    config = tmp_path / "gateway.toml"
    config.write_text(gateway_settings_text(vidgen_url) + '\n[routing]\ndefault_strategy = "fastest"\n')
    assert await _cli("apply", "--file", str(config), "--dry-run") == 0
    out = _printed(capsys)
    assert '-  "default_strategy": "cheapest",' in out
    assert '+  "default_strategy": "fastest",' in out
    assert "routing: would change version 1" in out
    assert "quotas: unchanged (version 1)" in out
    assert await _cli("apply", "--file", str(config)) == 0
    assert "routing: version 1 -> 2" in _printed(capsys)
    assert await _cli("apply", "--file", str(config)) == 0
    assert "routing: unchanged (version 2)" in _printed(capsys)


async def test_export_prints_the_live_state_as_toml(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The export decodes as TOML with the live routing table; keys are listed by id only."""
    assert await _cli("teams", "set", "team-a", "--requests", "5/minute") == 0
    _printed(capsys)
    assert await _cli("export") == 0
    out = _printed(capsys)
    exported = msgspec.toml.decode(out)
    assert exported["routing"]["default_strategy"] == "cheapest"
    assert exported["quotas"]["teams"]["team-a"] == {"requests": "5/minute"}
    assert "# key ops: team ops, scopes admin,videos" in out
    assert digest(ADMIN_KEY) not in out


async def test_keys_create_list_and_revoke(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """create prints the secret once; list shows the key without it; revoke marks it revoked."""
    assert await _cli("keys", "create", "--team", "studio", "--id", "studio-1") == 0
    secret = json.loads(_printed(capsys))["key"]
    assert await _cli("keys", "list") == 0
    listed = _printed(capsys)
    assert "studio-1" in listed
    assert secret not in listed
    assert await _cli("keys", "revoke", "studio-1") == 0
    assert json.loads(_printed(capsys))["revoked_at"] is not None


async def test_keys_rotate_with_no_grace_ends_the_old_secret(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`keys rotate ID --grace-s 0` prints a new secret, and the old one is refused at once."""
    assert await _cli("keys", "create", "--team", "studio", "--id", "studio-2") == 0
    old = json.loads(_printed(capsys))["key"]
    assert await _cli("keys", "rotate", "studio-2", "--grace-s", "0") == 0
    new = json.loads(_printed(capsys))["key"]
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/v1/videos", headers=auth(new))).status_code == 200
        assert (await client.get("/v1/videos", headers=auth(old))).status_code == 401


async def test_routing_preview_rollback_and_audit(
    url: str, vidgen_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """preview shows the plan under the file's table beside the active one; rollback restores version 1's table as
    version 3; audit lists the changes by the admin key."""
    config = tmp_path / "gateway.toml"
    config.write_text(
        gateway_settings_text(vidgen_url) + '\n[[routing.rules]]\nname = "no-vidgen"\ndeny = ["vidgen"]\n'
    )
    request = tmp_path / "create.json"
    request.write_text('{"model": "scenex", "prompt": "a cat"}')
    assert await _cli("routing", "preview", "--file", str(config), "--request", str(request)) == 0
    preview = json.loads(_printed(capsys))
    assert [c["provider"] for c in preview["active"]["candidates"]] == ["vidgen"]
    assert preview["proposed"]["candidates"] == []
    assert await _cli("apply", "--file", str(config)) == 0
    assert await _cli("routing", "rollback", "1") == 0
    _printed(capsys)
    assert await _cli("routing", "get") == 0
    live = json.loads(_printed(capsys))
    assert (live["version"], live["value"]["rules"]) == (3, [])
    assert await _cli("audit", "--kind", "routing") == 0
    audit = json.loads(_printed(capsys))["data"]
    assert [(e["version"], e["action"], e["actor"]) for e in audit[:2]] == [(3, "rollback", "ops"), (2, "put", "ops")]


async def test_a_refusal_is_one_line_and_exit_2(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key without `admin`, and a gateway nobody listens for, each give exit 2 and one stderr line."""
    monkeypatch.setenv("VIDEO_GATEWAY_KEY", TEAM_A_KEY)
    assert await _cli("routing", "get") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "403 missing_scope" in err
    monkeypatch.setenv("VIDEO_GATEWAY_URL", f"http://127.0.0.1:{free_port()}")
    assert await _cli("audit") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "cannot reach the gateway" in err
    assert "Traceback" not in err

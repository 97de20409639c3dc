import base64
import json
import secrets
import socket
from pathlib import Path
from typing import cast

import pytest
from redis.exceptions import ResponseError

from gateway.checks import _persistence, run_checks
from gateway.cli import main
from gateway.config import load_settings
from gateway.store.connect import RedisClient
from tests.conftest import EXAMPLE_CONFIG

WEBHOOK_ENV = "TEST_CHECK_WEBHOOK_SECRET"


def _edited(text: str, old: str, new: str) -> str:
    assert old in text, f"the example config no longer has {old!r}"
    return text.replace(old, new)


def sandbox_config(tmp_path: Path, urls: dict[str, str], redis_prefix: str) -> Path:
    """The example config pointed at the served emulators, the test Redis and a webhook team."""
    text = Path(EXAMPLE_CONFIG).read_text()
    for slug, provider in load_settings(EXAMPLE_CONFIG).providers.items():
        text = _edited(text, f'base_url = "{provider.base_url}"', f'base_url = "{urls[slug]}"')
    text = _edited(text, 'backend = "memory"', 'backend = "redis"')
    text = _edited(text, 'redis_url = "redis://127.0.0.1:6379/0"', 'redis_url = "redis://127.0.0.1:6379/9"')
    text = _edited(text, 'key_prefix = "vg:"', f'key_prefix = "{redis_prefix}"')
    text += f'\n[webhooks.teams.sandbox]\nsecret_env = "{WEBHOOK_ENV}"\n'
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def _closed_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


async def test_check_passes_against_the_sandbox(
    sandbox: dict[str, str], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every check passes over the emulators and a real Redis: the videogenapi key is verified by `GET /v1/user`,
    the others are said to be unverified, and Redis reports its version."""
    monkeypatch.setenv("VIDEO_GATEWAY_SANDBOX_KEY", "vg_" + secrets.token_hex(16))
    monkeypatch.setenv(WEBHOOK_ENV, "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    report = await run_checks(str(sandbox_config(tmp_path, sandbox, redis_prefix)))
    by_check = {finding.check: finding for finding in report.findings}
    assert report.ok, report.findings
    assert by_check["provider.videogenapi"].status == "ok"
    assert "credentials verified" in by_check["provider.videogenapi"].detail
    assert by_check["provider.nanogpt"].status == "warn"
    assert "credentials not verified, to spend no money" in by_check["provider.nanogpt"].detail
    assert by_check["redis"].status in {"ok", "warn"}  # warn when the test Redis runs without persistence
    assert "Redis " in by_check["redis"].detail
    assert by_check["webhooks.sandbox"].status == "ok"


async def test_check_names_a_missing_variable_and_a_wrong_provider_key(
    sandbox: dict[str, str], redis_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing client-key variable and a videogenapi key the provider refuses both fail the check, each named."""
    monkeypatch.delenv("VIDEO_GATEWAY_SANDBOX_KEY", raising=False)
    monkeypatch.setenv("VIDEOGENAPI_API_KEY", "sbx_wrong_key")
    monkeypatch.setenv(WEBHOOK_ENV, "whsec_dG9vIHNob3J0")  # base64 of 9 bytes: below the 24 the spec asks
    report = await run_checks(str(sandbox_config(tmp_path, sandbox, redis_prefix)))
    by_check = {finding.check: finding for finding in report.findings}
    assert not report.ok
    assert by_check["env"].status == "fail"
    assert "VIDEO_GATEWAY_SANDBOX_KEY" in by_check["env"].detail
    assert by_check["provider.videogenapi"].status == "fail"
    assert "auth, HTTP 401" in by_check["provider.videogenapi"].detail
    assert "sbx_wrong_key" not in json.dumps([f.detail for f in report.findings])
    assert by_check["webhooks.sandbox"].status == "fail"
    assert "24 to 64 bytes, not 9" in by_check["webhooks.sandbox"].detail


def test_check_json_lists_every_missing_variable_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --json` prints {config, ok, findings: [{check, status, detail}]}, names both unset variables (not
    only the first) and an unreachable provider, and exits 1."""
    monkeypatch.delenv("TEST_CHECK_VIDGEN_KEY", raising=False)
    monkeypatch.delenv("TEST_CHECK_CLIENT_KEY", raising=False)
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[[keys]]
id = "ci"
team = "ci"
key_env = "TEST_CHECK_CLIENT_KEY"
[providers.vidgen]
base_url = "http://127.0.0.1:{_closed_port()}"
api_key_env = "TEST_CHECK_VIDGEN_KEY"
"""
    )
    assert main(["check", "--config", str(config), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"config", "ok", "findings"}
    assert report["ok"] is False
    by_check = {finding["check"]: finding for finding in report["findings"]}
    assert set(by_check) == {"config", "env", "redis", "provider.vidgen"}
    assert by_check["config"]["status"] == "ok"
    assert "TEST_CHECK_VIDGEN_KEY" in by_check["env"]["detail"]
    assert "TEST_CHECK_CLIENT_KEY" in by_check["env"]["detail"]
    assert by_check["redis"]["status"] == "skip"
    assert by_check["provider.vidgen"]["status"] == "fail"
    assert "cannot connect" in by_check["provider.vidgen"]["detail"]


def test_check_of_an_invalid_file_names_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that does not decode fails at the config check, naming the path of the bad key."""
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nport = 70000\n")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  config" in out
    assert "$.server.port" in out


class _ManagedRedis:
    """A Redis that refuses CONFIG, as managed services do (ElastiCache, Memorystore)."""

    async def config_get(self, pattern: str) -> dict[str, str]:
        raise ResponseError("unknown command 'CONFIG'")


async def test_a_redis_refusing_config_is_reported_not_failed() -> None:
    """When CONFIG GET is refused the persistence is said to be unknown and the check does not fail."""
    status, detail = await _persistence(cast(RedisClient, _ManagedRedis()))
    assert status == "ok"
    assert "CONFIG GET refused" in detail

"""Ops views over the emulators: `explain` shows the plan without submitting, `GET /v1/providers` the state,
and the CLI mirrors explain against a running gateway."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from gateway.auth import Caller, KeyRing, digest
from tests.conftest import GatewayFactory, example_settings

ADMIN_KEY = "vgk_test_ops_admin_000111"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
async def gateway(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    keys = KeyRing({digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"}))})
    async with (
        serve_gateway(example_settings(sandbox), keyring=keys) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield url, client


async def test_explain_ranks_candidates_and_lists_drops_without_submitting(
    gateway: tuple[str, httpx.AsyncClient],
) -> None:
    """For sora-2 with an image URL: both offerings ranked by cost with their scores; no job is created."""
    _, client = gateway
    body = {"model": "sora-2", "prompt": "a fox", "seconds": 8}
    plan = (await client.post("/v1/routing/explain", json=body, headers=ADMIN)).json()
    assert plan["strategy"] == "cheapest"
    assert [c["provider"] for c in plan["candidates"]] == ["nanogpt"]
    assert plan["candidates"][0]["score"]["cost_usd"] == pytest.approx(0.8)
    [dropped] = plan["dropped"]
    assert dropped["provider"] == "videogenapi"
    assert any("8 s not offered" in reason for reason in dropped["reasons"])
    assert (plan["outcome"], dropped["permanent"]) == ("routed", True)
    assert (await client.get("/v1/videos", headers=ADMIN)).json()["data"] == []


async def test_explain_tells_never_from_not_now(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, gateway: tuple[str, httpx.AsyncClient]
) -> None:
    """4 s on scenex can never be served (with the models that could); with Vidgen switched off, 5 s is "not now"."""
    _, client = gateway
    never = (await client.post("/v1/routing/explain", json={"prompt": "a fox", "seconds": 4}, headers=ADMIN)).json()
    assert never["outcome"] == "unsupported_request"
    assert [(d["provider"], d["permanent"]) for d in never["dropped"]] == [("vidgen", True)]
    assert never["models_serving"] == ["ltx-video-13b", "sora-2", "veo-3", "veo-3-fast", "veo-3.1-fast"]
    settings = example_settings(sandbox)
    providers = {**settings.providers, "vidgen": msgspec.structs.replace(settings.providers["vidgen"], enabled=False)}
    keys = KeyRing({digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"}))})
    off = msgspec.structs.replace(settings, providers=providers)
    async with serve_gateway(off, keyring=keys) as url, httpx.AsyncClient(base_url=url, timeout=10) as other:
        later = (await other.post("/v1/routing/explain", json={"prompt": "a fox"}, headers=ADMIN)).json()
    assert later["outcome"] == "no_provider_available"
    assert [(d["reasons"], d["permanent"]) for d in later["dropped"]] == [(["provider disabled"], False)]
    assert later["models_serving"] == []


async def test_providers_show_circuit_headroom_and_speed(gateway: tuple[str, httpx.AsyncClient]) -> None:
    """Every configured provider appears with its circuit state and headroom; speed appears once a job finished."""
    _, client = gateway
    states = (await client.get("/v1/providers", headers=ADMIN)).json()
    assert [s["provider"] for s in states] == ["fal", "nanogpt", "veo", "videogen", "videogenapi", "vidgen"]
    assert all(s["circuit"]["state"] == "closed" and s["headroom"]["available"] for s in states)


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603 - our own CLI


async def test_cli_explain_prints_the_same_plan(gateway: tuple[str, httpx.AsyncClient], tmp_path: Path) -> None:
    """`video-gateway routing explain --file` asks the running gateway and prints its plan as JSON."""
    url, _ = gateway
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "sora-2", "prompt": "a fox"}))
    env = {"VIDEO_GATEWAY_KEY": ADMIN_KEY, "PATH": "/usr/bin:/bin"}
    done = await asyncio.to_thread(_run_cli, ["routing", "explain", "--file", str(request), "--url", url], env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["candidates"][0]["provider"] == "nanogpt"

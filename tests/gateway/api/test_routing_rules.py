"""Ops rules end to end: a team rule steers its jobs, `GET /v1/routing/rules` shows the version, and a reload
from the config file swaps rules only when the new file is valid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.config import parse_settings
from routing.rules import RoutingRules
from tests.conftest import EXAMPLE_CONFIG, GatewayFactory, example_settings

ADMIN_KEY = "vgk_test_admin_0123456789"
STUDIO_KEY = "vgk_test_studio_0123456789"
RULE = """
[routing]
default_strategy = "cheapest"

[[routing.rules]]
name = "studio-on-videogenapi"
match = { teams = ["studio"] }
allow = ["videogenapi"]
"""


def keyring() -> KeyRing:
    return KeyRing(
        {
            digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"})),
            digest(STUDIO_KEY): Caller(key_id="studio", team="studio", scopes=frozenset({"videos"})),
        }
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(Path(EXAMPLE_CONFIG).read_text() + RULE)
    return path


@pytest.fixture
async def gateway(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, config_file: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = msgspec.structs.replace(example_settings(sandbox), routing=_routing_of(config_file))
    async with (
        serve_gateway(settings, keyring=keyring(), config_path=str(config_file)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


def _routing_of(path: Path) -> RoutingRules:
    return parse_settings(path.read_bytes()).routing


def _swap(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text().replace(old, new))


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_team_rule_forces_its_provider(gateway: httpx.AsyncClient) -> None:
    """sora-2 is cheapest at NanoGPT, but the studio team's rule allows only videogenapi; other teams are unaffected."""
    body = {"model": "sora-2", "prompt": "a boat"}
    studio = (await gateway.post("/v1/videos", json=body, headers=_auth(STUDIO_KEY))).json()
    other = (await gateway.post("/v1/videos", json=body, headers=_auth(ADMIN_KEY))).json()
    assert (studio["provider"], other["provider"]) == ("videogenapi", "nanogpt")


async def test_rules_show_their_version_and_need_admin(gateway: httpx.AsyncClient) -> None:
    """The active rules carry a version and their rules; a key without `admin` gets a 403."""
    active = (await gateway.get("/v1/routing/rules", headers=_auth(ADMIN_KEY))).json()
    assert len(active["version"]) == 12
    assert active["rules"]["rules"][0]["name"] == "studio-on-videogenapi"
    assert (await gateway.get("/v1/routing/rules", headers=_auth(STUDIO_KEY))).status_code == 403


async def test_an_invalid_reload_is_rejected_and_the_old_rules_stay(
    gateway: httpx.AsyncClient, config_file: Path
) -> None:
    """A rule naming an unknown provider is a 400 naming its path; the version and the routing do not change."""
    before = (await gateway.get("/v1/routing/rules", headers=_auth(ADMIN_KEY))).json()["version"]
    _swap(config_file, 'allow = ["videogenapi"]', 'allow = ["nanogtp"]')
    reply = await gateway.post("/v1/routing/reload", headers=_auth(ADMIN_KEY))
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "$.routing.rules[0].allow[0]"
    assert (await gateway.get("/v1/routing/rules", headers=_auth(ADMIN_KEY))).json()["version"] == before
    studio = await gateway.post("/v1/videos", json={"model": "sora-2", "prompt": "x"}, headers=_auth(STUDIO_KEY))
    assert studio.json()["provider"] == "videogenapi"


async def test_a_valid_reload_takes_effect_without_restart(gateway: httpx.AsyncClient, config_file: Path) -> None:
    """Changing the studio rule to NanoGPT and reloading moves the team's next job there, with a new version."""
    before = (await gateway.get("/v1/routing/rules", headers=_auth(ADMIN_KEY))).json()["version"]
    _swap(config_file, 'allow = ["videogenapi"]', 'allow = ["nanogpt"]')
    reply = await gateway.post("/v1/routing/reload", headers=_auth(ADMIN_KEY))
    assert reply.status_code == 200
    assert reply.json()["version"] != before
    studio = await gateway.post("/v1/videos", json={"model": "sora-2", "prompt": "x"}, headers=_auth(STUDIO_KEY))
    assert studio.json()["provider"] == "nanogpt"

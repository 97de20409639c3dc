"""A provider's `reserve` through the gateway over the emulators (trunk reservation): once its window is down to
the reserve, requests another provider can serve go there, and the last units go to requests only it can serve."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import msgspec
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings
from gateway.store.base import JobStore
from routing.headroom.config import HeadroomConfig, WindowConfig
from tests.conftest import GatewayFactory, auth, example_settings
from tests.e2e.conftest import generate_calls, with_nanogpt

# NanoGPT $0.35, videogenapi $1.99; fal (also $0.35) is left out: these tests are about a pair of providers.
SHARED = {"model": "kling-2.5", "prompt": "a fox in the snow", "seconds": 5, "routing": {"exclude": ["fal"]}}
NANO_ONLY = {"model": "sora-2", "prompt": "a paper boat on a pond", "seconds": 4}  # videogenapi offers 10 s only
ADMIN_KEY = "vgk_test_reserve_admin_0001"
OPS = Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"}))


def nanogpt_window(sandbox: dict[str, str], *, limit: int, reserve: int = 0) -> Settings:
    """The example config on the emulators with NanoGPT's generate window at `limit` an hour, keeping `reserve`."""
    window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=limit, per_s=3600),), reserve=reserve)
    return with_nanogpt(example_settings(sandbox), headroom=window)


async def test_the_last_units_of_a_window_are_kept_for_requests_only_that_provider_serves(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """Window 4, reserve 2: two shared requests take NanoGPT, the third goes to videogenapi, and two NanoGPT-only
    requests still get NanoGPT; the fifth NanoGPT submit is never made."""
    settings = nanogpt_window(sandbox, limit=4, reserve=2)
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        shared = [(await client.post("/v1/videos", json=SHARED, headers=auth())).json() for _ in range(3)]
        only = [await client.post("/v1/videos", json=NANO_ONLY, headers=auth()) for _ in range(3)]
    assert [v["provider"] for v in shared] == ["nanogpt", "nanogpt", "videogenapi"]
    assert [r.status_code for r in only] == [202, 202, 503]
    assert [r.json().get("provider") for r in only[:2]] == ["nanogpt", "nanogpt"]
    assert await generate_calls(sandbox["nanogpt"]) == 4


async def test_explain_shows_why_a_candidate_is_held_back(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """With the window at its reserve, explain ranks NanoGPT after videogenapi and says why."""
    settings = nanogpt_window(sandbox, limit=3, reserve=3)
    async with (
        serve_gateway(settings, keyring=KeyRing({digest(ADMIN_KEY): OPS})) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        explained = (await client.post("/v1/routing/explain", json=SHARED, headers=admin)).json()
    [first, second] = explained["candidates"]
    assert (first["provider"], first["held_back"]) == ("videogenapi", None)
    assert second["provider"] == "nanogpt"
    assert second["held_back"] == "nanogpt: 3 left in the generate window, kept for requests only it can serve"


async def test_without_a_reserve_the_cheapest_takes_the_window_to_the_end(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """The default (reserve 0): shared requests spend NanoGPT's window and a NanoGPT-only request is refused."""
    settings = nanogpt_window(sandbox, limit=2)
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        shared = [(await client.post("/v1/videos", json=SHARED, headers=auth())).json() for _ in range(2)]
        only = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert [v["provider"] for v in shared] == ["nanogpt", "nanogpt"]
    assert only.status_code == 503


def test_a_negative_reserve_is_refused() -> None:
    """`reserve` is a count of units: a negative one does not decode, and the error names it."""
    raw = b'{"windows": [{"scope": "generate", "limit": 2, "per_s": 60}], "reserve": -1}'
    with pytest.raises(msgspec.ValidationError, match="reserve"):
        msgspec.json.decode(raw, type=HeadroomConfig)


AUTO_WINDOW = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=4, per_s=3600),), reserve="auto")


async def test_an_auto_reserve_keeps_what_the_exclusive_demand_seen_needs(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """`reserve = "auto"`, window 4/h: two NanoGPT-only creates are seen (2/h expected over the hour before a unit
    frees, plus a margin of 1: 3 held), so with 2 left a shared request goes to videogenapi, explain says why, and
    the two units left serve NanoGPT-only requests."""
    settings = with_nanogpt(example_settings(sandbox), headroom=AUTO_WINDOW)
    async with (
        serve_gateway(settings, keyring=KeyRing({digest(ADMIN_KEY): OPS})) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        first = [(await client.post("/v1/videos", json=NANO_ONLY, headers=admin)).json() for _ in range(2)]
        shared = (await client.post("/v1/videos", json=SHARED, headers=admin)).json()
        explained = (await client.post("/v1/routing/explain", json=SHARED, headers=admin)).json()
        later = [await client.post("/v1/videos", json=NANO_ONLY, headers=admin) for _ in range(3)]
    assert [v["provider"] for v in first] == ["nanogpt", "nanogpt"]
    assert shared["provider"] == "videogenapi"
    held = {c["provider"]: c["held_back"] for c in explained["candidates"]}
    assert held == {
        "videogenapi": None,
        "nanogpt": "nanogpt: 2 left in the generate window, kept for requests only it can serve"
        " (3 held back: 2 such in the last 3600 s)",
    }
    assert [r.status_code for r in later] == [202, 202, 503]
    assert await generate_calls(sandbox["nanogpt"]) == 4


async def test_an_auto_reserve_holds_nothing_back_until_exclusive_demand_is_seen(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """Explaining NanoGPT-only requests is not demand; with no NanoGPT-only create seen, shared requests take the
    cheaper NanoGPT to the end of its window."""
    settings = with_nanogpt(example_settings(sandbox), headroom=AUTO_WINDOW)
    async with (
        serve_gateway(settings, keyring=KeyRing({digest(ADMIN_KEY): OPS})) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        for _ in range(3):
            assert (await client.post("/v1/routing/explain", json=NANO_ONLY, headers=admin)).status_code == 200
        shared = [(await client.post("/v1/videos", json=SHARED, headers=admin)).json() for _ in range(5)]
    assert [v["provider"] for v in shared] == ["nanogpt"] * 4 + ["videogenapi"]


@pytest.mark.parametrize("store", ["memory", "redis"], indirect=True)
async def test_concurrent_shared_requests_never_take_the_reserved_units(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, store: JobStore
) -> None:
    """Window 5, reserve 2, ten shared requests at once: every screen sees 5 left, but the take at submit leaves the
    reserve, so exactly 3 go to NanoGPT and 7 to videogenapi; two NanoGPT-only requests then get NanoGPT."""
    settings = nanogpt_window(sandbox, limit=5, reserve=2)
    async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        shared = await asyncio.gather(*(client.post("/v1/videos", json=SHARED, headers=auth()) for _ in range(10)))
        only = [await client.post("/v1/videos", json=NANO_ONLY, headers=auth()) for _ in range(2)]
    assert [r.status_code for r in [*shared, *only]] == [202] * 12
    assert Counter(r.json()["provider"] for r in shared) == {"nanogpt": 3, "videogenapi": 7}
    assert [r.json()["provider"] for r in only] == ["nanogpt", "nanogpt"]
    assert await generate_calls(sandbox["nanogpt"]) == 5


async def test_providers_view_shows_the_units_the_reserve_keeps(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """`GET /v1/providers`: NanoGPT's generate window shows its limit, what is left and the 2 units kept."""
    settings = nanogpt_window(sandbox, limit=4, reserve=2)
    keys = KeyRing({digest(ADMIN_KEY): OPS})
    async with serve_gateway(settings, keyring=keys) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert (await client.post("/v1/videos", json=SHARED, headers=admin)).json()["provider"] == "nanogpt"
        providers = (await client.get("/v1/providers", headers=admin)).json()
    [nano] = [p for p in providers if p["provider"] == "nanogpt"]
    assert nano["headroom"]["windows"] == [
        {"scope": "generate", "limit": 4, "per_s": 3600, "remaining": 3, "reserved": 2}
    ]

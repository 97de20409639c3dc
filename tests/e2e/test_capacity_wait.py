"""A create no provider can take right now waits for one whose blocks lapse within `[failover] wait_for_capacity_s`
(a full moving window, a 429 cooldown) instead of answering 503, over the emulators and both stores; a block that
lasts longer, or the wait switched off, is answered 503 at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest

from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings
from gateway.store.base import JobStore
from routing.headroom.config import HeadroomConfig, WindowConfig
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, example_settings
from tests.e2e.conftest import arm, generate_calls
from tests.gateway.metrics.conftest import scrape, value

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}
NANO_ONLY = {**SORA, "routing": {"providers": ["nanogpt"]}}
WAITS = "video_gateway_router_capacity_wait_seconds_count"
ADMIN_KEY = "vgk_test_capacity_wait_adm"
TEAM_A = Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"}))


def nanogpt_window(per_s: int, *, wait_s: float | None = None) -> Callable[[Settings], Settings]:
    """NanoGPT takes one generation per `per_s` seconds; `wait_s` sets `[failover] wait_for_capacity_s`."""

    def adjust(settings: Settings) -> Settings:
        providers = dict(settings.providers)
        window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=1, per_s=per_s),))
        providers["nanogpt"] = msgspec.structs.replace(providers["nanogpt"], headroom=window)
        failover = settings.failover
        if wait_s is not None:
            failover = msgspec.structs.replace(failover, wait_for_capacity_s=wait_s)
        return msgspec.structs.replace(settings, providers=providers, failover=failover)

    return adjust


@pytest.fixture
async def client(
    request: pytest.FixtureRequest, sandbox: dict[str, str], serve_gateway: GatewayFactory, store: JobStore
) -> AsyncIterator[httpx.AsyncClient]:
    adjust: Callable[[Settings], Settings] = getattr(request, "param", lambda settings: settings)
    ops = Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"}))
    keyring = KeyRing({digest(TEAM_A_KEY): TEAM_A, digest(ADMIN_KEY): ops})
    settings = adjust(example_settings(sandbox))
    async with (
        serve_gateway(settings, store=store, keyring=keyring) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http


@pytest.mark.parametrize("client", [nanogpt_window(2)], indirect=True)
async def test_a_create_waits_for_a_window_that_frees_within_the_wait(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT's window (1 per 2 s) is spent by the first job; the second NanoGPT-only create waits for the unit to
    come back and is accepted by NanoGPT, where without the wait it would be refused."""
    first = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    second = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert (first.status_code, second.status_code) == (202, 202), second.text
    assert second.json()["provider"] == "nanogpt"
    assert second.json()["routing"]["attempts"] == [{"provider": "nanogpt", "outcome": "accepted", "error_code": None}]
    assert await generate_calls(sandbox["nanogpt"]) == 2
    assert value(await scrape(client), WAITS) == 1


@pytest.mark.parametrize("client", [nanogpt_window(2, wait_s=0)], indirect=True)
async def test_with_the_wait_off_the_same_create_is_refused_at_once(client: httpx.AsyncClient) -> None:
    """`wait_for_capacity_s = 0`: the second create is answered 503, naming the spent window."""
    assert (await client.post("/v1/videos", json=NANO_ONLY, headers=auth())).status_code == 202
    refused = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "no_provider_available"
    assert "generate window 1/2s exhausted" in refused.json()["error"]["message"]
    assert value(await scrape(client), WAITS) == 0


@pytest.mark.parametrize("client", [nanogpt_window(3600)], indirect=True)
async def test_a_window_that_frees_after_the_wait_is_refused_without_waiting(client: httpx.AsyncClient) -> None:
    """A window that frees in an hour: the create is refused 503 and nothing waited; explain shows when it clears."""
    assert (await client.post("/v1/videos", json=NANO_ONLY, headers=auth())).status_code == 202
    refused = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert refused.status_code == 503
    assert value(await scrape(client), WAITS) == 0
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    plan = (await client.post("/v1/routing/explain", json=NANO_ONLY, headers=admin)).json()
    [nano] = [d for d in plan["dropped"] if d["provider"] == "nanogpt"]
    assert 3500 < nano["clears_in_s"] <= 3600
    assert all(d["clears_in_s"] is None for d in plan["dropped"] if d["provider"] != "nanogpt")


async def test_a_create_arriving_during_a_short_cooldown_waits_it_out(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT answers 429 (Retry-After 3 s in the sandbox's time): that sora-2 job fails over to videogenapi; a
    NanoGPT-only create arriving during the cooldown waits for it to end and is accepted by NanoGPT."""
    await arm(sandbox["nanogpt"], status_code=429)
    first = (await client.post("/v1/videos", json=SORA, headers=auth())).json()
    assert [a["provider"] for a in first["routing"]["attempts"]] == ["nanogpt", "videogenapi"]
    waited = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert waited.status_code == 202, waited.text
    assert waited.json()["provider"] == "nanogpt"
    assert value(await scrape(client), WAITS) == 1


async def test_a_429_from_the_last_candidate_is_resubmitted_after_its_retry_after(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """The only provider answers 429 with a Retry-After within the wait: it is sent the job again once that has
    passed, and accepts; both attempts are on the job."""
    await arm(sandbox["nanogpt"], status_code=429)
    reply = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert reply.status_code == 202, reply.text
    assert [(a["provider"], a["outcome"], a["error_code"]) for a in reply.json()["routing"]["attempts"]] == [
        ("nanogpt", "failed", "rate_limited"),
        ("nanogpt", "accepted", None),
    ]
    assert await generate_calls(sandbox["nanogpt"]) == 2


@pytest.mark.parametrize("client", [nanogpt_window(2, wait_s=0)], indirect=True)
async def test_with_the_wait_off_a_429_from_the_only_provider_is_the_answer(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """`wait_for_capacity_s = 0`: the 429 is not waited out; the create fails with one call made, and no 429
    reaches the client."""
    await arm(sandbox["nanogpt"], status_code=429)
    reply = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["code"] == "rate_limited"
    assert await generate_calls(sandbox["nanogpt"]) == 1


@pytest.mark.parametrize("client", [nanogpt_window(2)], indirect=True)
async def test_concurrent_creates_for_the_last_unit_both_get_it_in_turn(
    client: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """Two NanoGPT-only creates at once for a window of 1 per 2 s: both may pass the screen, one takes the unit and
    the other, refused at submit, waits for the unit to come back instead of failing; both end on NanoGPT."""
    replies = await asyncio.gather(*(client.post("/v1/videos", json=NANO_ONLY, headers=auth()) for _ in range(2)))
    assert [r.status_code for r in replies] == [202, 202], [r.text for r in replies]
    assert {r.json()["provider"] for r in replies} == {"nanogpt"}
    assert await generate_calls(sandbox["nanogpt"]) == 2


@pytest.mark.parametrize("client", [nanogpt_window(3)], indirect=True)
async def test_a_waiting_create_finishes_under_the_rules_it_started_with(client: httpx.AsyncClient) -> None:
    """A NanoGPT-only create waiting for the window is still accepted by NanoGPT after a routing change denying
    NanoGPT lands mid-wait; the next create, under the new table, is refused."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert (await client.post("/v1/videos", json=NANO_ONLY, headers=auth())).status_code == 202
    waiting = asyncio.create_task(client.post("/v1/videos", json=NANO_ONLY, headers=auth()))
    await asyncio.sleep(0.5)  # the create has resolved its rules and is waiting for the 3 s window
    deny = {"rules": [{"name": "no-nanogpt", "deny": ["nanogpt"]}]}
    changed = await client.put("/v1/admin/routing", json=deny, headers={**admin, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    accepted = await waiting
    assert (accepted.status_code, accepted.json()["provider"]) == (202, "nanogpt")
    refused = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert refused.status_code in (400, 503), refused.text

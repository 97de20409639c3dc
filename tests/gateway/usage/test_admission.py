"""Admission through a served gateway: the request rate, concurrency and monthly budget are checked before any
upstream call, refusals are 429s naming the quota, and a hold is sized, shrunk and released as the job goes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from limits.aio.storage import MemoryStorage

from gateway.store.base import JobStore
from gateway.store.redis import RedisStore
from gateway.usage.admission import Admission
from gateway.usage.budget import BudgetBook
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.hooks import UsageHooks
from gateway.usage.quota_settings import UNLIMITED, QuotaSettings
from gateway.usage.records import Quota, month_of
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import (
    ON_CLUSTER,
    REDIS_URL,
    TEAM_A_KEY,
    TEAM_B_KEY,
    FakeClock,
    GatewayFactory,
    auth,
    example_settings,
    gateway_settings,
    make_store,
)
from tests.gateway.metrics.conftest import scrape, value
from tests.gateway.usage.conftest import FINANCE_KEY, MID_MARCH, hold, usage_keyring

# One Vidgen scene is 5 s at $0.02/s: every job below holds exactly $0.10.


@pytest.fixture(params=["memory", "redis", ON_CLUSTER])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[JobStore]:
    """tests/conftest.py's stores and the Redis Cluster: budgets and request windows ride the store's client."""
    async for made in make_store(request, redis_prefix):
        yield made


PROMPT = {"prompt": "a lighthouse at dawn"}


async def budget_row(client: httpx.AsyncClient, scope: str, name: str) -> dict[str, Any]:
    reply = await client.get("/v1/usage/budgets", headers=auth(FINANCE_KEY))
    assert reply.status_code == 200, reply.text
    rows = {(r["scope"], r["name"]): r for r in reply.json()["data"]}
    return rows[(scope, name)]


async def settled(client: httpx.AsyncClient, scope: str, name: str, *, spent_micros: int) -> dict[str, Any]:
    """The budget row once nothing is held any more and the spend reached `spent_micros` (bounded wait)."""
    for _ in range(400):
        row = await budget_row(client, scope, name)
        if row["active_jobs"] == 0 and row["reserved_micros"] == 0 and row["spent_micros"] >= spent_micros:
            return row
        await asyncio.sleep(0.025)
    raise AssertionError(f"never settled: {row}")


async def generate_calls(url: str) -> int:
    async with httpx.AsyncClient(base_url=url) as emulator:
        return (await SandboxControl(emulator).stats()).calls.get("generate", 0)


@pytest.fixture
def budget_for_ten(vidgen_url: str) -> Any:
    return gateway_settings(vidgen_url, extra="[quotas.teams.team-a]\nmonthly_budget_usd = 1.0\n")


async def test_fifty_concurrent_creates_admit_exactly_what_the_budget_fits(
    vidgen_url: str, budget_for_ten: Any, store: JobStore, serve_gateway: GatewayFactory
) -> None:
    """50 creates at once against $1.00 of $0.10 jobs: exactly 10 accepted, 40 `quota_exceeded` without an
    upstream call, and reserved + spent never above the budget; once settled, spent is exactly $1.00."""
    async with (
        serve_gateway(budget_for_ten, store=store, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        replies = await asyncio.gather(*(client.post("/v1/videos", json=PROMPT, headers=auth()) for _ in range(50)))
        accepted = [r for r in replies if r.status_code == 202]
        refused = [r for r in replies if r.status_code == 429]
        assert (len(accepted), len(refused)) == (10, 40)
        assert {(r.json()["error"]["type"], r.json()["error"]["code"]) for r in refused} == {
            ("quota_exceeded", "monthly_budget_usd")
        }
        row = await budget_row(client, "team", "team-a")
        assert row["spent_micros"] + row["reserved_micros"] <= row["monthly_budget_micros"] == 1_000_000
        assert await generate_calls(vidgen_url) == 10
        row = await settled(client, "team", "team-a", spent_micros=1_000_000)
        assert (row["spent_micros"], row["remaining_micros"], row["spent_video_seconds"]) == (1_000_000, 0, 50)
        samples = await scrape(client)
    reservations = {
        outcome: value(samples, "video_gateway_budget_reservations_total", team="team-a", outcome=outcome)
        for outcome in ("reserved", "refused", "released", "settled")
    }
    assert reservations == {"reserved": 10, "refused": 40, "released": 0, "settled": 10}
    assert value(samples, "video_gateway_quota_refusals_total", team="team-a", quota="monthly_budget_usd") == 40


async def test_a_refusal_names_the_scope_the_quota_and_its_numbers(
    budget_for_ten: Any, serve_gateway: GatewayFactory
) -> None:
    """The 429 message says which team, which limit, and the spent / reserved / needed amounts."""
    async with (
        serve_gateway(budget_for_ten, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        for _ in range(10):
            assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 202
        error = (await client.post("/v1/videos", json=PROMPT, headers=auth())).json()["error"]
    assert error["retryable"] is False
    assert error["message"].startswith("team 'team-a' is over its monthly_budget_usd: limit $1.000000")
    assert "this job needs up to $0.100000" in error["message"]


async def test_the_request_rate_refuses_with_retry_after(
    vidgen_url: str, store: JobStore, serve_gateway: GatewayFactory
) -> None:
    """At 2/minute the third create is 429 `rate_limited` with a Retry-After within the window; another team
    is not affected. Both stores (the windows live in Redis with the Redis store)."""
    settings = gateway_settings(vidgen_url, extra='[quotas.teams.team-a]\nrequests = "2/minute"\n')
    async with serve_gateway(settings, store=store) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        for _ in range(2):
            assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 202
        refused = await client.post("/v1/videos", json=PROMPT, headers=auth())
        other = await client.post("/v1/videos", json=PROMPT, headers=auth(TEAM_B_KEY))
    assert refused.status_code == 429
    assert (refused.json()["error"]["type"], refused.json()["error"]["retryable"]) == ("rate_limited", True)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "2 per 1 minute" in refused.json()["error"]["message"]
    assert other.status_code == 202


async def test_the_concurrency_cap_refuses_until_a_job_settles(vidgen_url: str, serve_gateway: GatewayFactory) -> None:
    """With `max_concurrent_jobs = 1` on the key, a second create while the first runs is refused (retryable);
    once the first settles the slot is free again."""
    settings = gateway_settings(vidgen_url, extra="[quotas.keys.key-a]\nmax_concurrent_jobs = 1\n")
    async with (
        serve_gateway(settings, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 202
        refused = (await client.post("/v1/videos", json=PROMPT, headers=auth())).json()["error"]
        assert (refused["code"], refused["retryable"]) == ("max_concurrent_jobs", True)
        assert refused["message"] == "key 'key-a' already has 1 jobs running, its max_concurrent_jobs is 1"
        await settled(client, "key", "key-a", spent_micros=100_000)
        assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 202


async def test_a_failed_submit_releases_its_hold_at_once(vidgen_url: str, serve_gateway: GatewayFactory) -> None:
    """Vidgen refuses the submit (502): the $0.10 hold is released, so the next job fits a $0.10 budget."""
    settings = gateway_settings(vidgen_url, extra="[quotas.teams.team-a]\nmonthly_budget_usd = 0.1\n")
    async with (
        serve_gateway(settings, keyring=usage_keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        httpx.AsyncClient(base_url=vidgen_url) as emulator,
    ):
        await SandboxControl(emulator).arm(FaultSpec(action="generate", status_code=502, times=1))  # raises unless 201
        assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 502
        row = await budget_row(client, "team", "team-a")
        assert (row["reserved_micros"], row["active_jobs"], row["spent_micros"]) == (0, 0, 0)
        assert (await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code == 202


async def test_the_default_team_quota_applies_to_teams_not_named(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """team-b has no entry of its own, so `[quotas.default_team]` ($0.10) refuses its second job; team-a's own
    entry lets it through."""
    extra = "[quotas.default_team]\nmonthly_budget_usd = 0.1\n[quotas.teams.team-a]\nmonthly_budget_usd = 5.0\n"
    settings = gateway_settings(vidgen_url, extra=extra)
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        codes_b = [(await client.post("/v1/videos", json=PROMPT, headers=auth(TEAM_B_KEY))).status_code for _ in "ab"]
        codes_a = [(await client.post("/v1/videos", json=PROMPT, headers=auth(TEAM_A_KEY))).status_code for _ in "ab"]
    assert (codes_b, codes_a) == ([202, 429], [202, 202])


async def test_refusals_are_reported_to_the_hook(budget_for_ten: Any, serve_gateway: GatewayFactory) -> None:
    """`on_refused(quota, team)` is called once per refused create, naming the quota and the team."""
    refused: list[tuple[Quota, str]] = []
    hooks = UsageHooks(on_refused=lambda quota, team: refused.append((quota, team)))
    async with (
        serve_gateway(budget_for_ten, usage_hooks=hooks, run_poller=False) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        codes = [(await client.post("/v1/videos", json=PROMPT, headers=auth())).status_code for _ in range(12)]
    assert codes.count(429) == 2
    assert refused == [("monthly_budget_usd", "team-a")] * 2


SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}


@pytest.fixture
async def sandbox_gateway(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    settings = example_settings(sandbox)
    async with (
        serve_gateway(settings, keyring=usage_keyring(), run_poller=False) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client


async def test_the_hold_covers_the_priciest_candidate_then_shrinks_to_the_accepted_one(
    sandbox_gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """sora-2 may fail over from NanoGPT ($0.40) to videogenapi ($1.99): the hold is the larger until NanoGPT
    accepts, then $0.40; a job that did fail over keeps $1.99 held."""
    assert (await sandbox_gateway.post("/v1/videos", json=SORA, headers=auth())).json()["provider"] == "nanogpt"
    assert (await budget_row(sandbox_gateway, "team", "team-a"))["reserved_micros"] == 400_000

    async with httpx.AsyncClient(base_url=sandbox["nanogpt"]) as emulator:
        await SandboxControl(emulator).arm(FaultSpec(action="generate", status_code=429, times=1))
    assert (await sandbox_gateway.post("/v1/videos", json=SORA, headers=auth())).json()["provider"] == "videogenapi"
    assert (await budget_row(sandbox_gateway, "team", "team-a"))["reserved_micros"] == 400_000 + 1_990_000


async def test_the_sweep_releases_holds_whose_replica_died_before_storing_the_job(book: BudgetBook) -> None:
    """A hold past its expiry (its job was never stored) is released by the next admission's sweep, freeing the
    budget and the slot; a hold not yet expired stays."""
    now = [1_000.0]
    admission = Admission(QuotaSettings(), book, MemoryStorage(), clock=lambda: now[0], pending_hold_s=300)
    await book.reserve(hold("orphan", expires_at=1_300.0), team=UNLIMITED, key=UNLIMITED)
    await book.reserve(hold("running", expires_at=9_000.0), team=UNLIMITED, key=UNLIMITED)

    assert await admission.sweep() == 0
    now[0] = 1_301.0
    assert await admission.sweep() == 1

    assert [h.job_id for h in await book.holds()] == ["running"]
    totals = await book.totals("team", "team-a", month_of(MID_MARCH))
    assert (totals.reserved_micros, totals.active_jobs) == (100_000, 1)


async def test_a_create_frees_the_budget_an_expired_orphan_hold_kept(
    vidgen_url: str, redis_prefix: str, serve_gateway: GatewayFactory
) -> None:
    """An orphan hold (its replica died before storing the job) fills a $0.10 budget: creates are refused until
    the hold's expiry passes on the gateway's clock, then the next create's own admission sweeps it and is
    accepted, with no direct call to the sweep."""
    clock = FakeClock()
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    orphan = hold("orphan", created_at=clock.now, expires_at=clock.now + 600)
    await RedisBudgetBook(store.client, prefix=store.prefix).reserve(orphan, team=UNLIMITED, key=UNLIMITED)
    settings = gateway_settings(vidgen_url, extra="[quotas.teams.team-a]\nmonthly_budget_usd = 0.10\n")
    try:
        async with (
            serve_gateway(settings, store=store, clock=clock, run_poller=False) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as client,
        ):
            clock.advance(599)
            before = await client.post("/v1/videos", headers=auth(), json=PROMPT)
            clock.advance(2)
            after = await client.post("/v1/videos", headers=auth(), json=PROMPT)
    finally:
        await store.close()

    assert (before.status_code, before.json()["error"]["code"]) == (429, "monthly_budget_usd")
    assert after.status_code == 202, after.text

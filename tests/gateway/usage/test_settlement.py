"""Settlement at the terminal state: the cost by each provider's billing rule (NanoGPT's reported cost, the price
table, refunds and cancellations), written to the ledger exactly once even when finalizers race or a replica dies
between settling and marking the job finalized."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from gateway.config import load_settings
from gateway.schema.job import Usage, VideoJob, new_job_id
from gateway.store.redis import RedisStore
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.hooks import UsageHooks
from gateway.usage.ledger import charge, settlement
from gateway.usage.records import LedgerRecord, month_of
from gateway.videos.writer import JobWriter
from providers.contract import UpstreamJob
from sandbox.nanogpt.app import DEFAULT_MODELS, NanoGptEmulatorConfig, create_nanogpt_emulator
from sandbox.serving import serve_app
from tests.conftest import (
    EXAMPLE_CONFIG,
    REDIS_URL,
    SANDBOX_TIME_SCALE,
    GatewayFactory,
    auth,
    example_settings,
    wait_terminal,
)
from tests.gateway.usage.conftest import FINANCE_KEY, usage_keyring

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}


@pytest.fixture
async def pricier_nanogpt(sandbox: dict[str, str]) -> AsyncIterator[str]:
    """A NanoGPT emulator that charges $0.125/s for sora-2 where our price table says $0.10/s."""
    import os

    key = os.environ[load_settings(EXAMPLE_CONFIG).providers["nanogpt"].api_key_env]
    models = {**DEFAULT_MODELS, "sora-2": msgspec.structs.replace(DEFAULT_MODELS["sora-2"], per_second_usd=0.125)}
    config = NanoGptEmulatorConfig(
        api_keys=frozenset({key}), starting_balance_usd=100.0, models=models, time_scale=SANDBOX_TIME_SCALE
    )
    async with serve_app(create_nanogpt_emulator(config)) as url:
        yield url


class Gateway:
    def __init__(self, client: httpx.AsyncClient, settled: list[LedgerRecord]) -> None:
        self.client = client
        self.settled = settled

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.client.post("/v1/videos", json=body, headers=auth())
        assert reply.status_code == 202, reply.text
        video: dict[str, Any] = reply.json()
        return video

    async def record(self, video_id: str) -> dict[str, Any]:
        """The job's ledger record, once settled (bounded wait)."""
        for _ in range(400):
            reply = await self.client.get("/v1/usage/records", headers=auth(FINANCE_KEY))
            found = [r for r in reply.json()["data"] if r["job_id"] == video_id]
            if found:
                assert len(found) == 1
                return found[0]
            await asyncio.sleep(0.025)
        raise AssertionError(f"{video_id} was never settled")

    async def team_budget(self) -> dict[str, Any]:
        rows = (await self.client.get("/v1/usage/budgets", headers=auth(FINANCE_KEY))).json()["data"]
        row: dict[str, Any] = next(r for r in rows if (r["scope"], r["name"]) == ("team", "team-a"))
        return row


@pytest.fixture
async def gateway(
    sandbox: dict[str, str], pricier_nanogpt: str, serve_gateway: GatewayFactory
) -> AsyncIterator[Gateway]:
    settings = example_settings({**sandbox, "nanogpt": pricier_nanogpt})
    settled: list[LedgerRecord] = []
    hooks = UsageHooks(on_settled=settled.append)
    async with (
        serve_gateway(settings, keyring=usage_keyring(), usage_hooks=hooks) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield Gateway(client, settled)


async def test_a_nanogpt_job_settles_at_the_cost_the_emulator_reports(gateway: Gateway) -> None:
    """Estimated $0.40 from the price table, charged $0.50 by NanoGPT: the ledger, the video's usage and the
    month's spend all say $0.50 from the provider, and nothing stays reserved."""
    video = await gateway.create(SORA)
    assert video["provider"] == "nanogpt"
    done = await wait_terminal(gateway.client, video["id"])
    record = await gateway.record(video["id"])
    assert (done["status"], done["usage"]["cost_usd"], done["usage"]["cost_source"]) == ("completed", 0.5, "provider")
    assert (record["cost_micros"], record["cost_source"], record["estimated_cost_micros"]) == (
        500_000,
        "provider",
        400_000,
    )
    assert (record["status"], record["video_seconds"], record["provider"], record["model"]) == (
        "completed",
        4,
        "nanogpt",
        "sora-2",
    )
    budget = await gateway.team_budget()
    assert (budget["spent_micros"], budget["reserved_micros"], budget["active_jobs"]) == (500_000, 0, 0)
    assert [r.job_id for r in gateway.settled] == [video["id"]]


async def test_while_a_nanogpt_job_runs_its_hold_is_the_cost_the_provider_reported(gateway: Gateway) -> None:
    """NanoGPT's 202 says $0.50 where the price table estimated $0.40: from acceptance on, the team's reserved spend
    is $0.50, so later admissions see what this job will really cost (it never finishes here)."""
    video = await gateway.create({**SORA, "prompt": "a paper boat [sandbox:stuck]"})
    assert video["provider"] == "nanogpt"
    budget = await gateway.team_budget()
    assert (budget["reserved_micros"], budget["spent_micros"], budget["active_jobs"]) == (500_000, 0, 1)


async def test_a_price_table_job_settles_at_its_estimate(gateway: Gateway) -> None:
    """Vidgen reports no cost: a 5 s scenex job is billed from the price table, $0.10."""
    video = await gateway.create({"model": "scenex", "prompt": "a lighthouse"})
    await wait_terminal(gateway.client, video["id"])
    record = await gateway.record(video["id"])
    assert (record["cost_micros"], record["cost_source"], record["provider"]) == (100_000, "price_table", "vidgen")


async def test_a_failed_job_releases_its_hold_and_costs_nothing(gateway: Gateway) -> None:
    """NanoGPT refunds failed jobs: the record is `failed` at $0 (`not_billed`), and its hold is released."""
    video = await gateway.create({**SORA, "prompt": "a paper boat [sandbox:fail]"})
    done = await wait_terminal(gateway.client, video["id"])
    record = await gateway.record(video["id"])
    assert done["status"] == "failed"
    assert (record["status"], record["cost_micros"], record["cost_source"], record["video_seconds"]) == (
        "failed",
        0,
        "not_billed",
        0,
    )
    assert record["error_code"] is not None
    budget = await gateway.team_budget()
    assert (budget["spent_micros"], budget["reserved_micros"], budget["active_jobs"]) == (0, 0, 0)


async def test_a_cancelled_job_is_billed_only_where_the_provider_cannot_cancel(gateway: Gateway) -> None:
    """Cancelled while running: at NanoGPT (no cancel call, the job goes on and is billed) it costs the $0.50
    NanoGPT pre-charged; at VideoGen, which cancels upstream, it costs nothing."""
    nano = await gateway.create({**SORA, "prompt": "a paper boat [sandbox:stuck]"})
    clip = await gateway.create({"model": "videogen-clip", "prompt": "a kite [sandbox:stuck]"})
    for video in (nano, clip):
        assert (await gateway.client.delete(f"/v1/videos/{video['id']}", headers=auth())).status_code == 200
    nano_record, clip_record = await gateway.record(nano["id"]), await gateway.record(clip["id"])
    assert (nano_record["status"], nano_record["cost_micros"], nano_record["cost_source"]) == (
        "cancelled",
        500_000,
        "provider",
    )
    assert (clip_record["status"], clip_record["provider"], clip_record["cost_micros"]) == ("cancelled", "videogen", 0)
    assert (await gateway.team_budget())["reserved_micros"] == 0


def job(**changes: Any) -> VideoJob:
    now = time.time()
    base = VideoJob(
        id=new_job_id(now),
        team="team-a",
        key_id="key-a",
        model="sora-2",
        created_at=now,
        updated_at=now,
        provider="nanogpt",
        seconds=8,
        estimated_cost_micros=800_000,
    )
    return msgspec.structs.replace(base, **changes)


ACCEPTED = UpstreamJob(provider="nanogpt", upstream_id="vid_1", upstream_model="sora-2")


@pytest.mark.parametrize(
    ("changes", "cancels_upstream", "expected"),
    [
        ({"status": "completed", "usage": Usage(video_seconds=8, cost_micros=750_000, cost_source="provider")},
         False, (750_000, 8, "provider")),
        ({"status": "completed"}, False, (800_000, 8, "price_table")),
        ({"status": "failed", "upstream": ACCEPTED}, False, (0, 0, "not_billed")),
        ({"status": "cancelled"}, False, (0, 0, "not_billed")),
        ({"status": "cancelled", "upstream": ACCEPTED}, True, (0, 0, "not_billed")),
        ({"status": "cancelled", "upstream": ACCEPTED}, False, (800_000, 8, "price_table")),
        ({"status": "cancelled", "upstream": msgspec.structs.replace(ACCEPTED, reported_cost_micros=820_000)},
         False, (820_000, 8, "provider")),
    ],
    ids=["completed-reported", "completed-price-table", "failed", "cancelled-before-accept",
         "cancelled-upstream", "cancelled-uncancellable", "cancelled-uncancellable-precharged"],
)  # fmt: skip
def test_the_billing_rule_by_outcome(
    changes: dict[str, Any], cancels_upstream: bool, expected: tuple[Any, ...]
) -> None:
    """What a terminal job costs, by its status and whether its provider could cancel it upstream."""
    assert charge(job(**changes), cancels_upstream=cancels_upstream) == expected


class Replica:
    """One replica's view: its own Redis connection, store, budget book and writer (as a gateway builds it)."""

    def __init__(self, prefix: str, settled: list[LedgerRecord]) -> None:
        self.store = RedisStore.from_url(REDIS_URL, prefix=prefix)
        self.book = RedisBudgetBook(self.store.client, prefix=prefix)
        self.settle = settlement(
            self.book, clock=time.time, cancels_upstream=lambda _: False, hooks=UsageHooks(on_settled=settled.append)
        )
        self.writer = JobWriter(store=self.store, effects=[self.settle], clock=time.time, retry_s=0.05)


@pytest.fixture
async def replicas(redis_prefix: str) -> AsyncIterator[tuple[Replica, Replica, list[LedgerRecord]]]:
    settled: list[LedgerRecord] = []
    first, second = Replica(redis_prefix, settled), Replica(redis_prefix, settled)
    yield first, second, settled
    for replica in (first, second):
        await replica.store.close()


async def stored_terminal_job(replica: Replica) -> VideoJob:
    usage = Usage(video_seconds=8, cost_micros=750_000, cost_source="provider")
    done = job(status="completed", phase="done", usage=usage, upstream=ACCEPTED, completed_at=time.time())
    assert await replica.store.create(done, poll_at=replica.writer.safety_net_at())
    return done


async def test_two_replicas_finalizing_the_same_jobs_write_each_record_once(
    replicas: tuple[Replica, Replica, list[LedgerRecord]],
) -> None:
    """Twenty terminal jobs, each finalized by two replicas at once: twenty ledger records, the hook called
    twenty times, and the month's spend counted once per job."""
    first, second, settled = replicas
    jobs = [await stored_terminal_job(first) for _ in range(20)]
    await asyncio.gather(*(r.writer.finalize(j) for j in jobs for r in (first, second)))
    ledger = [r.job_id async for r in second.book.records()]
    assert sorted(ledger) == sorted(j.id for j in jobs)
    assert sorted(r.job_id for r in settled) == sorted(ledger)
    spent = (await first.book.totals("team", "team-a", month_of(jobs[0].created_at))).spent_micros
    assert spent == 20 * 750_000


async def test_a_replica_dying_after_settling_leaves_the_job_to_settle_again_harmlessly(
    replicas: tuple[Replica, Replica, list[LedgerRecord]],
) -> None:
    """The first replica settles, then dies before marking the job finalized (it stays scheduled); the second
    finalizes it: the effect runs again, the ledger still has one record, and the job is finalized."""
    first, second, settled = replicas
    done = await stored_terminal_job(first)
    await first.settle(done)  # ... and the replica dies before the finalized mark
    assert await first.store.next_due_at() is not None

    finalized = await second.writer.finalize(done)

    assert finalized is not None
    assert finalized.finalized_at is not None
    assert [r.job_id async for r in second.book.records()] == [done.id]
    assert [r.job_id for r in settled] == [done.id]  # the second settlement wrote nothing, so no second hook call

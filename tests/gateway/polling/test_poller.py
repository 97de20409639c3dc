"""The poller end to end over real sockets: gateway + Vidgen emulator (with its fault switches and call
statistics) + the memory or Redis store. Transient errors, give-up, deadlines, lost submits, restarts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.errors import StoreUnavailable
from gateway.polling.poller import Poller
from gateway.schema.job import VideoJob, new_job_id
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.upstreams import build_upstreams
from gateway.videos.writer import JobWriter
from providers.contract import ignore_capacity
from tests.conftest import REDIS_URL, GatewayFactory, auth, gateway_settings, wait_terminal
from tests.gateway.polling.conftest import Emulator, emulator_at, gateway, slow_vidgen, submit


async def stored(store: JobStore, job_id: str) -> VideoJob:
    job = await store.get(job_id)
    assert job is not None
    return job


async def wait_polled(store: JobStore, job_id: str, *, polls: int) -> VideoJob:
    """The record once the poller has polled it `polls` times; bounded so a stalled poller fails the test."""
    for _ in range(400):
        job = await stored(store, job_id)
        if job.poll_count >= polls:
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} was not polled {polls} times: {job}")


@pytest.fixture
async def emulator(vidgen_url: str) -> AsyncIterator[Emulator]:
    async with emulator_at(vidgen_url) as control:
        yield control


# ------------------------------------------------------------------------------------- upstream errors


async def test_transient_status_errors_back_off_and_the_job_still_completes(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory
) -> None:
    """Two 503s from the status call are retried, and the job completes with its error streak reset."""
    await emulator.fault(status_code=503, times=2)
    store = MemoryStore()
    async with gateway(serve_gateway, gateway_settings(vidgen_url), store) as client:
        video_id = await submit(client)
        video = await wait_terminal(client, video_id)

    assert video["status"] == "completed", video
    assert video["error"] is None
    assert await emulator.status_calls() >= 3
    job = await stored(store, video_id)
    assert job.poll_count >= 3
    assert job.consecutive_poll_errors == 0


async def test_errors_separated_by_a_success_do_not_add_up(vidgen_key: str, serve_gateway: GatewayFactory) -> None:
    """Four failed polls, never three in a row, stay below the give-up limit of three consecutive errors."""
    async with slow_vidgen(vidgen_key, run_s=1.0) as url, emulator_at(url) as emulator:
        await emulator.fault(status_code=503, times=2)
        await emulator.fault(times=1)  # no status and no body: this one call is served normally
        await emulator.fault(status_code=502, times=2)
        async with gateway(serve_gateway, gateway_settings(url), MemoryStore()) as client:
            video = await wait_terminal(client, await submit(client))
        status_calls = await emulator.status_calls()

    assert video["status"] == "completed", video
    assert status_calls >= 6  # all five switches were consumed before the successful final poll


async def test_a_run_of_status_errors_fails_the_job_with_the_last_error(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory
) -> None:
    """With every status poll failing, the third consecutive error fails the job as upstream_error, citing
    the last reply, and the job leaves the schedule."""
    await emulator.fault(status_code=503, times=2)
    await emulator.fault(status_code=500, times=-1)
    store = MemoryStore()
    async with gateway(serve_gateway, gateway_settings(vidgen_url), store) as client:
        video_id = await submit(client)
        video = await wait_terminal(client, video_id)

    assert video["status"] == "failed", video
    error = video["error"]
    assert (error["code"], error["provider"], error["retryable"]) == ("upstream_error", "vidgen", True)
    assert "500" in error["message"], error
    assert await emulator.status_calls() == 3  # max_consecutive_errors in gateway_settings
    assert await store.next_due_at() is None


async def test_a_stuck_job_fails_with_upstream_timeout_past_its_max_duration(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory
) -> None:
    """A job the provider never finishes is failed as upstream_timeout at its deadline, not before."""
    settings = gateway_settings(vidgen_url, max_job_duration_s=0.4)
    store = MemoryStore()
    async with gateway(serve_gateway, settings, store) as client:
        video_id = await submit(client, "[sandbox:stuck] a clock with no hands")
        video = await wait_terminal(client, video_id)

    assert video["status"] == "failed", video
    error = video["error"]
    assert (error["code"], error["provider"], error["retryable"]) == ("upstream_timeout", "vidgen", True)
    assert "0.4 s" in error["message"], error
    job = await stored(store, video_id)
    assert job.deadline_at is not None
    assert job.completed_at is not None
    assert job.completed_at >= job.deadline_at
    assert job.poll_count >= 1  # it was followed while running, then given up on
    assert await emulator.status_calls() >= 1


# -------------------------------------------------------------------------------- lost and idle jobs


def submitting_job(now: float) -> VideoJob:
    """The record a replica writes before its submit call: no upstream id yet."""
    return VideoJob(
        id=new_job_id(now),
        team="team-a",
        key_id="key-a",
        model="scenex",
        provider="vidgen",
        prompt="lost in transit",
        created_at=now,
        updated_at=now,
    )


async def test_a_job_lost_mid_submit_is_failed_as_outcome_unknown(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """A submitting record past its grace is failed saying the provider may or may not have the job, while
    one still within its grace is left alone; neither is resubmitted nor polled upstream."""
    now = time.time()
    lost, in_flight = submitting_job(now - 60), submitting_job(now - 1)
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    assert await store.create(lost, poll_at=now - 30)
    assert await store.create(in_flight, poll_at=now + 3600)
    try:
        async with gateway(serve_gateway, gateway_settings(vidgen_url), store) as client:
            video = await wait_terminal(client, lost.id)
            pending = (await client.get(f"/v1/videos/{in_flight.id}", headers=auth())).json()
        assert (await stored(store, in_flight.id)).phase == "submitting"
    finally:
        await store.close()

    assert video["status"] == "failed", video
    assert video["error"]["code"] == "upstream_error"
    assert "may or may not have accepted" in video["error"]["message"]
    assert pending["status"] == "queued"
    calls = (await emulator.stats()).calls
    assert calls.get("status", 0) == 0
    assert calls.get("generate", 0) == 0


async def test_client_reads_never_reach_the_upstream(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory
) -> None:
    """Fifty client GETs of a job whose first poll is 30 s away make no upstream status call at all."""
    store = MemoryStore()
    settings = gateway_settings(vidgen_url, poll_interval_s=30.0)
    async with gateway(serve_gateway, settings, store) as client:
        video_id = await submit(client, "[sandbox:stuck] waiting")
        for _ in range(50):
            reply = await client.get(f"/v1/videos/{video_id}", headers=auth())
            assert reply.status_code == 200, reply.text
        listed = await client.get("/v1/videos", headers=auth())
        assert [v["id"] for v in listed.json()["data"]] == [video_id]
        status_calls = await emulator.status_calls()

    assert status_calls == 0  # the poller's own schedule allows none before t + 30 s
    assert (await stored(store, video_id)).poll_count == 0


class ScheduleOutageStore(MemoryStore):
    """A memory store whose schedule head cannot be read for the first `outages` attempts, as when Redis
    drops between a claim and the poller's next-due lookup."""

    def __init__(self, *, outages: int) -> None:
        super().__init__()
        self.outages = outages

    async def next_due_at(self) -> float | None:
        if self.outages > 0:
            self.outages -= 1
            raise StoreUnavailable("the job store is unreachable")
        return await super().next_due_at()


async def test_the_poller_outlives_a_store_outage_while_idle(vidgen_url: str, serve_gateway: GatewayFactory) -> None:
    """Store errors on the idle path are waited out like those on the claim path: jobs still complete."""
    store = ScheduleOutageStore(outages=3)
    async with gateway(serve_gateway, gateway_settings(vidgen_url), store) as client:
        video = await wait_terminal(client, await submit(client))

    assert store.outages == 0
    assert video["status"] == "completed", video


def _unobserved(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
    return None


async def test_stop_lets_the_in_flight_poll_finish_and_claims_nothing_more(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory
) -> None:
    """stop() during a slow status call waits for that poll to be written, then returns without new claims."""
    store = MemoryStore()
    settings = gateway_settings(vidgen_url)
    async with (  # this gateway only accepts the job: following it is left to the poller below
        serve_gateway(settings, store=store, run_poller=False) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        video_id = await submit(client)
    await emulator.fault(delay_s=0.3)
    async with httpx.AsyncClient() as http:
        upstreams = build_upstreams(settings.providers, http, observe=_unobserved, capacity=ignore_capacity)
        writer = JobWriter(store=store, effects=[], clock=time.time, retry_s=settings.poller.lease_s)
        poller = Poller(store=store, upstreams=upstreams, settings=settings.poller, clock=time.time, writer=writer)
        running = asyncio.create_task(poller.run())
        for _ in range(200):
            if await emulator.status_calls() >= 1:
                break
            await asyncio.sleep(0.01)
        poller.stop()
        await asyncio.wait_for(running, timeout=5)

    job = await stored(store, video_id)
    assert job.poll_count == 1  # the slow poll's result was written, not abandoned
    assert job.version == 4  # created, accepted, polled once (terminal), finalized
    assert job.finalized_at is not None
    assert await emulator.status_calls() == 1


# ---------------------------------------------------------------------------------- several replicas


async def test_a_second_instance_finishes_a_job_the_first_accepted_before_shutting_down(
    vidgen_key: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """Instance A accepts a job and starts following it, then stops; B on the same Redis completes it."""
    async with slow_vidgen(vidgen_key, run_s=1.5) as url, emulator_at(url) as emulator:
        settings = gateway_settings(url)
        store_a = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
        try:
            async with gateway(serve_gateway, settings, store_a) as client_a:
                video_id = await submit(client_a)
                await wait_polled(store_a, video_id, polls=1)
            left_by_a = await stored(store_a, video_id)
        finally:
            await store_a.close()
        assert not left_by_a.terminal, left_by_a

        store_b = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
        try:
            async with gateway(serve_gateway, settings, store_b) as client_b:
                video = await wait_terminal(client_b, video_id)
            finished = await stored(store_b, video_id)
            still_scheduled = await store_b.next_due_at()
        finally:
            await store_b.close()
        stats = await emulator.stats()

    assert video["status"] == "completed", video
    assert finished.poll_count > left_by_a.poll_count
    assert stats.calls["generate"] == 1
    assert still_scheduled is None


async def test_a_job_claimed_by_a_replica_that_died_is_finished_once_its_lease_runs_out(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """A claim whose owner never writes back (crashed mid-poll) blocks the job only until the lease ends."""
    settings = gateway_settings(vidgen_url)
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        async with (
            serve_gateway(settings, store=store, run_poller=False) as url,
            httpx.AsyncClient(base_url=url) as client,
        ):
            video_id = await submit(client)
        # The dead replica's claim: taken when the job fell due, with a short lease, then never written back.
        due_at = (await stored(store, video_id)).next_poll_at
        assert due_at is not None
        assert await store.claim_due(due_at, limit=10, lease_s=0.5) == [video_id]
        assert await store.next_due_at() == due_at + 0.5
        async with gateway(serve_gateway, settings, store) as client:
            video = await wait_terminal(client, video_id)
    finally:
        await store.close()

    assert video["status"] == "completed", video


async def test_replicas_sharing_redis_never_poll_one_job_at_once(
    vidgen_url: str, emulator: Emulator, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """Two gateways polling the same Redis schedule split the jobs: no job is ever polled concurrently."""
    await emulator.fault(delay_s=0.1, times=-1)  # every status call is slow: a window for a second poller
    settings = gateway_settings(vidgen_url)
    stores = [RedisStore.from_url(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    try:
        async with (
            gateway(serve_gateway, settings, stores[0]) as client_a,
            gateway(serve_gateway, settings, stores[1]) as client_b,
        ):
            ids = [await submit(client) for client in (client_a, client_b) * 4]
            videos = await asyncio.gather(*(wait_terminal(client_b, video_id) for video_id in ids))
    finally:
        for store in stores:
            await store.close()

    assert [v["status"] for v in videos] == ["completed"] * len(ids)
    stats = await emulator.stats()
    assert len(stats.job_max_in_flight) == len(ids)
    assert set(stats.job_max_in_flight.values()) == {1}

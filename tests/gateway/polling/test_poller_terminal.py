"""How the poller ends and paces jobs over real sockets (gateway + Vidgen emulator): a call is never allowed to
outlast the claim it runs under, a deadline takes one last reading before failing a job, and many jobs on one
account stretch their cadence to its status window."""

from __future__ import annotations

import asyncio

import msgspec

from gateway.schema.job import VideoJob
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from tests.conftest import REDIS_URL, GatewayFactory, auth, gateway_settings, wait_terminal
from tests.gateway.polling.conftest import emulator_at, gateway, slow_vidgen, submit


async def test_an_upstream_call_that_would_outlast_the_lease_is_cut_short_as_a_timeout(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """With a 2.5 s lease and a status call hanging 2.4 s, the poller gives up at three quarters of the lease (before
    httpx's 2 s per-phase timeout, which bounds no whole request) and records a timeout, so the call can never
    meet another replica's after the lease; with one error allowed, the job fails saying so."""
    settings = gateway_settings(vidgen_url)
    poller = msgspec.structs.replace(settings.poller, lease_s=2.5, max_consecutive_errors=1)
    settings = msgspec.structs.replace(settings, poller=poller)
    async with emulator_at(vidgen_url) as emulator:
        await emulator.fault(delay_s=2.4, times=1)
        async with gateway(serve_gateway, settings, MemoryStore()) as client:
            video = await wait_terminal(client, await submit(client))

    assert video["status"] == "failed", video
    assert video["error"]["code"] == "upstream_timeout"
    assert "within the poller's lease" in video["error"]["message"]


async def test_a_job_that_finished_before_its_deadline_is_read_once_more_not_failed(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """The next poll is never scheduled past the deadline, and at the deadline one last reading comes first: a
    job done upstream within its 1 s maximum completes, although the cadence alone would poll it only at 30 s."""
    settings = gateway_settings(vidgen_url, poll_interval_s=30.0, max_job_duration_s=1.0)
    store = MemoryStore()
    async with gateway(serve_gateway, settings, store) as client:
        video_id = await submit(client)
        video = await wait_terminal(client, video_id)
    job = await store.get(video_id)

    assert video["status"] == "completed", video
    assert job is not None
    assert job.poll_count == 1  # the deadline's last reading was the only call


async def test_jobs_sharing_an_account_stretch_their_cadence_to_its_status_window(
    vidgen_key: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """Eight jobs in flight on an account allowed 8 status calls per 2 s are each polled at most every 2.2 s
    (in_flight / (rate x 90%)), although the provider's own cadence is 0.05 s."""
    budget = '[providers.vidgen.headroom]\nwindows = [{ scope = "status", limit = 8, per_s = 2 }]\n'
    # The first poll waits until all eight are in flight, so every reading sees the same count (3 s: eight creates
    # took over a second on a loaded 2-core run, and the first jobs were then polled with fewer in flight).
    budget += "[providers.vidgen.polling]\nfirst_poll_s = 3.0\n"
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        async with slow_vidgen(vidgen_key, run_s=30.0) as url, emulator_at(url) as emulator:
            async with gateway(serve_gateway, gateway_settings(url, extra=budget), store) as client:
                ids = [await submit(client, f"harbour {n}") for n in range(8)]
                polled = [await _polled(store, video_id) for video_id in ids]
                for video_id in ids:
                    assert (await client.delete(f"/v1/videos/{video_id}", headers=auth())).status_code == 200
            calls = await emulator.status_calls()
    finally:
        await store.close()

    for job in polled:
        assert job.next_poll_at is not None
        assert job.next_poll_at - job.updated_at >= 8 / (4 * 0.9)  # README: in-flight / (90% of the rate)
    assert calls <= 8 * 2  # each job polled once or twice before the deletes: nothing close to 0.05 s cadence


async def _polled(store: JobStore, video_id: str) -> VideoJob:
    for _ in range(1000):
        job = await store.get(video_id)
        if job is not None and job.poll_count >= 1:
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"{video_id} was never polled")

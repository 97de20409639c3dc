"""The poller acting on what a provider can say or do, over real sockets with the VideoGen emulator (the one
adapter that both reports its rate window on a 429 and can cancel): a poll refused with a reset time waits until
then, and a job past its deadline is cancelled upstream before it is failed `upstream_timeout`."""

from __future__ import annotations

import asyncio
import os

import httpx
import msgspec

from gateway.config import Settings
from gateway.schema.job import VideoJob
from gateway.store.memory import MemoryStore
from sandbox.control import SandboxControl
from sandbox.serving import serve_app
from sandbox.videogen.app import VideoGenEmulatorConfig, create_videogen_emulator
from tests.conftest import GatewayFactory, auth, example_settings, wait_terminal

CLIP = {"model": "videogen-clip", "prompt": "a tide pool at noon"}


def with_videogen(settings: Settings, **changes: float) -> Settings:
    videogen = msgspec.structs.replace(settings.providers["videogen"], **changes)
    return msgspec.structs.replace(settings, providers={**settings.providers, "videogen": videogen})


async def first_poll_error(store: MemoryStore, job_id: str) -> VideoJob:
    """The record once the poller has written its first failed poll; bounded so a stalled poller fails the test."""
    for _ in range(400):
        job = await store.get(job_id)
        if job is not None and job.consecutive_poll_errors == 1:
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} never recorded a failed poll: {job}")


async def test_a_poll_refused_with_a_reset_time_is_not_retried_before_it(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """VideoGen allows one status call per hour here: the second poll gets a 429 whose X-RateLimit-Reset is about
    an hour away, and the poller schedules the next poll then, not after its own 0.1 s backoff."""
    config = VideoGenEmulatorConfig(api_keys=frozenset({os.environ["VIDEOGEN_API_KEY"]}), status_per_hour=1, run_s=60)
    store = MemoryStore()
    async with (
        serve_app(create_videogen_emulator(config)) as videogen_url,
        serve_gateway(example_settings({**sandbox, "videogen": videogen_url}), store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post("/v1/videos", json=CLIP, headers=auth())
        assert created.status_code == 202, created.text
        job = await first_poll_error(store, created.json()["id"])

    assert job.next_poll_at is not None
    assert job.next_poll_at - job.updated_at > 3000  # the window's reset, an hour after the first status call


async def test_a_job_past_its_deadline_is_cancelled_upstream_then_failed_as_timeout(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """A VideoGen execution that never finishes: at `max_job_duration_s` the gateway cancels it upstream (one
    cancel call, the execution ends `cancelled`) and fails the job `upstream_timeout`."""
    settings = with_videogen(example_settings(sandbox), max_job_duration_s=0.5)
    store = MemoryStore()
    async with (
        serve_gateway(settings, store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        created = await client.post("/v1/videos", json={**CLIP, "prompt": "[sandbox:stuck] a clock"}, headers=auth())
        assert created.status_code == 202, created.text
        video = await wait_terminal(client, created.json()["id"])
    job = await store.get(created.json()["id"])
    assert job is not None
    assert job.upstream is not None
    async with httpx.AsyncClient(base_url=sandbox["videogen"], timeout=10) as emulator:
        calls = (await SandboxControl(emulator).stats()).calls
        execution = await emulator.get(
            f"/v1/tools/executions/{job.upstream.upstream_id}",
            headers={"Authorization": f"Bearer {os.environ['VIDEOGEN_API_KEY']}"},
        )

    assert (video["status"], video["error"]["code"]) == ("failed", "upstream_timeout")
    assert calls.get("cancel") == 1
    assert execution.json()["status"] == "cancelled", execution.text

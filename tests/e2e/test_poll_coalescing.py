"""Client polling never drives upstream polling: a hundred clients hammering twenty jobs leave each job's
upstream status calls (counted by the emulator) within duration / cadence + 2, and every reply tells clients
when the next upstream reading is due."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from gateway.store.redis import RedisStore
from sandbox.control import SandboxControl
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import REDIS_URL, VIDGEN_KEY_ENV, GatewayFactory, auth, gateway_settings, gateway_settings_text
from tests.e2e.processes import gateway_process, on_shared_redis

QUEUE_S, RUN_S = 0.05, 3.0
INTERVAL_S = 0.5
# A flat cadence (no growth, no jitter) at INTERVAL_S: the tightest schedule the bound has to hold for.
FLAT = f"[providers.vidgen.polling]\ngrowth = 1.0\njitter = 0.0\nfirst_poll_s = {INTERVAL_S}\n"
JOBS, CLIENTS = 20, 100


@contextlib.asynccontextmanager
async def vidgen(api_key: str) -> AsyncIterator[str]:
    config = VidgenEmulatorConfig(api_keys=frozenset({api_key}), queue_s=QUEUE_S, run_s=RUN_S)
    async with serve_app(create_vidgen_emulator(config)) as url:
        yield url


async def hammer(client: httpx.AsyncClient, ids: list[str], offset: int, done: set[str]) -> tuple[int, list[str]]:
    """One client: GET the jobs round-robin with no pause until every job is terminal; its count of GETs and
    any reply to a non-terminal job whose hints were missing or inconsistent."""
    gets, bad = 0, []
    for turn in range(100_000):
        if len(done) == len(ids):
            return gets, bad
        video_id = ids[(offset + turn) % len(ids)]
        reply = await client.get(f"/v1/videos/{video_id}", headers=auth())
        gets += 1
        status = reply.json()["status"]
        if status in ("completed", "failed", "cancelled"):
            done.add(video_id)
            continue
        hint_ms, retry_after = reply.headers.get("openai-poll-after-ms"), reply.headers.get("retry-after")
        if hint_ms is None or retry_after is None or int(retry_after) != math.ceil(int(hint_ms) / 1000):
            bad.append(f"{video_id}: {hint_ms!r} / {retry_after!r}")
    raise AssertionError("jobs did not finish")


async def test_a_hundred_clients_polling_twenty_jobs_do_not_add_upstream_status_calls(
    vidgen_key: str, redis_prefix: str, tmp_path: Path
) -> None:
    """Per job, status calls <= duration / interval + 2 although clients GET it far more often (the gateway is
    its own OS process, so the clients here can outpace its poller)."""
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    try:
        async with vidgen(vidgen_key) as url, httpx.AsyncClient(base_url=url) as emulator:
            text = gateway_settings_text(url, poll_interval_s=INTERVAL_S, extra=FLAT)
            text = on_shared_redis(text, redis_url=REDIS_URL, prefix=redis_prefix)
            async with (
                gateway_process(text, workdir=tmp_path, env={VIDGEN_KEY_ENV: vidgen_key}) as gateway,
                httpx.AsyncClient(base_url=gateway.url, timeout=30, limits=httpx.Limits(max_connections=CLIENTS)) as c,
            ):
                created = await asyncio.gather(
                    *(c.post("/v1/videos", json={"prompt": f"tide {n}"}, headers=auth()) for n in range(JOBS))
                )
                ids = [reply.json()["id"] for reply in created]
                done: set[str] = set()
                results = await asyncio.gather(*(hammer(c, ids, n, done) for n in range(CLIENTS)))
            stats = await SandboxControl(emulator).stats()
        jobs = [await store.get(video_id) for video_id in ids]
    finally:
        await store.close()

    assert [bad for _, bad in results if bad] == []
    bound = (QUEUE_S + RUN_S) / INTERVAL_S + 2
    per_job = {}
    for job in jobs:
        assert job is not None
        assert job.upstream is not None
        assert job.status == "completed", job
        per_job[job.id] = stats.job_calls[job.upstream.upstream_id]
        assert per_job[job.id] == job.poll_count  # every upstream call was the poller's own
    assert max(per_job.values()) <= bound, per_job
    assert stats.calls["status"] == sum(per_job.values())
    gets = sum(n for n, _ in results)
    # Each job was read more often than the bound allows upstream calls: had reads reached upstream, it would break.
    assert gets / JOBS > bound, (gets, per_job)


async def test_the_hint_is_the_time_to_the_next_upstream_poll(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """A job whose next poll is 20 s away tells clients to come back then (to the millisecond the gateway knows),
    in `openai-poll-after-ms` and, rounded up, in `Retry-After`."""
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    settings = gateway_settings(vidgen_url, poll_interval_s=20.0)
    try:
        async with (
            serve_gateway(settings, store=store) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as client,
        ):
            reply = await client.post("/v1/videos", json={"prompt": "[sandbox:stuck] a slow dawn"}, headers=auth())
            video_id = reply.json()["id"]
            before = time.time()
            polled = await client.get(f"/v1/videos/{video_id}", headers=auth())
            after = time.time()
        job = await store.get(video_id)
    finally:
        await store.close()

    assert job is not None
    assert job.next_poll_at is not None
    hint_s = int(polled.headers["openai-poll-after-ms"]) / 1000
    assert job.next_poll_at - after + 0.1 - 0.001 <= hint_s <= job.next_poll_at - before + 0.1
    assert job.next_poll_at - job.updated_at >= 20.0  # the first poll is one interval after acceptance
    assert int(polled.headers["retry-after"]) == math.ceil(hint_s)

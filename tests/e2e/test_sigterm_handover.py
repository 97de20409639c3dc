"""SIGTERM on one of two replicas sharing Redis (under granian, the production server): a create in flight still
gets its 202, the stopping replica's poll claims are handed back (every job is due within seconds, not at the
end of a 20 s lease), and the other replica follows every job to completion, no job polled twice at once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.store.redis import RedisStore
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import REDIS_URL, VIDGEN_KEY_ENV, auth, gateway_settings_text
from tests.e2e.processes import gateway_process, on_shared_redis

pytestmark = pytest.mark.serial

JOBS = 12
LEASE_S = 20.0


async def whole_schedule(client: aioredis.Redis, store: RedisStore) -> dict[bytes, float]:
    """Every scheduled id and its due time, over the schedule's buckets."""
    return {m: s for key in store.poll_keys for m, s in await client.zrange(key, 0, -1, withscores=True)}


async def test_sigterm_hands_claims_back_and_the_other_replica_takes_over(
    vidgen_key: str, tmp_path: Path, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """SIGTERM mid-flight: the in-flight create answers 202; once the process has exited no job waits on a lease
    (each is due within 5 s); the survivor completes all of them."""
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.1, run_s=4.0)
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    text = on_shared_redis(
        gateway_settings_text("EMULATOR", poll_interval_s=0.3, lease_s=LEASE_S),
        redis_url=REDIS_URL,
        prefix=redis_prefix,
    )
    try:
        async with serve_app(create_vidgen_emulator(config)) as url, httpx.AsyncClient(base_url=url) as emulator:
            control = SandboxControl(emulator)
            await control.arm(FaultSpec(action="status", delay_s=0.2, times=-1))  # polls are in flight at the signal
            env = {VIDGEN_KEY_ENV: vidgen_key}
            settings = text.replace("EMULATOR", url)
            async with (
                gateway_process(settings, workdir=tmp_path, env=env, name="stopping", server="granian") as stopping,
                gateway_process(settings, workdir=tmp_path, env=env, name="survivor", server="granian") as survivor,
                httpx.AsyncClient(base_url=stopping.url, timeout=30) as to_stopping,
            ):
                replies = [
                    await to_stopping.post("/v1/videos", json={"prompt": f"job {n}"}, headers=auth())
                    for n in range(JOBS)
                ]
                await asyncio.sleep(1.0)  # both replicas are polling
                await control.arm(FaultSpec(action="generate", delay_s=1.0, times=1))
                in_flight = asyncio.create_task(to_stopping.post("/v1/videos", json={"prompt": "late"}, headers=auth()))
                await control.wait_for_calls("generate", JOBS + 1)  # the late submit is at the provider (1 s)
                stopping.process.send_signal(signal.SIGTERM)
                late = await in_flight
                await asyncio.to_thread(stopping.process.wait, 30)
                # The survivor's own polls hold claims too, each for a moment: a claim the stopped replica left is
                # one whose due time is still a lease away, unchanged, a second later.
                before = await whole_schedule(redis_client, store)
                await asyncio.sleep(1.0)
                now = time.time()
                after = await whole_schedule(redis_client, store)
                ids = [reply.json()["id"] for reply in [*replies, late]]
                for _ in range(300):
                    jobs = [await store.get(video_id) for video_id in ids]
                    if all(job is not None and job.status == "completed" for job in jobs):
                        break
                    await asyncio.sleep(0.1)
                survivor_log = survivor.log()
            stats = await control.stats()
    finally:
        await store.close()

    left = sorted(round(due - now, 1) for job_id, due in after.items() if before.get(job_id) == due and due - now > 5)
    print(f"after SIGTERM: {len(before)} jobs scheduled; claims left waiting on a {LEASE_S:g} s lease: {left}")
    assert [reply.status_code for reply in replies] == [202] * JOBS
    assert late.status_code == 202, late.text
    assert before  # jobs were still running when the replica stopped
    assert left == []  # nothing waits out the lease
    assert [job.status if job else None for job in jobs] == ["completed"] * (JOBS + 1)
    assert "job_finished" in survivor_log
    assert stats.calls["generate"] == JOBS + 1
    assert set(stats.job_max_in_flight.values()) == {1}

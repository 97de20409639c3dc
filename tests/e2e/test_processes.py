"""Two gateway OS processes sharing Redis: a replica killed with SIGKILL right after accepting a job leaves it
to the other, which follows it to its terminal state and finalizes it."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL, VIDGEN_KEY_ENV, auth, gateway_settings_text, wait_terminal
from tests.e2e.processes import gateway_process


def shared_redis_settings(vidgen_url: str, prefix: str) -> str:
    # Jobs run ~0.3 s upstream; a poll interval longer than that makes the first replica's death land mid-job.
    text = gateway_settings_text(vidgen_url, poll_interval_s=0.5)
    store = f'\n[store]\nbackend = "redis"\nredis_url = "{REDIS_URL}"\nkey_prefix = "{prefix}"\n'
    return text.replace("[providers.vidgen]", store + "[providers.vidgen]", 1)


async def test_a_job_accepted_by_a_killed_replica_is_finished_by_the_other(
    vidgen_url: str, vidgen_key: str, tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    text = shared_redis_settings(vidgen_url, prefix)
    env = {VIDGEN_KEY_ENV: vidgen_key}
    try:
        async with (
            gateway_process(text, workdir=tmp_path, env=env, name="first") as first,
            gateway_process(text, workdir=tmp_path, env=env, name="second") as second,
        ):
            async with httpx.AsyncClient(base_url=first.url, timeout=10) as client:
                reply = await client.post("/v1/videos", json={"prompt": "a lighthouse"}, headers=auth())
                assert reply.status_code == 202, reply.text
                video_id = reply.json()["id"]
            first.kill()
            async with httpx.AsyncClient(base_url=second.url, timeout=10) as client:
                video = await wait_terminal(client, video_id)
            assert video["status"] == "completed"
            assert "job_accepted" in first.log()
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)

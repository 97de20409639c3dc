"""Two gateway OS processes on one Redis prefix never exceed a provider's configured window between them, counted
exactly by the provider's emulator: the rest fail over to the other provider while it has headroom (never a 429 to
the client) and are refused with the reason once nothing can serve them."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from sandbox.control import SandboxControl
from tests.conftest import REDIS_URL, auth
from tests.e2e.processes import gateway_process

LIMIT = 7
SHARED = {"model": "kling-2.5", "prompt": "a fox in the snow", "seconds": 5}  # NanoGPT $0.35, videogenapi $1.99
NANO_ONLY = {"model": "sora-2", "prompt": "a paper boat", "seconds": 4}  # NanoGPT is the only offering


def settings_text(sandbox: dict[str, str], prefix: str) -> str:
    """NanoGPT with a generate window of 7 per hour and no other limit; videogenapi unlimited; two models."""
    provider = """
[providers.{slug}]
base_url = "{url}"
api_key_env = "{env}"
timeout_s = 2.0
poll_interval_s = 0.05
"""
    return f"""
[poller]
tick_s = 0.02
lease_s = 3.0
max_backoff_s = 0.2
[store]
backend = "redis"
redis_url = "{REDIS_URL}"
key_prefix = "{prefix}"
{provider.format(slug="nanogpt", url=sandbox["nanogpt"], env="NANOGPT_API_KEY")}
[providers.nanogpt.headroom]
windows = [{{ scope = "generate", limit = {LIMIT}, per_s = 3600 }}]
{provider.format(slug="videogenapi", url=sandbox["videogenapi"], env="VIDEOGENAPI_API_KEY")}
[[models."kling-2.5".offerings]]
provider = "nanogpt"
upstream_model = "kling-v25-turbo-pro"
price = {{ per_second_usd = 0.07 }}
capabilities = {{ modes = ["t2v"], seconds = [5, 10], default_seconds = 5 }}
[[models."kling-2.5".offerings]]
provider = "videogenapi"
upstream_model = "kling_25"
price = {{ per_video_usd = 1.99 }}
capabilities = {{ modes = ["t2v"], seconds = [5, 10], default_seconds = 5 }}
[[models.sora-2.offerings]]
provider = "nanogpt"
upstream_model = "sora-2"
price = {{ per_second_usd = 0.10 }}
capabilities = {{ modes = ["t2v"], seconds = [4, 8, 12], default_seconds = 4 }}
"""


async def generate_calls(client: httpx.AsyncClient, url: str) -> int:
    return (await SandboxControl(client, url).stats()).calls.get("generate", 0)


async def test_two_gateway_processes_share_a_window_exactly(
    sandbox: dict[str, str], tmp_path: Path, redis_client: aioredis.Redis
) -> None:
    """24 concurrent shared creates over two processes: NanoGPT gets exactly 7, videogenapi the other 17, every
    client sees 202; then NanoGPT-only creates are refused (503, window named) and NanoGPT still counted 7."""
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    text = settings_text(sandbox, prefix)
    try:
        async with (
            gateway_process(text, workdir=tmp_path, env={}, name="first") as first,
            gateway_process(text, workdir=tmp_path, env={}, name="second") as second,
            httpx.AsyncClient(timeout=20) as client,
        ):
            urls = (first.url, second.url)
            shared = await asyncio.gather(
                *(client.post(f"{urls[n % 2]}/v1/videos", json=SHARED, headers=auth()) for n in range(24))
            )
            only = await asyncio.gather(
                *(client.post(f"{urls[n % 2]}/v1/videos", json=NANO_ONLY, headers=auth()) for n in range(4))
            )
            nano_calls = await generate_calls(client, sandbox["nanogpt"])
            other_calls = await generate_calls(client, sandbox["videogenapi"])
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)
    assert [r.status_code for r in shared] == [202] * 24
    providers = [r.json()["provider"] for r in shared]
    assert (providers.count("nanogpt"), providers.count("videogenapi")) == (LIMIT, 24 - LIMIT)
    assert (nano_calls, other_calls) == (LIMIT, 24 - LIMIT)
    assert [r.status_code for r in only] == [503] * 4
    assert all(r.json()["error"]["type"] == "no_provider_available" for r in only)
    assert any(f"generate window {LIMIT}/3600s exhausted" in r.json()["error"]["message"] for r in only)

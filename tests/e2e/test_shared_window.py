"""Two gateway instances sharing Redis (separate connections, one key prefix) never exceed a provider's
configured window between them: exactly `limit` submits reach the provider, counted by the emulator."""

from __future__ import annotations

import asyncio

import httpx
import msgspec

from gateway.store.redis import RedisStore
from routing.headroom.config import HeadroomConfig, WindowConfig
from sandbox.control import SandboxControl
from tests.conftest import REDIS_URL, GatewayFactory, auth, example_settings

LIMIT = 7
NANO_ONLY = {"model": "sora-2", "prompt": "a paper boat", "routing": {"providers": ["nanogpt"]}}


async def test_two_gateways_share_one_window_exactly(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, redis_prefix: str
) -> None:
    """40 concurrent creates split over two gateways against a window of 7: NanoGPT sees exactly 7 submits."""
    settings = example_settings(sandbox)
    providers = dict(settings.providers)
    window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=LIMIT, per_s=3600),))
    providers["nanogpt"] = msgspec.structs.replace(providers["nanogpt"], headroom=window)
    settings = msgspec.structs.replace(settings, providers=providers)
    stores = [RedisStore.from_url(REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    async with (
        serve_gateway(settings, store=stores[0]) as first,
        serve_gateway(settings, store=stores[1]) as second,
        httpx.AsyncClient(timeout=20) as client,
    ):
        replies = await asyncio.gather(
            *(client.post(f"{(first, second)[n % 2]}/v1/videos", json=NANO_ONLY, headers=auth()) for n in range(40))
        )
        stats = await SandboxControl(client, sandbox["nanogpt"]).stats()
    for store in stores:
        await store.close()
    accepted = [r for r in replies if r.status_code == 202]
    assert len(accepted) == LIMIT
    assert {r.status_code for r in replies} == {202, 503}
    assert stats.calls["generate"] == LIMIT

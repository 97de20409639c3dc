"""Every offering in the example catalogue, forced through the gateway to its provider's emulator over real
sockets: each canonical model completes on each provider that serves it, and its video downloads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.config import load_settings
from tests.conftest import EXAMPLE_CONFIG, GatewayFactory, auth, example_settings, mp4_boxes, wait_terminal

OFFERINGS = [
    pytest.param(model_id, offering.provider, id=f"{model_id}@{offering.provider}")
    for model_id, model in load_settings(EXAMPLE_CONFIG).models.items()
    for offering in model.offerings
    if offering.capabilities.modes  # video-to-video-only models: tests/e2e/test_video_to_video.py
]


async def create_forced(client: httpx.AsyncClient, model: str, provider: str, **extra: Any) -> dict[str, Any]:
    body = {"model": model, "prompt": "a paper boat on a pond", "routing": {"providers": [provider]}, **extra}
    reply = await client.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == 202, reply.text
    video: dict[str, Any] = reply.json()
    assert video["provider"] == provider
    return video


@pytest.mark.parametrize(("model", "provider"), OFFERINGS)
async def test_each_offering_completes_on_its_provider(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, model: str, provider: str
) -> None:
    """A t2v request for the model, forced to the provider, completes and downloads a real MP4."""
    async with (
        serve_gateway(example_settings(sandbox, generic=True)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        video = await create_forced(client, model, provider)
        done = await wait_terminal(client, video["id"])
        assert done["status"] == "completed", done
        assert done["usage"]["cost_usd"] > 0
        content = await client.get(f"/v1/videos/{video['id']}/content", headers=auth(), follow_redirects=True)
    assert content.status_code == 200
    assert mp4_boxes(content.content)[0] == b"ftyp"

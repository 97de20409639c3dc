"""Assets only the provider's key opens (OpenAI's content route), through the gateway: relayed, never a redirect
that would need the key, and a provider that cannot send one is a 502 that names no secret."""

from __future__ import annotations

import os

import httpx

from tests.conftest import GatewayFactory, auth, example_settings, wait_terminal
from tests.e2e.conftest import arm

OPENAI_ONLY = frozenset({"openai"})


async def test_a_keyed_asset_is_relayed_and_a_failed_fetch_is_a_502(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """The thumbnail comes back as bytes (200, image/jpeg); with the provider failing, content is 502
    `asset_download_failed` without the provider key in the reply."""
    settings = example_settings(sandbox, providers=OPENAI_ONLY)
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        reply = await client.post("/v1/videos", json={"model": "sora-2", "prompt": "a paper boat"}, headers=auth())
        video = await wait_terminal(client, reply.json()["id"])
        content = f"/v1/videos/{video['id']}/content"
        thumbnail = await client.get(content, params={"variant": "thumbnail"}, headers=auth())
        await arm(sandbox["openai"], action="file", status_code=500)
        failed = await client.get(content, headers=auth())
    assert video["status"] == "completed"
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "asset_download_failed"
    assert os.environ[settings.providers["openai"].api_key_env] not in failed.text

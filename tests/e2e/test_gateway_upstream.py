"""Another video-gateway as the upstream, reached through the generic OpenAI-compatible adapter: a downstream
gateway whose only provider is an upstream gateway (itself on the sandbox emulators), all over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from gateway.config import parse_settings
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, example_settings, mp4_boxes, wait_terminal

UPSTREAM_KEY_ENV = "VG_TEST_UPSTREAM_GATEWAY_KEY"


def downstream_settings(upstream_url: str) -> str:
    """A gateway whose sora-2 is served by the upstream gateway, as `upstream-gateway` with the generic adapter."""
    return f"""
[poller]
tick_s = 0.02
lease_s = 3.0
max_backoff_s = 0.2
[providers.upstream-gateway]
adapter = "openai"
base_url = "{upstream_url}/v1"
api_key_env = "{UPSTREAM_KEY_ENV}"
timeout_s = 2.0
poll_interval_s = 0.05
[models.sora-2]
[[models.sora-2.offerings]]
provider = "upstream-gateway"
upstream_model = "sora-2"
price = {{ per_second_usd = 0.10 }}
[models.sora-2.offerings.capabilities]
modes = ["t2v"]
seconds = [4, 8, 12]
default_seconds = 4
sizes = ["1280x720"]
default_size = "1280x720"
"""


@pytest_asyncio.fixture
async def gateways(
    sandbox: dict[str, str], serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(downstream, upstream) clients; the downstream holds a client key of the upstream."""
    monkeypatch.setenv(UPSTREAM_KEY_ENV, TEAM_A_KEY)
    async with serve_gateway(example_settings(sandbox)) as upstream_url:
        downstream = parse_settings(downstream_settings(upstream_url), source="test")
        async with (
            serve_gateway(downstream) as downstream_url,
            httpx.AsyncClient(base_url=downstream_url, timeout=10) as down,
            httpx.AsyncClient(base_url=upstream_url, timeout=10) as up,
        ):
            yield down, up


async def test_a_video_completes_through_another_gateway_and_downloads(
    gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """Created downstream, run by the upstream gateway's provider, completed, priced, and its MP4 relayed."""
    down, up = gateways
    reply = await down.post("/v1/videos", json={"model": "sora-2", "prompt": "a paper boat"}, headers=auth())
    assert reply.status_code == 202, reply.text
    video = reply.json()
    done = await wait_terminal(down, video["id"])
    content = await down.get(f"/v1/videos/{video['id']}/content", headers=auth())
    upstream_jobs = (await up.get("/v1/videos", headers=auth())).json()["data"]
    assert (video["provider"], done["status"]) == ("upstream-gateway", "completed")
    assert done["usage"]["cost_usd"] == pytest.approx(0.4)
    assert content.status_code == 200
    assert mp4_boxes(content.content)[0] == b"ftyp"
    assert [(j["status"], j["seconds"]) for j in upstream_jobs] == [("completed", "4")]


async def test_cancelling_downstream_cancels_the_upstream_job(
    gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """DELETE downstream is DELETE upstream: the upstream gateway cancels its job, which leaves its listing."""
    down, up = gateways
    body = {"model": "sora-2", "prompt": "a slow boat [sandbox:stuck]"}
    video = (await down.post("/v1/videos", json=body, headers=auth())).json()
    before = (await up.get("/v1/videos", headers=auth())).json()["data"]
    deleted = await down.delete(f"/v1/videos/{video['id']}", headers=auth())
    after = (await up.get("/v1/videos", headers=auth())).json()["data"]
    assert [job["status"] for job in before] in (["queued"], ["in_progress"])
    assert deleted.status_code == 200
    assert after == []

"""The generic adapter configured as an Azure OpenAI instance (`api-key`, `api-version`, `/openai/v1`) against the
emulator's Azure flavour over real HTTP: a job runs to completion, its keyed asset downloads, a 429 carries its wait."""

from __future__ import annotations

import asyncio
import secrets

import httpx
import pytest

from providers.contract import (
    TERMINAL_STATUSES,
    GenerationRequest,
    ProviderSettings,
    Scene,
    UpstreamRateLimited,
    UpstreamStatus,
)
from providers.openai import OpenAiCompatibleProvider
from sandbox.openai.app import OpenAiEmulatorConfig, create_openai_emulator
from sandbox.serving import serve_app
from tests.conftest import mp4_boxes

REQUEST = GenerationRequest(upstream_model="sora-2", scenes=(Scene(prompt="a paper boat on a pond"),), seconds=4)


def azure(url: str, key: str) -> ProviderSettings:
    return ProviderSettings(
        base_url=f"{url}/openai/v1", api_key=key, name="azure-openai", key_header="api-key", query={"api-version": "v1"}
    )


async def until_terminal(adapter: OpenAiCompatibleProvider) -> UpstreamStatus:
    job = await adapter.submit(REQUEST)
    for _ in range(200):
        status = await adapter.poll(job)
        if status.status in TERMINAL_STATUSES:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError("the Azure job never finished")


async def test_an_azure_instance_runs_a_job_and_downloads_it() -> None:
    """Submit, poll and the asset call all carry `api-key` and `api-version`; the MP4 downloads with them."""
    key = "az-" + secrets.token_hex(8)
    config = OpenAiEmulatorConfig(api_keys=frozenset({key}), flavour="azure", api_version="v1", time_scale=0.02)
    async with serve_app(create_openai_emulator(config)) as url, httpx.AsyncClient(timeout=5) as http:
        adapter = OpenAiCompatibleProvider(http, azure(url, key))
        status = await until_terminal(adapter)
        assert status.output is not None
        call = adapter.asset_call(status.output.video_url)
        asset = await http.get(call.path, headers=call.headers)
    assert status.status == "completed"
    assert "api-version=v1" in status.output.video_url
    assert (asset.status_code, asset.headers["content-type"]) == (200, "video/mp4")
    assert mp4_boxes(asset.content)[0] == b"ftyp"


async def test_an_azure_429_carries_its_retry_after_ms() -> None:
    """Past the request window the create is UpstreamRateLimited with Azure's `retry-after-ms` as the wait."""
    key = "az-" + secrets.token_hex(8)
    config = OpenAiEmulatorConfig(api_keys=frozenset({key}), flavour="azure", api_version="v1", requests_per_minute=1)
    async with serve_app(create_openai_emulator(config)) as url, httpx.AsyncClient(timeout=5) as http:
        adapter = OpenAiCompatibleProvider(http, azure(url, key))
        await adapter.submit(REQUEST)
        with pytest.raises(UpstreamRateLimited) as raised:
            await adapter.submit(REQUEST)
    assert raised.value.provider == "azure-openai"
    assert raised.value.retry_after_s is not None
    assert 0 < raised.value.retry_after_s <= 60

"""The NanoGPT emulator tests' shared pieces: one emulator per test module on hand-moved clocks (each test starts
an hour later, so request windows never carry over) and the small HTTP calls the tests make to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.nanogpt.app import NanoGptEmulatorConfig, create_nanogpt_emulator
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, OTHER_KEY = "sk-nano-live", "sk-nano-other"
AUTH = {"x-api-key": KEY}
WALL_START = 1_767_225_540.0  # 2025-12-31T23:59:00Z, a minute before a UTC day ends
# A rich account with a wide window, for tests that are not about money or limits.
SHARED = NanoGptEmulatorConfig(
    api_keys=frozenset({KEY, OTHER_KEY}), starting_balance_usd=100_000.0, submit_limit_per_minute=10_000
)


def running(config: NanoGptEmulatorConfig = SHARED) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(
        lambda clock, wall: create_nanogpt_emulator(config, clock=clock, wall_clock=wall), wall_start=WALL_START
    )


# One emulator serves each test module; its tests run on the module's event loop.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    sandbox.clock.advance(3_600)
    await SandboxControl(sandbox.client).reset_stats()
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


async def post_generate(client: httpx.AsyncClient, key: str = KEY, **fields: Any) -> httpx.Response:
    fields.setdefault("model", "veo3-1-video")
    fields.setdefault("prompt", "ocean waves at golden hour")
    return await client.post("/api/generate-video", json=fields, headers={"x-api-key": key})


async def submit(client: httpx.AsyncClient, key: str = KEY, **fields: Any) -> dict[str, Any]:
    reply = await post_generate(client, key, **fields)
    assert reply.status_code == 202, reply.text
    job: dict[str, Any] = reply.json()
    return job


async def get_status(client: httpx.AsyncClient, run_id: str, key: str = KEY, **kwargs: Any) -> httpx.Response:
    return await client.get("/api/video/status", params={"requestId": run_id}, headers={"x-api-key": key}, **kwargs)


async def poll(client: httpx.AsyncClient, run_id: str, key: str = KEY) -> dict[str, Any]:
    reply = await get_status(client, run_id, key)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body

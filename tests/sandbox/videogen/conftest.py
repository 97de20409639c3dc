"""The VideoGen emulator tests' shared pieces: one emulator per test module on hand-moved clocks (the fixtures
reset its clocks, rate windows, switches and statistics around each test) and the calls the tests make to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.videogen.app import VideoGenEmulatorConfig, create_videogen_emulator
from tests.conftest import WALL_START, FakeClock
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, OTHER_KEY = "vg-live", "vg-other"
AUTH = {"Authorization": f"Bearer {KEY}"}
CONFIG = VideoGenEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}))
GENERATE = "/v1/tools/generate-video-clip"


def running(config: VideoGenEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_videogen_emulator(config, clock=clock, wall_clock=wall))


# One emulator serves each test module; its tests run on the module's event loop.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    sandbox.wall.now, sandbox.clock.step = WALL_START, 0.0
    sandbox.clock.advance(10_000)  # a fresh hour: earlier tests' calls have left every rate window
    await SandboxControl(sandbox.client).reset_stats()
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


@pytest.fixture
def wall(sandbox: Sandbox) -> FakeClock:
    return sandbox.wall


async def start(client: httpx.AsyncClient, key: str = KEY, **fields: Any) -> str:
    fields.setdefault("prompt", "ocean waves at golden hour")
    reply = await client.post(GENERATE, json=fields, headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 202, reply.text
    execution_id: str = reply.json()["toolExecutionId"]
    return execution_id


async def poll(client: httpx.AsyncClient, execution_id: str, key: str = KEY) -> dict[str, Any]:
    reply = await client.get(f"/v1/tools/executions/{execution_id}", headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body

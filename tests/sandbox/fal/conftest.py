"""The fal emulator tests' shared pieces: one emulator per test module on a hand-moved clock, and its calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.fal.app import FalEmulatorConfig, create_fal_emulator
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, OTHER_KEY = "fal-key-id:secret", "fal-other:secret"
AUTH = {"Authorization": f"Key {KEY}"}
KLING = "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"
CONFIG = FalEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), queue_s=1.0, run_s=4.0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running_emulator(lambda clock, _wall: create_fal_emulator(CONFIG, clock=clock)) as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    await SandboxControl(sandbox.client).reset_stats()
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


async def submit(client: httpx.AsyncClient, model: str = KLING, key: str = KEY, **fields: Any) -> dict[str, Any]:
    fields.setdefault("prompt", "a paper boat on a pond")
    reply = await client.post(f"/{model}", json=fields, headers={"Authorization": f"Key {key}"})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def path(url: str) -> str:
    return httpx.URL(url).path


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock

"""The Vidgen emulator tests' shared pieces: one emulator per test module on a hand-moved clock (the fixtures
reset its clocks, switches and statistics around each test) and the calls the tests make to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import WALL_START, FakeClock
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, DISABLED_KEY = "key-live", "key-disabled"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODELS = {"scenex": "SceneX", "wan22": "Wan 2.2"}
CONFIG = VidgenEmulatorConfig(
    api_keys=frozenset({KEY, DISABLED_KEY}), disabled_keys=frozenset({DISABLED_KEY}), models=MODELS
)


def running(config: VidgenEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_vidgen_emulator(config, clock=clock, wall_clock=wall))


# One emulator serves each test module (starting and stopping one takes ~0.2 s); its tests run on the module's
# event loop (`pytestmark = pytest.mark.asyncio(loop_scope="module")`).
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    sandbox.wall.now = WALL_START
    await SandboxControl(sandbox.client).reset_stats()
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


async def call(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await client.post("/api/v2", json=body, headers=AUTH, **kwargs)


async def generate(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("scenes", [{"prompt": "ocean waves, -blurry"}])
    reply = await call(client, {"action": "generate", **fields})
    assert reply.status_code == 200, reply.text
    job: dict[str, Any] = reply.json()
    return job


async def submit(client: httpx.AsyncClient, *prompts: str, **fields: Any) -> dict[str, Any]:
    scenes = [{"prompt": prompt} for prompt in prompts or ("ocean waves, -blurry",)]
    return await generate(client, scenes=scenes, **fields)


async def poll(client: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
    reply = await call(client, {"action": "status", "id": job["id"], "model": job["model"]})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def completed_meta(client: httpx.AsyncClient, clock: FakeClock, **fields: Any) -> dict[str, Any]:
    job = await generate(client, **fields)
    clock.advance(1_000)
    body = await poll(client, job)
    assert body["status"] == "COMPLETED"
    meta: dict[str, Any] = body["meta"]
    return meta


def image(meta: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(entry for entry in meta["images"] if entry["type"] == kind)
    return found

"""The videogenapi emulator tests' shared pieces: one emulator per test module on hand-moved clocks and the calls
the tests make to it. Each module keeps its own `client` fixture (what it resets around a test differs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from sandbox.videogenapi.app import VideoGenApiEmulatorConfig, create_videogenapi_emulator
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, OTHER_KEY = "lt_live", "lt_other"
AUTH = {"Authorization": f"Bearer {KEY}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_KEY}"}
# Generous counters so module-wide emulators never trip them; the limit tests configure their own.
CONFIG = VideoGenApiEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), monthly_limit=100_000, hourly_limits={})


def running(config: VideoGenApiEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_videogenapi_emulator(config, clock=clock, wall_clock=wall))


# One emulator serves each test module; its tests run on the module's event loop.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


async def post_generate(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    fields.setdefault("prompt", "A cat playing with a ball in a sunny garden")
    fields.setdefault("model", "kling_25")
    return await client.post("/api/v1/generate", json=fields, headers=AUTH if headers is None else headers)


async def generate(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    reply = await post_generate(client, headers, **fields)
    assert reply.status_code == 200, reply.text
    accepted: dict[str, Any] = reply.json()
    return accepted


async def status(
    client: httpx.AsyncClient, generation_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    reply = await client.get(f"/api/v1/status/{generation_id}", headers=AUTH if headers is None else headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body

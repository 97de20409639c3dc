"""Shared by the test_sandbox_videogenapi* modules: a videogenapi emulator on hand-moved clocks and the calls they
make to it. Holds no fixtures, so each module keeps its own emulator and event loop."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig, create_videogenapi_emulator
from tests.emulator_support import Sandbox, running_emulator

KEY, OTHER_KEY = "lt_live", "lt_other"
AUTH = {"Authorization": f"Bearer {KEY}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_KEY}"}
# Generous counters so module-wide emulators never trip them; the limit tests configure their own.
CONFIG = VideoGenApiEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), monthly_limit=100_000, hourly_limits={})


def running(config: VideoGenApiEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_videogenapi_emulator(config, clock=clock, wall_clock=wall))


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


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    await SandboxControl(client).arm(FaultSpec(**spec))  # raises unless 201

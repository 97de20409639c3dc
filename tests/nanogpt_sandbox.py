"""Helpers shared by the NanoGPT emulator tests: a hand-moved clock, a served emulator and small HTTP calls."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.nanogpt.app import NanoGptEmulatorConfig, create_nanogpt_emulator
from tests.emulator_support import Sandbox, running_emulator

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


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    await SandboxControl(client).arm(FaultSpec(**spec))  # raises unless 201

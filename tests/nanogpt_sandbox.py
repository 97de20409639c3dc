"""Helpers shared by the NanoGPT emulator tests: a hand-moved clock, a served emulator and small HTTP calls."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx

from providers.sandbox.nanogpt import NanoGptEmulatorConfig, create_nanogpt_emulator
from providers.sandbox.serving import serve_app

KEY, OTHER_KEY = "sk-nano-live", "sk-nano-other"
AUTH = {"x-api-key": KEY}
WALL_START = 1_767_225_540.0  # 2025-12-31T23:59:00Z, a minute before a UTC day ends
# A rich account with a wide window, for tests that are not about money or limits.
SHARED = NanoGptEmulatorConfig(
    api_keys=frozenset({KEY, OTHER_KEY}), starting_balance_usd=100_000.0, submit_limit_per_minute=10_000
)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sandbox(NamedTuple):
    client: httpx.AsyncClient
    clock: FakeClock
    wall: FakeClock
    base_url: str


@contextlib.asynccontextmanager
async def running(config: NanoGptEmulatorConfig = SHARED) -> AsyncIterator[Sandbox]:
    clock, wall = FakeClock(100.0), FakeClock(WALL_START)
    app = create_nanogpt_emulator(config, clock=clock, wall_clock=wall)
    # A fresh connection per request (see test_sandbox_vidgen: Nagle + delayed ACK on kept-alive sockets).
    limits = httpx.Limits(max_keepalive_connections=0)
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        yield Sandbox(client, clock, wall, base_url)


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
    reply = await client.post("/_sandbox/faults", json=spec)
    assert reply.status_code == 201, reply.text

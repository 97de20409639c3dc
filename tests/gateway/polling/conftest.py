"""Shared by the poller tests: the Vidgen emulator's control routes (fault switches, call statistics), a slower
Vidgen of a test's own, a gateway served on a given store, and a create."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gateway.config import Settings
from gateway.store.base import JobStore
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec, StatsReport
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import GatewayFactory, auth


class Emulator:
    """The Vidgen emulator's private control routes: fault switches and call statistics."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def fault(self, **spec: Any) -> None:
        await SandboxControl(self.client).arm(FaultSpec(**{"action": "status", **spec}))  # raises unless 201

    async def stats(self) -> StatsReport:
        return await SandboxControl(self.client).stats()  # raises unless 200

    async def status_calls(self) -> int:
        return (await self.stats()).calls.get("status", 0)


@contextlib.asynccontextmanager
async def emulator_at(url: str) -> AsyncIterator[Emulator]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield Emulator(client)


@contextlib.asynccontextmanager
async def slow_vidgen(api_key: str, *, run_s: float) -> AsyncIterator[str]:
    """A Vidgen emulator of its own whose jobs run `run_s` seconds (the shared fixture's run 0.25 s)."""
    config = VidgenEmulatorConfig(api_keys=frozenset({api_key}), queue_s=0.05, run_s=run_s)
    async with serve_app(create_vidgen_emulator(config)) as url:
        yield url


@contextlib.asynccontextmanager
async def gateway(
    serve_gateway: GatewayFactory, settings: Settings, store: JobStore
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_gateway(settings, store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def submit(client: httpx.AsyncClient, prompt: str = "a lighthouse at dusk") -> str:
    reply = await client.post("/v1/videos", json={"prompt": prompt}, headers=auth())
    assert reply.status_code == 202, reply.text
    video_id: str = reply.json()["id"]
    return video_id

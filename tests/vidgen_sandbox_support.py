"""Shared by the test_sandbox_vidgen_* modules: a Vidgen emulator on a hand-moved clock and the calls they make
to it. Holds no fixtures, so each module keeps its own module-scoped emulator and event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx

from providers.sandbox.serving import serve_app
from providers.sandbox.vidgen import VidgenEmulatorConfig, create_vidgen_emulator

KEY, DISABLED_KEY = "key-live", "key-disabled"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODELS = {"scenex": "SceneX", "wan22": "Wan 2.2"}
CONFIG = VidgenEmulatorConfig(
    api_keys=frozenset({KEY, DISABLED_KEY}), disabled_keys=frozenset({DISABLED_KEY}), models=MODELS
)
WALL_START = 1_750_000_000.0  # 2025-06-15T15:06:40Z


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


@contextlib.asynccontextmanager
async def running(config: VidgenEmulatorConfig = CONFIG) -> AsyncIterator[Sandbox]:
    clock, wall = FakeClock(100.0), FakeClock(WALL_START)
    app = create_vidgen_emulator(config, clock=clock, wall_clock=wall)
    # A fresh connection per request: serve_app's listening socket lacks TCP_NODELAY, so a reused
    # connection waits ~40 ms per reply on Nagle + delayed ACK.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        yield Sandbox(client, clock, wall)


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


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    reply = await client.post("/_sandbox/faults", json=spec)
    assert reply.status_code == 201, reply.text


def image(meta: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(entry for entry in meta["images"] if entry["type"] == kind)
    return found

"""The OpenAI emulator tests' shared pieces: one emulator per test module on hand-moved clocks, and the calls the
tests make to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from sandbox.openai.app import OpenAiEmulatorConfig, create_openai_emulator
from tests.sandbox.conftest import Sandbox, running_emulator

KEY, OTHER_KEY = "sk-live", "sk-other"
AUTH = {"Authorization": f"Bearer {KEY}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER_KEY}"}
CONFIG = OpenAiEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}))


def running(config: OpenAiEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_openai_emulator(config, clock=clock, wall_clock=wall))


# One emulator serves each test module; its tests run on the module's event loop.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


async def post_video(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, path: str = "/v1/videos", **fields: Any
) -> httpx.Response:
    fields.setdefault("prompt", "A calico cat playing a piano on stage")
    return await client.post(path, json=fields, headers=AUTH if headers is None else headers)


async def create(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    reply = await post_video(client, **fields)
    assert reply.status_code == 200, reply.text
    video: dict[str, Any] = reply.json()
    return video


def error_of(reply: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = reply.json()["error"]
    return error

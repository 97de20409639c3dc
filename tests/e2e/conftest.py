"""Shared by the end-to-end tests over every emulator: a gateway on the example config, arming a provider's fault
switch and reading how many generate calls it took (the emulator counts them), and a NanoGPT settings tweak."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from gateway.config import Settings
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import GatewayFactory, example_settings


@pytest.fixture
async def gateway(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_gateway(example_settings(sandbox)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


async def arm(url: str, **fault: Any) -> None:
    """Arm one fault switch on the emulator at `url`: a generate call, once, unless `fault` says otherwise."""
    async with httpx.AsyncClient(base_url=url) as emulator:
        spec = FaultSpec(**{"action": "generate", "times": 1, **fault})
        await SandboxControl(emulator).arm(spec)  # raises unless 201


async def generate_calls(url: str) -> int:
    async with httpx.AsyncClient(base_url=url) as emulator:
        return (await SandboxControl(emulator).stats()).calls.get("generate", 0)


def with_nanogpt(settings: Settings, **changes: Any) -> Settings:
    providers = dict(settings.providers)
    providers["nanogpt"] = msgspec.structs.replace(providers["nanogpt"], **changes)
    return msgspec.structs.replace(settings, providers=providers)

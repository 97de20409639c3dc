"""One compressed provider clock per emulator: with `time_scale` 0.1 the rate windows last a tenth as long and the
waits the replies announce (Retry-After, `seconds_until_reset`, X-RateLimit-Reset) are a tenth too, so a client
that honours them sees the same clock the jobs run on. Shapes stay the documented ones."""

from __future__ import annotations

import contextlib

import pytest

from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.nanogpt.app import NanoGptEmulatorConfig, create_nanogpt_emulator
from sandbox.videogen.app import VideoGenEmulatorConfig, create_videogen_emulator
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig, create_videogenapi_emulator
from tests.conftest import WALL_START
from tests.sandbox.conftest import Sandbox, add_fault, running_emulator
from tests.sandbox.nanogpt.conftest import KEY as NANO_KEY
from tests.sandbox.nanogpt.conftest import post_generate
from tests.sandbox.videogenapi.conftest import KEY as VGA_KEY
from tests.sandbox.videogenapi.conftest import post_generate as vga_generate

SCALE = 0.1


def nanogpt(config: NanoGptEmulatorConfig) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_nanogpt_emulator(config, clock=clock, wall_clock=wall))


def videogenapi(config: VideoGenApiEmulatorConfig) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_videogenapi_emulator(config, clock=clock, wall_clock=wall))


def videogen(config: VideoGenEmulatorConfig) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, wall: create_videogen_emulator(config, clock=clock, wall_clock=wall))


async def test_nanogpt_submit_window_and_its_retry_after_are_scaled() -> None:
    """A 6 s window (a minute x 0.1): the refusal says Retry-After 5 after 1 s, and 5 s later it reopens."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({NANO_KEY}), submit_limit_per_minute=2, time_scale=SCALE)
    async with nanogpt(config) as s:
        codes = [(await post_generate(s.client)).status_code for _ in range(2)]
        s.clock.advance(1)
        refused = await post_generate(s.client)
        s.clock.advance(5)
        reopened = await post_generate(s.client)
    assert codes == [202, 202]
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "5")
    assert refused.json()["error"]["type"] == "RATE_LIMITED"
    assert reopened.status_code == 202


@pytest.mark.parametrize(("scale", "retry_after"), [(1.0, "60"), (SCALE, "6"), (0.001, "1")])
async def test_nanogpt_forced_429_announces_a_scaled_minute(scale: float, retry_after: str) -> None:
    """A forced 429's Retry-After is a minute of provider time: 60, 6 at 0.1, and never below 1 s."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({NANO_KEY}), time_scale=scale)
    async with nanogpt(config) as s:
        await add_fault(s.client, action="generate", status_code=429)
        reply = await post_generate(s.client)
    assert (reply.status_code, reply.headers["retry-after"]) == (429, retry_after)


async def test_videogenapi_hourly_window_and_seconds_until_reset_are_scaled() -> None:
    """Sora-2's hour becomes 360 s: refused 60 s after the first generation with 300 s to reset, open at 360 s."""
    config = VideoGenApiEmulatorConfig(api_keys=frozenset({VGA_KEY}), hourly_limits={"sora-2": 1}, time_scale=SCALE)
    async with videogenapi(config) as s:
        first = await vga_generate(s.client, model="sora-2")
        s.clock.advance(60)
        refused = await vga_generate(s.client, model="sora-2")
        s.clock.advance(300)
        reopened = await vga_generate(s.client, model="sora-2")
    assert first.status_code == 200
    details = refused.json()["details"]
    assert (refused.status_code, details["seconds_until_reset"], details["window"]) == (429, 300, "1 hour")
    assert details["reset_time"] == "2025-06-15 15:11:40"  # wall start + 300 s
    assert reopened.status_code == 200


async def test_videogenapi_forced_429_counts_down_a_scaled_hour() -> None:
    """A forced 429 is seed 004's body with `seconds_until_reset` an hour x 0.1."""
    config = VideoGenApiEmulatorConfig(api_keys=frozenset({VGA_KEY}), time_scale=SCALE)
    async with videogenapi(config) as s:
        await SandboxControl(s.client).arm(FaultSpec(action="generate", status_code=429))
        reply = await vga_generate(s.client)
    assert (reply.status_code, reply.json()["details"]["seconds_until_reset"]) == (429, 360)


async def test_videogen_hourly_window_and_its_reset_header_are_scaled() -> None:
    """One generate per scaled hour: the 2nd is 429, X-RateLimit-Reset 360 s after the 1st; at 360 s it opens."""
    config = VideoGenEmulatorConfig(api_keys=frozenset({"vg-live"}), generate_per_hour=1, time_scale=SCALE)
    auth = {"Authorization": "Bearer vg-live"}
    path = "/v1/tools/generate-video-clip"
    async with videogen(config) as s:
        first = await s.client.post(path, json={"prompt": "x"}, headers=auth)
        s.clock.advance(10)
        s.wall.advance(10)
        refused = await s.client.post(path, json={"prompt": "x"}, headers=auth)
        s.clock.advance(350)
        again = await s.client.post(path, json={"prompt": "x"}, headers=auth)
    assert first.status_code == 202
    assert (refused.status_code, refused.headers["x-ratelimit-reset"]) == (429, str(int(WALL_START) + 360))
    assert again.status_code == 202

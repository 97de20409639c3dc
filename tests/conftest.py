"""Shared fixtures: a real Redis (separate db, unique key prefix per test), emulators and gateways served on
loopback sockets, a hand-moved clock, and helpers to build settings. Behaviour changes only through create_app
arguments."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings, parse_settings
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from sandbox.serving import serve_app, serve_apps
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.redis_cluster import redis_cluster

REDIS_URL = "redis://127.0.0.1:6379/9"
WALL_START = 1_750_000_000.0  # 2025-06-15T15:06:40Z
VIDGEN_KEY_ENV = "TEST_VIDGEN_API_KEY"
TEAM_A_KEY = "vgk_test_team_a_" + secrets.token_hex(8)
TEAM_B_KEY = "vgk_test_team_b_" + secrets.token_hex(8)


class FakeClock:
    """A clock the test moves by hand (from WALL_START unless told); with `step` set, every reading also moves it
    on by `step`. Stands in for time.time in emulators, headroom, circuit breakers and speed books."""

    def __init__(self, now: float = WALL_START) -> None:
        self.now = now
        self.step = 0.0

    def __call__(self) -> float:
        reading = self.now
        self.now += self.step
        return reading

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0) -> None:
    """Poll `check` until it holds; bounded, so a state that never comes fails the test (no timing asserted)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


def test_keyring() -> KeyRing:
    return KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(TEAM_B_KEY): Caller(key_id="key-b", team="team-b", scopes=frozenset({"videos"})),
        }
    )


def gateway_settings(
    vidgen_url: str,
    *,
    poll_interval_s: float = 0.05,
    max_job_duration_s: float | None = None,
    extra: str = "",
) -> Settings:
    text = gateway_settings_text(
        vidgen_url, poll_interval_s=poll_interval_s, max_job_duration_s=max_job_duration_s, extra=extra
    )
    return parse_settings(text, source="test")


def gateway_settings_text(
    vidgen_url: str,
    *,
    poll_interval_s: float = 0.05,
    max_job_duration_s: float | None = None,
    lease_s: float = 3.0,
    extra: str = "",
) -> str:
    """The Vidgen-only test config as TOML (for gateway processes, which read a file)."""
    duration = "" if max_job_duration_s is None else f"max_job_duration_s = {max_job_duration_s}"
    text = f"""
default_model = "scenex"
[poller]
tick_s = 0.02
lease_s = {lease_s}
submit_grace_s = 5.0
max_consecutive_errors = 3
max_backoff_s = 0.2
[failover]
deadline_s = 2.0
wait_for_capacity_s = 0.5
[providers.vidgen]
base_url = "{vidgen_url}"
api_key_env = "{VIDGEN_KEY_ENV}"
timeout_s = 2.0
poll_interval_s = {poll_interval_s}
{duration}
[models.scenex]
[[models.scenex.offerings]]
provider = "vidgen"
upstream_model = "scenex"
price = {{ per_second_usd = 0.02 }}
[models.scenex.offerings.capabilities]
modes = ["t2v", "i2v", "first_last", "multi_scene"]
seconds_per_scene = 5
max_scenes = 5
default_size = "832x480"
size_range = [320, 1280]
size_multiple = 8
music = true
audio = true
audio_prompt = true
audio_negative_prompt = true
negative_prompt = true
enhance_prompt = true
image_transports = ["data_uri"]
{extra}
"""
    return text


@pytest.fixture
def vidgen_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = "sbx_" + secrets.token_hex(12)
    monkeypatch.setenv(VIDGEN_KEY_ENV, key)
    return key


@pytest.fixture
async def vidgen_url(vidgen_key: str) -> AsyncIterator[str]:
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.25)
    async with serve_app(create_vidgen_emulator(config)) as url:
        yield url


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis_client: aioredis.Redis) -> AsyncIterator[str]:
    prefix = f"vgtest:{uuid.uuid4().hex}:"
    yield prefix
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A three-primary Redis Cluster for the session (started only when a test asks for it)."""
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as url:
        yield url


# The suites of Redis-backed state (store, outbox, idempotency, budgets, headroom, breakers, speed book, replicas)
# also run on a Redis Cluster, alone after the parallel run: the cluster is started once per process. Their
# backend fixtures add this param next to "redis" and take the URL from `backend_url`.
ON_CLUSTER = pytest.param("cluster", marks=pytest.mark.serial)


def backend_url(request: pytest.FixtureRequest) -> str:
    """The Redis a backend fixture's param names: the session's Redis Cluster for "cluster", else the test Redis."""
    if request.param == "cluster":
        url: str = request.getfixturevalue("redis_cluster_url")
        return url
    return REDIS_URL


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[JobStore]:
    async for made in make_store(request, redis_prefix):
        yield made


async def make_store(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[JobStore]:
    """The store `request.param` names: memory, one Redis, or the session's Redis Cluster."""
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_store = RedisStore.from_url(backend_url(request), prefix=redis_prefix)
    yield redis_store
    await redis_store.close()


GatewayFactory = Callable[..., contextlib.AbstractAsyncContextManager[str]]


@pytest.fixture
def serve_gateway() -> GatewayFactory:
    """Serve a gateway app on a loopback port: `async with serve_gateway(settings, store=...) as url`."""

    @contextlib.asynccontextmanager
    async def serve(settings: Settings, **kwargs: Any) -> AsyncIterator[str]:
        kwargs.setdefault("keyring", test_keyring())
        async with serve_app(create_app(settings, **kwargs)) as url:
            yield url

    return serve


def auth(key: str = TEAM_A_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def wait_terminal(
    client: httpx.AsyncClient, video_id: str, *, key: str = TEAM_A_KEY, retry_unavailable: bool = False
) -> dict[str, Any]:
    """Poll the gateway (never upstream) until the job is terminal; bounded so a stuck job fails the test. With
    `retry_unavailable`, a retryable 503 `store_unavailable` is polled again, as a client does (right after a store
    outage a pooled connection may still be the dead one)."""
    import asyncio

    for _ in range(400):
        reply = await client.get(f"/v1/videos/{video_id}", headers=auth(key))
        if retry_unavailable and reply.status_code == 503 and reply.json()["error"]["retryable"]:
            await asyncio.sleep(0.1)
            continue
        assert reply.status_code == 200, reply.text
        video: dict[str, Any] = reply.json()
        if video["status"] in ("completed", "failed", "cancelled"):
            return video
        await asyncio.sleep(0.025)
    raise AssertionError(f"video {video_id} did not finish: {video}")


def tiny_png(rgb: tuple[int, int, int] = (200, 40, 40), size: int = 8) -> bytes:
    """A real PNG image (size x size, one colour), made without image libraries."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b"")
    )


def png_data_uri(rgb: tuple[int, int, int] = (200, 40, 40)) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(tiny_png(rgb)).decode()


def mp4_boxes(data: bytes) -> list[bytes]:
    """Top-level ISO-BMFF box types of an MP4 file, to check a download is a real, playable container."""
    import struct

    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            break
        boxes.append(kind)
        offset += size
    return boxes


EXAMPLE_CONFIG = "deploy/gateway.example.toml"
SANDBOX_TIME_SCALE = 0.05


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    """Every provider emulator the example config names, served on loopback: slug -> base URL.

    Each gets a fresh key in the env var the example config names, as `make run` does."""
    async with serve_sandbox(monkeypatch) as urls:
        yield urls


@contextlib.asynccontextmanager
async def serve_sandbox(env: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    """The `sandbox` fixture's emulators, for a fixture of another scope (with its own `MonkeyPatch`)."""
    from gateway.config import load_settings
    from sandbox.registry import EMULATORS

    example = load_settings(EXAMPLE_CONFIG)
    apps = {}
    for slug, provider in example.providers.items():
        key = f"sbx_{slug}_" + secrets.token_hex(8)
        env.setenv(provider.api_key_env, key)
        apps[slug] = EMULATORS[slug](key, SANDBOX_TIME_SCALE)
    async with serve_apps(apps) as urls:  # started and stopped together: seven shutdowns in turn took ~1.5 s
        yield urls


def example_settings(
    urls: dict[str, str],
    *,
    poll_interval_s: float = 0.05,
    providers: frozenset[str] | None = None,
    generic: bool = False,
) -> Settings:
    """The example config with its real catalogue, pointed at the served emulators and polling fast; restricted to
    `providers` (their entries and offerings) when given, else every provider but those a generic adapter serves
    (`adapter = "openai"`: they join the routes the routing and failover tests pin only when `generic` is set)."""
    import msgspec

    from gateway.config import load_settings

    example = load_settings(EXAMPLE_CONFIG)
    if providers is None:
        kept = {slug for slug, config in example.providers.items() if generic or config.adapter is None}
    else:
        kept = set(providers)
    models = {
        model_id: msgspec.structs.replace(model, offerings=offerings)
        for model_id, model in example.models.items()
        if (offerings := tuple(o for o in model.offerings if o.provider in kept))
    }
    # The emulator's address with the example's own path (the OpenAI-compatible one is served under `/v1`).
    configs = {
        slug: msgspec.structs.replace(
            p, base_url=urls[slug] + urlsplit(p.base_url).path, poll_interval_s=poll_interval_s, timeout_s=2.0
        )
        for slug, p in example.providers.items()
        if slug in kept
    }
    poller = msgspec.structs.replace(example.poller, tick_s=0.02, lease_s=3.0, max_backoff_s=0.2)
    default_model = example.default_model if example.default_model in models else None
    return msgspec.structs.replace(
        example, providers=configs, models=models, default_model=default_model, poller=poller, keys=()
    )

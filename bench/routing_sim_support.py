"""Pieces of bench/routing_sim.py: the seeded workload, the emulators and gateway it runs against, the fault plan,
and the probe that finds, per request shape, which providers could serve it and the cheapest price."""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings, load_settings
from gateway.store.redis import RedisStore
from providers.sandbox.nanogpt import NanoGptEmulatorConfig, create_nanogpt_emulator
from providers.sandbox.registry import EMULATORS
from providers.sandbox.serving import serve_app
from providers.sandbox.videogenapi import VideoGenApiEmulatorConfig, create_videogenapi_emulator
from routing.headroom import HeadroomConfig, WindowConfig

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/8"
EXAMPLE_CONFIG = ROOT / "deploy" / "gateway.example.toml"
TEAMS = ("studio", "ads", "research")
ADMIN_TEAM = "ops"
URL_IMAGE = "https://example.invalid/frame.png"  # the emulators take a URL as given; nothing fetches it
URL_PROVIDERS = frozenset({"videogenapi", "nanogpt"})
PROMPTS = ("a lighthouse at dawn", "a fox in the snow", "city traffic at night", "a paper boat on a pond")


@dataclass(frozen=True)
class Capacity:
    """What the run configures: emulator limits, the gateway's own NanoGPT window, and the fault plan."""

    time_scale: float = 0.02
    nanogpt_window: int = 80  # gateway HeadroomConfig: generate calls per hour at NanoGPT
    nanogpt_balance_usd: float = 100.0  # emulator prepaid balance (its 50 submits/min window stays)
    videogenapi_monthly: int = 1000  # emulator plan allowance
    videogenapi_sora_hourly: int = 20  # emulator per-model hourly limit for sora-2
    fault_every: int = 12  # before every Nth submission, arm one fault (alternating 503 / 429) at NanoGPT
    fault_every_videogenapi: int = 25  # and before every Mth, one 502 at videogenapi

    def describe(self) -> str:
        return (
            f"time_scale {self.time_scale}; NanoGPT: gateway window {self.nanogpt_window} generate/h, emulator "
            f"${self.nanogpt_balance_usd:.0f} balance and 50 submits/min; "
            f"videogenapi: {self.videogenapi_monthly}/month,"
            f" sora-2 {self.videogenapi_sora_hourly}/h; faults: one NanoGPT 503/429 (alternating) armed before every "
            f"{self.fault_every}th submission, one videogenapi 502 before every {self.fault_every_videogenapi}th"
        )


@dataclass
class Job:
    index: int
    team: str
    model: str
    mode: str
    seconds: int
    body: dict[str, Any]
    shape: tuple[str, str, int] = ("", "", 0)
    result: dict[str, Any] = field(default_factory=dict)


def png_data_uri() -> str:
    from tests.conftest import png_data_uri as make

    return make()


def allowed_seconds(settings: Settings, model: str) -> list[int]:
    values: set[int] = set()
    for offering in settings.models[model].offerings:
        caps = offering.capabilities
        values.update(getattr(caps, "seconds", None) or ())
        if getattr(caps, "seconds_per_scene", None):
            values.add(caps.seconds_per_scene)
    return sorted(values)


def make_workload(settings: Settings, *, seed: int, jobs: int, i2v_share: float = 0.3) -> list[Job]:
    """Seeded: model uniform over the catalogue, i2v with `i2v_share` where every offering lists it, seconds
    uniform over the union of the offerings' allowed values (so some requests fit only one provider)."""
    rng = random.Random(seed)
    models = sorted(settings.models)
    data_uri = png_data_uri()
    workload = []
    for index in range(jobs):
        model = rng.choice(models)
        offerings = settings.models[model].offerings
        i2v_ok = all("i2v" in o.capabilities.modes for o in offerings)
        mode = "i2v" if i2v_ok and rng.random() < i2v_share else "t2v"
        seconds = rng.choice(allowed_seconds(settings, model))
        body: dict[str, Any] = {"model": model, "prompt": rng.choice(PROMPTS), "seconds": seconds}
        if mode == "i2v":
            by_url = all(o.provider in URL_PROVIDERS for o in offerings)
            body["image"] = {"url": URL_IMAGE} if by_url else {"data_uri": data_uri}
        job = Job(index=index, team=rng.choice(TEAMS), model=model, mode=mode, seconds=seconds, body=body)
        job.shape = (model, mode, seconds)
        workload.append(job)
    return workload


def keys() -> tuple[dict[str, str], KeyRing]:
    """One key per team plus an admin key; returns team -> key and the keyring holding their digests."""
    by_team = {team: f"vgk_sim_{team}_" + secrets.token_hex(8) for team in (*TEAMS, ADMIN_TEAM)}
    callers = {}
    for team, key in by_team.items():
        scopes = frozenset({"videos", "usage", "admin"} if team == ADMIN_TEAM else {"videos"})
        callers[digest(key)] = Caller(key_id=f"key-{team}", team=team, scopes=scopes)  # type: ignore[arg-type]
    return by_team, KeyRing(callers)


def emulator_app(slug: str, key: str, capacity: Capacity) -> Any:
    scale = capacity.time_scale
    if slug == "nanogpt":
        config = NanoGptEmulatorConfig(
            api_keys=frozenset({key}), starting_balance_usd=capacity.nanogpt_balance_usd, time_scale=scale
        )
        return create_nanogpt_emulator(config)
    if slug == "videogenapi":
        config2 = VideoGenApiEmulatorConfig(
            api_keys=frozenset({key}),
            time_scale=scale,
            monthly_limit=capacity.videogenapi_monthly,
            hourly_limits={"sora-2": capacity.videogenapi_sora_hourly},
        )
        return create_videogenapi_emulator(config2)
    return EMULATORS[slug](key, scale)


@contextlib.asynccontextmanager
async def emulators(settings: Settings, capacity: Capacity) -> AsyncIterator[dict[str, str]]:
    """Fresh emulators for every provider in the config, each key in the env var the config names."""
    async with contextlib.AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        for slug, provider in settings.providers.items():
            key = f"sbx_{slug}_" + secrets.token_hex(8)
            os.environ[provider.api_key_env] = key
            urls[slug] = await stack.enter_async_context(serve_app(emulator_app(slug, key, capacity)))
        yield urls


def gateway_settings(urls: dict[str, str], capacity: Capacity) -> Settings:
    """The example config and catalogue, pointed at the emulators, polling fast, NanoGPT with a generate window."""
    example = load_settings(EXAMPLE_CONFIG)
    hour_s = max(1, round(3600 * capacity.time_scale))  # the gateway's window on the emulators' compressed clock
    window = HeadroomConfig(windows=(WindowConfig(scope="generate", limit=capacity.nanogpt_window, per_s=hour_s),))
    providers = {}
    for slug, p in example.providers.items():
        changes: dict[str, Any] = {"base_url": urls[slug], "poll_interval_s": 0.05, "timeout_s": 2.0}
        if slug == "nanogpt":
            changes["headroom"] = window
        providers[slug] = msgspec.structs.replace(p, **changes)
    poller = msgspec.structs.replace(example.poller, tick_s=0.02, lease_s=3.0, max_backoff_s=0.2)
    return msgspec.structs.replace(example, providers=providers, poller=poller, keys=(), log_level="error")


@contextlib.asynccontextmanager
async def gateway(settings: Settings, keyring: KeyRing) -> AsyncIterator[str]:
    """The gateway on loopback with a Redis store under a unique prefix, dropped afterwards."""
    prefix = f"vgsim:{uuid.uuid4().hex[:12]}:"
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        async with serve_app(create_app(settings, keyring=keyring, store=store)) as url:
            yield url
    finally:
        await store.close()
        client = aioredis.Redis.from_url(REDIS_URL)
        found = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if found:
            await client.delete(*found)
        await client.aclose()


async def probe(url: str, admin_key: str, workload: list[Job]) -> dict[tuple[str, str, int], list[tuple[str, float]]]:
    """Per request shape, on a fresh gateway (full headroom, no faults): `POST /v1/routing/explain` candidates as
    (provider, estimated cost USD), cheapest first. An empty list means nothing in the catalogue can serve it."""
    found: dict[tuple[str, str, int], list[tuple[str, float]]] = {}
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for job in workload:
            if job.shape in found:
                continue
            reply = await client.post("/v1/routing/explain", json=job.body, headers=headers)
            if reply.status_code != 200:
                found[job.shape] = []
                continue
            candidates = reply.json()["candidates"]
            found[job.shape] = sorted(((c["provider"], c["score"]["cost_usd"]) for c in candidates), key=lambda c: c[1])
    return found


async def arm_fault(client: httpx.AsyncClient, url: str, status_code: int) -> None:
    body = {"action": "generate", "status_code": status_code, "times": 1}
    reply = await client.post(f"{url}/_sandbox/faults", json=body)
    reply.raise_for_status()


async def generate_calls(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, int]:
    calls = {}
    for slug, url in urls.items():
        stats = (await client.get(f"{url}/_sandbox/stats")).json()
        calls[slug] = int(stats["calls"].get("generate", 0))
    return calls

"""Pieces of bench/routing_sim.py: the seeded workload and fault plan (in provider time), the emulators and the
gateway it runs against, and the probe that finds, per request shape, which offerings could serve it and at what
price. Provider time runs `time_scale` times faster than the wall clock, in the emulators and in the gateway's
configured windows alike."""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import redis.asyncio as aioredis

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from gateway.config import Settings, load_settings
from gateway.store.redis import RedisStore
from routing.headroom.config import HeadroomConfig, WindowConfig
from sandbox.control import SandboxControl
from sandbox.fal.app import FalEmulatorConfig, create_fal_emulator
from sandbox.faults import FaultSpec
from sandbox.nanogpt.app import NanoGptEmulatorConfig, create_nanogpt_emulator
from sandbox.registry import EMULATORS
from sandbox.serving import serve_app
from sandbox.veo.app import VeoEmulatorConfig, create_veo_emulator
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig, create_videogenapi_emulator

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/8"
EXAMPLE_CONFIG = ROOT / "deploy" / "gateway.example.toml"
TEAMS = ("studio", "ads", "research")
ADMIN_TEAM = "ops"
URL_IMAGE = "https://example.invalid/frame.png"  # the emulators take a URL as given; nothing fetches it
PROMPTS = ("a lighthouse at dawn", "a fox in the snow", "city traffic at night", "a paper boat on a pond")
NANOGPT_EMULATOR_PER_MIN = 50  # the emulator's own submit window (providers.md §4.2)
VEO_EMULATOR_PER_MIN = 10  # the emulator's generate window per key and model (its default; providers.md §8)


@dataclass(frozen=True)
class Capacity:
    """What the run configures: arrival rate, limits, quotas and the fault plan. Times are provider seconds."""

    time_scale: float = 0.05
    arrivals_per_min: float = 40.0
    nanogpt_per_min: int = 20  # the gateway's configured NanoGPT generate window (ops' share of the account)
    nanogpt_reserve: int | str = "auto"  # [providers.nanogpt.headroom] reserve: units kept for NanoGPT-only requests
    nanogpt_reserve_margin: int = 1  # [providers.nanogpt.headroom] reserve_margin (with "auto")
    nanogpt_balance_usd: float = 100.0  # emulator prepaid balance
    videogenapi_monthly: int = 1000  # emulator plan allowance
    videogenapi_sora_per_hour: int = 20  # emulator per-model window for sora-2
    nanogpt_503_per_min: float = 1.0  # injected NanoGPT 503s (Poisson), each consumed by the next submit
    nanogpt_429s: int = 2  # injected NanoGPT 429s (Retry-After: a minute), spread over the run
    videogenapi_502_per_min: float = 1.0  # injected videogenapi 502s (Poisson)
    veo_per_min: int = VEO_EMULATOR_PER_MIN  # the gateway's configured Veo generate window per model: the account's
    veo_reserve: int | str = 2  # [providers.veo.headroom] reserve, per model window (as NanoGPT's recorded runs)
    veo_503_per_min: float = 1.0  # injected Veo 503s (UNAVAILABLE, Poisson)
    fal_concurrency: int = 10  # emulator: the account's IN_PROGRESS limit (fal queues the rest, never refuses)
    fal_503_per_min: float = 1.0  # injected fal 503s (Poisson)
    openai_503_per_min: float = 1.0  # injected 503s on the OpenAI-compatible provider (Poisson)
    same_provider_retries: int = 1  # [failover] of the gateway under test, every arm
    retry_backoff_s: float = 1.0
    capacity_wait_s: float = 5.0  # [failover] wait_for_capacity_s (the gateway's default, here in provider seconds)

    def real(self, provider_s: float) -> float:
        return provider_s * self.time_scale

    def minute_s(self) -> int:
        """A provider minute in wall seconds; the gateway's windows take whole seconds, so it must be one."""
        minute = 60 * self.time_scale
        if abs(minute - round(minute)) > 1e-9 or round(minute) < 1:
            raise ValueError(f"time_scale {self.time_scale} does not make a provider minute whole wall seconds")
        return round(minute)

    def describe(self) -> str:
        return (
            f"time_scale {self.time_scale} (a provider minute is {self.minute_s()} wall s); arrivals "
            f"{self.arrivals_per_min:g}/min (Poisson); NanoGPT: gateway window {self.nanogpt_per_min} generate/min "
            f"(reserve {self.nanogpt_reserve}"
            + (f", margin {self.nanogpt_reserve_margin}), " if self.nanogpt_reserve == "auto" else "), ")
            + f"emulator {NANOGPT_EMULATOR_PER_MIN}/min and ${self.nanogpt_balance_usd:.0f} balance; videogenapi: "
            f"{self.videogenapi_monthly}/month, sora-2 {self.videogenapi_sora_per_hour}/h; Veo: gateway window "
            f"{self.veo_per_min} generate/min per model (reserve {self.veo_reserve}), emulator "
            f"{VEO_EMULATOR_PER_MIN}/min; fal: emulator "
            f"concurrency {self.fal_concurrency}; faults: NanoGPT 503 {self.nanogpt_503_per_min:g}/min, NanoGPT 429 "
            f"(Retry-After 60 s) x{self.nanogpt_429s}, videogenapi 502 {self.videogenapi_502_per_min:g}/min, Veo 503 "
            f"{self.veo_503_per_min:g}/min, fal 503 {self.fal_503_per_min:g}/min, openai 503 "
            f"{self.openai_503_per_min:g}/min; gateway [failover] "
            f"same_provider_retries {self.same_provider_retries}, backoff {self.retry_backoff_s:g} s, "
            f"wait_for_capacity {self.capacity_wait_s:g} s"
        )


@dataclass
class Job:
    index: int
    team: str
    model: str
    mode: str
    seconds: int
    at_s: float  # arrival, provider seconds from the start
    body: dict[str, Any]
    shape: tuple[str, str, int] = ("", "", 0)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    at_s: float
    provider: str
    status_code: int


def allowed_seconds(settings: Settings, model: str) -> list[int]:
    values: set[int] = set()
    for offering in settings.models[model].offerings:
        caps = offering.capabilities
        values.update(getattr(caps, "seconds", None) or ())
        if getattr(caps, "seconds_per_scene", None):
            values.add(caps.seconds_per_scene)
        if not caps.seconds_control and caps.default_seconds is not None:
            values.add(caps.default_seconds)  # the provider picks the length: only its priced default fits
    return sorted(values)


def make_workload(settings: Settings, capacity: Capacity, *, seed: int, jobs: int, i2v_share: float = 0.3) -> list[Job]:
    """Seeded: Poisson arrivals; model uniform over the catalogue's text-to-video models; i2v with `i2v_share` where
    every offering lists it; seconds uniform over the union of the offerings' allowed values (so some requests fit
    only one provider)."""
    from tests.conftest import png_data_uri

    rng = random.Random(seed)
    models = sorted(
        m for m, model in settings.models.items() if any("t2v" in o.capabilities.modes for o in model.offerings)
    )
    data_uri, at_s = png_data_uri(), 0.0
    workload = []
    for index in range(jobs):
        at_s += rng.expovariate(capacity.arrivals_per_min / 60)
        model = rng.choice(models)
        offerings = settings.models[model].offerings
        i2v_ok = all("i2v" in o.capabilities.modes for o in offerings)
        mode = "i2v" if i2v_ok and rng.random() < i2v_share else "t2v"
        seconds = rng.choice(allowed_seconds(settings, model))
        body: dict[str, Any] = {"model": model, "prompt": rng.choice(PROMPTS), "seconds": seconds}
        if mode == "i2v":
            # An image goes as a link where every offering takes one, else inline (the emulators fetch no link).
            by_url = all("url" in o.capabilities.image_transports for o in offerings)
            body["image"] = {"url": URL_IMAGE} if by_url else {"data_uri": data_uri}
        team = rng.choice(TEAMS)
        job = Job(index=index, team=team, model=model, mode=mode, seconds=seconds, at_s=at_s, body=body)
        job.shape = (model, mode, seconds)
        workload.append(job)
    return workload


def fault_rates(capacity: Capacity) -> tuple[tuple[str, int, float], ...]:
    """(provider, status, per provider minute) of the Poisson 5xx faults; a provider the catalogue gains needs one
    row here to meet faults (one the catalogue lacks is skipped)."""
    return (
        ("nanogpt", 503, capacity.nanogpt_503_per_min),
        ("videogenapi", 502, capacity.videogenapi_502_per_min),
        ("veo", 503, capacity.veo_503_per_min),
        ("fal", 503, capacity.fal_503_per_min),
        ("openai", 503, capacity.openai_503_per_min),
    )


def fault_plan(capacity: Capacity, *, seed: int, until_s: float, providers: Iterable[str]) -> list[Fault]:
    """Seeded, the same in every arm: Poisson 5xx and evenly spread NanoGPT 429s over [0, until_s), for the
    `providers` the run serves. Each provider's draws come from its own stream, so adding one leaves the others'."""
    served = set(providers)
    faults = []
    for provider, status_code, per_min in fault_rates(capacity):
        if provider not in served:
            continue
        rng = random.Random(f"{seed + 1}:{provider}")
        at_s = rng.expovariate(per_min / 60) if per_min > 0 else until_s
        while at_s < until_s:
            faults.append(Fault(at_s=at_s, provider=provider, status_code=status_code))
            at_s += rng.expovariate(per_min / 60)
    n = capacity.nanogpt_429s if "nanogpt" in served else 0
    faults += [Fault(at_s=until_s * (k + 1) / (n + 1), provider="nanogpt", status_code=429) for k in range(n)]
    return sorted(faults, key=lambda f: f.at_s)


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
            api_keys=frozenset({key}),
            starting_balance_usd=capacity.nanogpt_balance_usd,
            submit_limit_per_minute=NANOGPT_EMULATOR_PER_MIN,
            time_scale=scale,
        )
        return create_nanogpt_emulator(config)
    if slug == "videogenapi":
        config2 = VideoGenApiEmulatorConfig(
            api_keys=frozenset({key}),
            time_scale=scale,
            monthly_limit=capacity.videogenapi_monthly,
            hourly_limits={"sora-2": capacity.videogenapi_sora_per_hour},
        )
        return create_videogenapi_emulator(config2)
    if slug == "veo":
        veo = VeoEmulatorConfig(api_keys=frozenset({key}), requests_per_minute=VEO_EMULATOR_PER_MIN, time_scale=scale)
        return create_veo_emulator(veo)
    if slug == "fal":
        fal = FalEmulatorConfig(api_keys=frozenset({key}), concurrency_limit=capacity.fal_concurrency, time_scale=scale)
        return create_fal_emulator(fal)
    return EMULATORS[slug](key, scale)  # any other provider: its emulator as `make run` serves it


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


def veo_models(settings: Settings) -> dict[str, str]:
    """Canonical model -> Veo's model id, for every model Veo serves (its window is per model)."""
    return {m: o.upstream_model for m, model in settings.models.items() for o in model.offerings if o.provider == "veo"}


def gateway_settings(urls: dict[str, str], capacity: Capacity) -> Settings:
    """The example config and catalogue pointed at the emulators, polling once a provider second, the NanoGPT
    window and Veo's per-model windows per provider minute, and the run's failover retry (its backoff in provider
    seconds)."""
    example = load_settings(EXAMPLE_CONFIG)
    minute_s = capacity.minute_s()
    headroom = {
        "nanogpt": HeadroomConfig(
            windows=(WindowConfig(scope="generate", limit=capacity.nanogpt_per_min, per_s=minute_s),),
            reserve=capacity.nanogpt_reserve,  # type: ignore[arg-type]  # "auto" or a count, as the TOML takes it
            reserve_margin=capacity.nanogpt_reserve_margin,
        ),
        "veo": HeadroomConfig(
            windows=tuple(
                WindowConfig(scope=f"model:{upstream}", limit=capacity.veo_per_min, per_s=minute_s)
                for upstream in sorted(set(veo_models(example).values()))
            ),
            reserve=capacity.veo_reserve,  # type: ignore[arg-type]
            reserve_margin=capacity.nanogpt_reserve_margin,
        ),
    }
    providers = {}
    for slug, p in example.providers.items():
        # The emulator's host with the configured base URL's path (the OpenAI-compatible adapter's ends in `/v1`).
        base_url = urls[slug].rstrip("/") + urlsplit(p.base_url).path.rstrip("/")
        changes: dict[str, Any] = {"base_url": base_url, "poll_interval_s": capacity.real(1.0), "timeout_s": 2.0}
        if slug in headroom:
            changes["headroom"] = headroom[slug]
        providers[slug] = msgspec.structs.replace(p, **changes)
    poller = msgspec.structs.replace(example.poller, tick_s=0.02, lease_s=3.0, max_backoff_s=0.2)
    failover = msgspec.structs.replace(
        example.failover,
        same_provider_retries=capacity.same_provider_retries,
        same_provider_backoff_s=capacity.real(capacity.retry_backoff_s),
        wait_for_capacity_s=capacity.real(capacity.capacity_wait_s),
    )
    return msgspec.structs.replace(
        example, providers=providers, poller=poller, failover=failover, keys=(), log_level="error"
    )


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


Shapes = dict[tuple[str, str, int], list[tuple[str, str, int]]]
"""Per request shape: (provider, canonical model, estimated cost in micro-dollars) of every capable offering."""


async def probe(url: str, admin_key: str, workload: list[Job]) -> Shapes:
    """Per request shape, on a fresh gateway (full headroom, no faults): the candidates of
    `POST /v1/routing/explain`, cheapest first. An empty list means nothing in the catalogue can serve it."""
    found: Shapes = {}
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for job in workload:
            if job.shape in found:
                continue
            reply = await client.post("/v1/routing/explain", json=job.body, headers=headers)
            if reply.status_code != 200:
                found[job.shape] = []
                continue
            offers = [
                (c["provider"], c["model"], round(c["score"]["cost_usd"] * 1_000_000))
                for c in reply.json()["candidates"]
            ]
            found[job.shape] = sorted(offers, key=lambda c: c[2])
    return found


async def arm_fault(client: httpx.AsyncClient, url: str, status_code: int) -> None:
    """One armed switch per emulator at a time: one nobody consumed yet is replaced, so faults never pile up
    while a provider is idle and then hit one request's retries back to back."""
    control = SandboxControl(client, url)
    await control.clear_faults()
    await control.arm(FaultSpec(action="generate", status_code=status_code, times=1))


async def emulator_stats(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per provider: generate calls and the fault switches consumed (with the emulator clock reading)."""
    stats = {}
    for slug, url in urls.items():
        report = await SandboxControl(client, url).stats()
        stats[slug] = {
            "generate": report.calls.get("generate", 0),
            "faults_taken": msgspec.to_builtins(report.faults_taken),
        }
    return stats

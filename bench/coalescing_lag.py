"""The poller's schedule lag with many in-flight jobs on one process: jobs seeded straight into Redis, followed
by the real Poller (Redis store, Redis-backed gate) through an in-process fake adapter that answers after a fixed
latency and never finishes a job. Lag = when a poll starts minus when it was due."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from pathlib import Path

import msgspec
import redis.asyncio as aioredis

from gateway.cadence import Cadence, PollingConfig, base_delay_s, resolve_cadence
from gateway.config import PollerSettings
from gateway.polling.poller import Poller
from gateway.schema.job import VideoJob, new_job_id
from gateway.store.connect import windows_storage
from gateway.store.redis import RedisStore
from gateway.upstreams import Upstream
from gateway.videos.writer import JobWriter
from providers.contract import GenerationRequest, ProviderTraits, UpstreamJob, UpstreamStatus
from routing.gate import ProviderGate
from routing.headroom.config import HeadroomConfig
from routing.headroom.tracker import Headroom
from routing.health.breakers import BreakerSettings
from routing.health.redis_breakers import RedisCircuitBreakers

SLUG = "fake"
SEEDING_S = 15.0  # jobs are written before their schedule starts, so none is overdue when the poller starts


class FakeProvider:
    """Answers every poll `in_progress` after `latency_s` (a provider on a fast network); counts calls."""

    provider = slug = SLUG
    traits = ProviderTraits(poll_interval_s=5.0, max_job_duration_s=86_400.0, can_cancel=False)

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.polls = 0

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        raise AssertionError("the lag benchmark never submits")

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        self.polls += 1
        await asyncio.sleep(self.latency_s)
        return UpstreamStatus(status="in_progress", progress=50)

    async def cancel(self, job: UpstreamJob) -> bool:
        return False


class Lag(msgspec.Struct, frozen=True, kw_only=True):
    polls: int
    per_s: float
    cpu_ms_per_poll: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, lags: list[float], seconds: float, cpu_s: float) -> Lag:
        ordered = sorted(lags) or [0.0]
        return cls(
            polls=len(lags),
            per_s=len(lags) / seconds,
            cpu_ms_per_poll=cpu_s * 1000 / max(1, len(lags)),
            p50_ms=ordered[len(ordered) // 2] * 1000,
            p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            max_ms=ordered[-1] * 1000,
        )


class LagResult(msgspec.Struct, frozen=True, kw_only=True):
    """`first_pass`: until every job has been polled once by this process (each first poll also renews the job's
    slot: a replica taking the jobs over); `steady`: the `duration_s` after that."""

    jobs: int
    first_pass: Lag
    steady: Lag
    rss_mib: float
    peak_rss_mib: float
    redis_mib: float


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


async def seed(store: RedisStore, jobs: int, *, cadence: Cadence, rng: random.Random, start_at: float) -> None:
    """`jobs` accepted jobs at every age of the cadence (0 to 12 polls done), each next due somewhere within its
    own gap from `start_at` on: the schedule of a process that has followed them for a while (no backlog left
    over from seeding, no burst of first polls)."""
    now = time.time()
    limit = asyncio.Semaphore(64)

    async def one(n: int) -> None:
        job = VideoJob(
            id=new_job_id(now) + f"{n:05d}",
            team="bench",
            key_id="bench",
            model="bench",
            created_at=now,
            updated_at=now,
            status="in_progress",
            phase="following",
            provider=SLUG,
            upstream=UpstreamJob(provider=SLUG, upstream_id=f"up_{n}", upstream_model="bench"),
            prompt="a lighthouse at dawn, waves crashing on the rocks below",
            seconds=8,
            poll_count=(polls := rng.randrange(13)),
            next_poll_at=start_at + rng.uniform(0, base_delay_s(cadence, polls)),
        )
        async with limit:
            await store.create(job, poll_at=job.next_poll_at or now)

    await asyncio.gather(*(one(n) for n in range(jobs)))


async def measure_lag(
    *,
    redis_url: str,
    jobs: int,
    duration_s: float,
    polling: PollingConfig,
    interval_s: float,
    latency_s: float,
    concurrency: int = 64,
) -> LagResult:
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    rng = random.Random(7)
    try:
        redis_before = await _redis_mib(store.client)
        cadence = resolve_cadence(polling, interval_s=interval_s)
        start_at = time.time() + SEEDING_S
        await seed(store, jobs, cadence=cadence, rng=rng, start_at=start_at)
        result = await _follow(store, jobs, duration_s, cadence, latency_s, rng, start_at, concurrency)
        return msgspec.structs.replace(result, redis_mib=result.redis_mib - redis_before)
    finally:
        await _drop(store.client, prefix)
        await store.close()


async def _follow(
    store: RedisStore,
    jobs: int,
    duration_s: float,
    cadence: Cadence,
    latency_s: float,
    rng: random.Random,
    start_at: float,
    concurrency: int,
) -> LagResult:
    provider = FakeProvider(latency_s)
    upstream = Upstream(
        adapter=provider,
        enabled=True,
        max_job_duration_s=86_400.0,
        cadence=cadence,
    )
    windows = windows_storage(store.client, key_prefix=f"{store.prefix}headroom")
    headroom = Headroom.on_redis({SLUG: HeadroomConfig()}, store.client, windows=windows, prefix=store.prefix)
    breakers = RedisCircuitBreakers(store.client, BreakerSettings(), clock=time.time, prefix=store.prefix)
    gate = ProviderGate(headroom, breakers)
    lags: list[tuple[float, float]] = []
    steady_from = start_at + cadence.max_interval_s  # every job is due once within its longest gap
    settings = PollerSettings(tick_s=0.2, lease_s=60.0, concurrency=concurrency)
    poller = Poller(
        store=store,
        upstreams={SLUG: upstream},
        settings=settings,
        clock=time.time,
        writer=JobWriter(store=store, effects=[], clock=time.time, retry_s=settings.lease_s),
        gate=gate,
        draw=rng.random,
        observe_lag=lambda _, lag_s: lags.append((time.time(), lag_s)),
    )
    cpu_at_start = time.process_time()
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(steady_from - time.time())
    cpu_at_steady = time.process_time()
    await asyncio.sleep(steady_from + duration_s - time.time())
    cpu_at_end = time.process_time()
    poller.stop()
    await running
    with contextlib.suppress(Exception):
        await headroom.close()
    first = [lag for at, lag in lags if at < steady_from]
    steady = [lag for at, lag in lags if steady_from <= at < steady_from + duration_s]
    return LagResult(
        jobs=jobs,
        first_pass=Lag.of(first, steady_from - start_at, cpu_at_steady - cpu_at_start),
        steady=Lag.of(steady, duration_s, cpu_at_end - cpu_at_steady),
        rss_mib=_rss_mib("VmRSS:"),
        peak_rss_mib=_rss_mib("VmHWM:"),
        redis_mib=await _redis_mib(store.client),
    )


async def _redis_mib(client: aioredis.Redis) -> float:
    info = await client.info("memory")
    return int(info.get("used_memory", 0)) / 2**20


async def _drop(client: aioredis.Redis, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])

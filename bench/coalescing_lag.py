"""The poller's schedule lag with many in-flight jobs on one process: jobs seeded straight into Redis, followed
by the real Poller (Redis store, Redis-backed gate) through one of two upstreams:

- `fake`: an in-process adapter that answers after a fixed latency and never finishes a job (the poller's own cost,
  no network);
- `emulator`: end to end over real HTTP. The OpenAI emulator runs in an OS process of its own (`python -m sandbox
  --serve`, unchanged), every job is really submitted to it through the gateway's `openai` adapter over the shared
  client (`upstream_client()`, the gateway's metrics observer and capacity sink), and the seeded records carry the
  upstream ids it gave; each poll then costs the send path too. The emulator's clock runs `EMULATOR_TIME_SCALE`
  times slower and is moved past the queue once every job is submitted (its control route), so every job is
  `in_progress` for the whole run. Its own CPU is read from /proc, so a saturated emulator shows.

Lag = when a poll starts minus when it was due. CPU = `time.process_time()` of this process (the poller's; the
emulator's is separate)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Literal

import httpx
import msgspec

from bench.upstream_cpu import KEY_ENV, SORA_OFFERING, emulator_process, tree_cpu_s
from gateway.cadence import Cadence, PollingConfig, base_delay_s, resolve_cadence
from gateway.config import PollerSettings, parse_settings
from gateway.metrics.registry import Metrics, build_metrics
from gateway.polling.poller import LagObserver, Poller
from gateway.schema.job import VideoJob, new_job_id
from gateway.store.connect import RedisClient, windows_storage
from gateway.store.redis import RedisStore
from gateway.upstreams import Upstream, build_upstreams
from gateway.videos.writer import JobWriter
from providers.contract import GenerationRequest, Operation, ProviderTraits, Scene, UpstreamJob, UpstreamStatus
from providers.transport import upstream_client
from routing.gate import ProviderGate
from routing.headroom.config import HeadroomConfig
from routing.headroom.tracker import Headroom
from routing.health.breakers import BreakerSettings
from routing.health.redis_breakers import RedisCircuitBreakers
from sandbox.control import SandboxControl

SLUG = "fake"
SEEDING_S = 15.0  # jobs are written before their schedule starts, so none is overdue when the poller starts
UpstreamKind = Literal["fake", "emulator"]
UPSTREAMS: tuple[UpstreamKind, ...] = ("fake", "emulator")

EMULATOR = "openai"
# The emulator's jobs queue 1 s then run 4 s, times this: queued for 1,000 s, then in progress for 4,000 s.
EMULATOR_TIME_SCALE = 1000.0
EMULATOR_QUEUE_S = 1.0
SUBMIT_CONCURRENCY = 64
# The gateway's own wiring of the `openai` provider (build_upstreams reads it): metrics labels, adapter, key.
EMULATOR_CONFIG = (
    """
default_model = "sora-2"
[providers.openai]
adapter = "openai"
base_url = "{base_url}"
api_key_env = "{key_env}"
"""
    + SORA_OFFERING
)


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
    """One phase. `upstream_cpu_share`: the emulator process's CPU over the phase, in cores (1.0 = one core
    busy the whole time: the emulator, not the poller, would be the bottleneck); None with the fake adapter."""

    polls: int
    per_s: float
    cpu_ms_per_poll: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    upstream_cpu_share: float | None = None
    upstream_cpu_ms_per_poll: float | None = None

    @classmethod
    def of(cls, lags: list[float], seconds: float, cpu_s: float, upstream_cpu_s: float | None = None) -> Lag:
        ordered = sorted(lags) or [0.0]
        polls = max(1, len(lags))
        return cls(
            polls=len(lags),
            per_s=len(lags) / seconds,
            cpu_ms_per_poll=cpu_s * 1000 / polls,
            p50_ms=ordered[len(ordered) // 2] * 1000,
            p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            max_ms=ordered[-1] * 1000,
            upstream_cpu_share=None if upstream_cpu_s is None else upstream_cpu_s / seconds,
            upstream_cpu_ms_per_poll=None if upstream_cpu_s is None else upstream_cpu_s * 1000 / polls,
        )


class LagResult(msgspec.Struct, frozen=True, kw_only=True):
    """`first_pass`: until every job has been polled once by this process (each first poll also renews the job's
    slot: a replica taking the jobs over); `steady`: the `duration_s` after that."""

    jobs: int
    upstream: UpstreamKind = "fake"
    first_pass: Lag
    steady: Lag
    rss_mib: float
    peak_rss_mib: float
    redis_mib: float
    upstream_polls: int | None = None
    """Status calls the emulator counted (its `/_sandbox/stats`) over the whole run."""
    status_replies: dict[str, int] = msgspec.field(default_factory=dict)
    """The poller's status calls by outcome as the transport saw them ("200", "404", "timeout"...)."""


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


async def seed(
    store: RedisStore,
    jobs: int,
    *,
    cadence: Cadence,
    rng: random.Random,
    start_at: float,
    upstream_jobs: Sequence[UpstreamJob] = (),
) -> None:
    """`jobs` accepted jobs at every age of the cadence (0 to 12 polls done), each next due somewhere within its
    own gap from `start_at` on: the schedule of a process that has followed them for a while (no backlog left
    over from seeding, no burst of first polls). With `upstream_jobs` (one per job), each record follows one of
    them, as the create that submitted it would have written it; else made-up ids of the fake provider."""
    now = time.time()
    limit = asyncio.Semaphore(64)

    async def one(n: int) -> None:
        fake = UpstreamJob(provider=SLUG, upstream_id=f"up_{n}", upstream_model="bench")
        upstream = upstream_jobs[n] if upstream_jobs else fake
        job = VideoJob(
            id=new_job_id(now) + f"{n:05d}",
            team="bench",
            key_id="bench",
            model="bench",
            created_at=now,
            updated_at=now,
            status="in_progress",
            phase="following",
            provider=upstream.provider,
            upstream=upstream,
            prompt="a lighthouse at dawn, waves crashing on the rocks below",
            seconds=8,
            poll_count=(polls := rng.randrange(13)),
            next_poll_at=start_at + rng.uniform(0, base_delay_s(cadence, polls)),
        )
        async with limit:
            await store.create(job, poll_at=job.next_poll_at or now)

    await asyncio.gather(*(one(n) for n in range(jobs)))


class Target:
    """What the poller follows: the upstream (its cadence the bench's), the upstream jobs the records point at
    (none: the fake provider's made-up ids), the gateway's metrics where the gateway would have them, and the
    emulator's CPU clock and status-call count (None with the fake adapter)."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        jobs: Sequence[UpstreamJob] = (),
        metrics: Metrics | None = None,
        cpu_s: Callable[[], float] | None = None,
        status_calls: Callable[[], Awaitable[int]] | None = None,
        replies: collections.Counter[str] | None = None,
    ) -> None:
        self.upstream = upstream
        self.jobs = jobs
        self.metrics = metrics
        self.cpu_s = cpu_s
        self.status_calls = status_calls
        self.replies = replies if replies is not None else collections.Counter()


async def measure_lag(
    *,
    redis_url: str,
    jobs: int,
    duration_s: float,
    polling: PollingConfig,
    interval_s: float,
    latency_s: float,
    concurrency: int = 64,
    upstream: UpstreamKind = "fake",
    seeding_s: float = SEEDING_S,
) -> LagResult:
    """`latency_s` is the fake adapter's; the emulator answers as fast as it can."""
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    store = RedisStore.from_url(redis_url, prefix=prefix)
    rng = random.Random(7)
    slug = SLUG if upstream == "fake" else EMULATOR
    windows = windows_storage(store.client, key_prefix=f"{store.prefix}headroom")
    headroom = Headroom.on_redis({slug: HeadroomConfig()}, store.client, windows=windows, prefix=store.prefix)
    breakers = RedisCircuitBreakers(store.client, BreakerSettings(), clock=time.time, prefix=store.prefix)
    gate = ProviderGate(headroom, breakers)
    try:
        redis_before = await _redis_mib(store.client)
        cadence = resolve_cadence(polling, interval_s=interval_s)
        async with _target(upstream, gate, cadence, jobs=jobs, latency_s=latency_s) as target:
            start_at = time.time() + seeding_s
            await seed(store, jobs, cadence=cadence, rng=rng, start_at=start_at, upstream_jobs=target.jobs)
            result = await _follow(store, gate, target, jobs, duration_s, cadence, rng, start_at, concurrency)
        return msgspec.structs.replace(result, upstream=upstream, redis_mib=result.redis_mib - redis_before)
    finally:
        with contextlib.suppress(Exception):
            await headroom.close()
        await _drop(store.client, prefix)
        await store.close()


@contextlib.asynccontextmanager
async def _target(
    kind: UpstreamKind, gate: ProviderGate, cadence: Cadence, *, jobs: int, latency_s: float
) -> AsyncIterator[Target]:
    if kind == "fake":
        adapter = FakeProvider(latency_s)
        yield Target(Upstream(adapter=adapter, enabled=True, max_job_duration_s=86_400.0, cadence=cadence))
        return
    key = "sk-bench-" + secrets.token_hex(8)
    os.environ[KEY_ENV] = key  # build_upstreams reads the provider's key from the environment
    with emulator_process(key, time_scale=EMULATOR_TIME_SCALE) as (base_url, pid):
        settings = parse_settings(EMULATOR_CONFIG.format(base_url=f"{base_url}/v1", key_env=KEY_ENV))
        metrics = build_metrics(settings, [], clock=time.time)
        replies: collections.Counter[str] = collections.Counter()

        def count(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
            if operation == Operation.STATUS:
                replies[outcome] += 1

        async with upstream_client() as client, httpx.AsyncClient(base_url=base_url) as control_client:
            built = build_upstreams(
                settings.providers, client, observe=metrics.observer(count), capacity=gate.headroom.record
            )
            upstream = msgspec.structs.replace(built[EMULATOR], cadence=cadence)
            control = SandboxControl(control_client)
            submitted = await submit_all(upstream, jobs)
            # Past every job's queue (the last submitted included): all `in_progress` from here on.
            await control.advance_clock(EMULATOR_QUEUE_S * EMULATOR_TIME_SCALE + submitted.elapsed_s + 1.0)
            await control.reset_stats()
            replies.clear()

            async def status_calls() -> int:
                return (await control.stats()).calls.get("status", 0)

            yield Target(
                upstream,
                jobs=submitted.jobs,
                metrics=metrics,
                cpu_s=lambda: tree_cpu_s(pid),
                status_calls=status_calls,
                replies=replies,
            )


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    jobs: list[UpstreamJob]
    elapsed_s: float


async def submit_all(upstream: Upstream, jobs: int) -> Submitted:
    """`jobs` text-to-video jobs submitted through the gateway's adapter, `SUBMIT_CONCURRENCY` at a time."""
    started = time.monotonic()
    accepted: list[UpstreamJob | None] = [None] * jobs
    queue = iter(range(jobs))

    async def worker() -> None:
        for n in queue:
            scene = Scene(prompt=f"a lighthouse at dawn, waves crashing on the rocks below, take {n}")
            accepted[n] = await upstream.submit(GenerationRequest(upstream_model="sora-2", scenes=(scene,), seconds=4))

    await asyncio.gather(*(worker() for _ in range(SUBMIT_CONCURRENCY)))
    return Submitted(jobs=[job for job in accepted if job is not None], elapsed_s=time.monotonic() - started)


async def _follow(
    store: RedisStore,
    gate: ProviderGate,
    target: Target,
    jobs: int,
    duration_s: float,
    cadence: Cadence,
    rng: random.Random,
    start_at: float,
    concurrency: int,
) -> LagResult:
    upstream = target.upstream
    lags: list[tuple[float, float]] = []
    metrics = target.metrics

    def observe_lag(provider: str, lag_s: float) -> None:
        lags.append((time.time(), lag_s))

    observe: LagObserver = observe_lag
    if metrics is not None:  # the gateway's own observer too, as app.py wires it

        def observe(provider: str, lag_s: float) -> None:
            metrics.poll_lag(provider, lag_s)
            lags.append((time.time(), lag_s))

    steady_from = start_at + cadence.max_interval_s  # every job is due once within its longest gap
    settings = PollerSettings(tick_s=0.2, lease_s=60.0, concurrency=concurrency)
    poller = Poller(
        store=store,
        upstreams={upstream.provider: upstream},
        settings=settings,
        clock=time.time,
        writer=JobWriter(store=store, effects=[], clock=time.time, retry_s=settings.lease_s),
        gate=gate,
        metrics=metrics,
        draw=rng.random,
        observe_lag=observe,
    )
    upstream_cpu = target.cpu_s or (lambda: 0.0)
    cpu_at_start, upstream_at_start = time.process_time(), upstream_cpu()
    running = asyncio.create_task(poller.run())
    await asyncio.sleep(steady_from - time.time())
    cpu_at_steady, upstream_at_steady = time.process_time(), upstream_cpu()
    await asyncio.sleep(steady_from + duration_s - time.time())
    cpu_at_end, upstream_at_end = time.process_time(), upstream_cpu()
    poller.stop()
    await running
    first = [lag for at, lag in lags if at < steady_from]
    steady = [lag for at, lag in lags if steady_from <= at < steady_from + duration_s]
    measured = target.cpu_s is not None
    return LagResult(
        jobs=jobs,
        first_pass=Lag.of(
            first,
            steady_from - start_at,
            cpu_at_steady - cpu_at_start,
            upstream_at_steady - upstream_at_start if measured else None,
        ),
        steady=Lag.of(
            steady, duration_s, cpu_at_end - cpu_at_steady, upstream_at_end - upstream_at_steady if measured else None
        ),
        rss_mib=_rss_mib("VmRSS:"),
        peak_rss_mib=_rss_mib("VmHWM:"),
        redis_mib=await _redis_mib(store.client),
        upstream_polls=None if target.status_calls is None else await target.status_calls(),
        status_replies=dict(target.replies),
    )


async def _redis_mib(client: RedisClient) -> float:
    info = await client.info("memory")
    return int(info.get("used_memory", 0)) / 2**20


async def _drop(client: RedisClient, prefix: str) -> None:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await client.delete(*keys[start : start + 1000])

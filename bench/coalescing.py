"""Coalesced polling, measured two ways:

1. Upstream status calls per job against the client poll rate (1, 10, 100 polls/s per job): a gateway OS process
   (granian, Redis store) in front of a Vidgen emulator on loopback, clients polling each job at the set rate until
   it ends; the emulator counts status calls per upstream job.
2. The poller's schedule lag (p99) with 10,000 in-flight jobs on one process (bench/coalescing_lag.py): Redis
   store, RSS memory, and the upstream either an in-process fake adapter (`--upstream fake`, the default) or, end
   to end over real HTTP, the OpenAI emulator in its own OS process with every job really submitted to it and
   polled through the gateway's adapter and shared client (`--upstream emulator`; its own CPU is reported).

    .venv/bin/python bench/coalescing.py [--rates 1,10,100] [--jobs 10] [--lag-jobs 10000] [--lag-duration 30]
        [--upstream fake|emulator] [--cadences flat]

Prints Markdown and appends it, with the machine, to bench/RESULTS.md (use --no-write to skip)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.coalescing_lag import UPSTREAMS, LagResult, measure_lag  # noqa: E402
from bench.status_poll import REDIS_URL, bench_config, free_port, machine, wait_ready, write_results  # noqa: E402
from gateway.auth import digest  # noqa: E402
from gateway.cadence import PollingConfig  # noqa: E402
from gateway.store.redis import RedisStore  # noqa: E402
from sandbox.control import SandboxControl  # noqa: E402
from sandbox.serving import serve_app  # noqa: E402
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator  # noqa: E402

QUEUE_S, RUN_S, INTERVAL_S = 1.0, 9.0, 1.0
Row = dict[str, float]
CLIENT_GETS_PER_S = 300


@contextlib.asynccontextmanager
async def gateway(vidgen_url: str, vidgen_key: str, prefix: str, client_key: str) -> AsyncIterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        text = bench_config(
            port=port, prefix=prefix, key_digest=digest(client_key), vidgen_url=vidgen_url, poll_interval_s=INTERVAL_S
        )
        config.write_text(text, encoding="utf-8")
        argv = [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)]
        env = {**os.environ, "BENCH_VIDGEN_KEY": vidgen_key}
        process = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603, ASYNC220 - started once, before timing
        try:
            await asyncio.to_thread(wait_ready, port, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


async def follow_at_rate(client: httpx.AsyncClient, video_id: str, rate: float, headers: dict[str, str]) -> int:
    """GET one job `rate` times a second (spread over enough concurrent loops to keep up) until it is terminal."""
    loops = max(1, int(rate // 20))
    done = asyncio.Event()

    async def loop() -> int:
        gets, gap = 0, loops / rate
        while not done.is_set():
            started = time.monotonic()
            reply = await client.get(f"/v1/videos/{video_id}", headers=headers)
            gets += 1
            if reply.json()["status"] in ("completed", "failed", "cancelled"):
                done.set()
            await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))
        return gets

    return sum(await asyncio.gather(*(loop() for _ in range(loops))))


async def one_rate(
    base_url: str, emulator: httpx.AsyncClient, store: RedisStore, rate: float, jobs: int, key: str
) -> Row:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=256)) as client:
        created = [await client.post("/v1/videos", json={"prompt": f"tide {n}"}, headers=headers) for n in range(jobs)]
        ids = [reply.json()["id"] for reply in created]
        started = time.monotonic()
        gets = await asyncio.gather(*(follow_at_rate(client, video_id, rate, headers) for video_id in ids))
        elapsed = time.monotonic() - started
    stats = await SandboxControl(emulator).stats()
    calls = []
    for video_id in ids:
        job = await store.get(video_id)
        if job is None or job.upstream is None or job.status != "completed":
            raise RuntimeError(f"job {video_id} did not complete: {job}")
        calls.append(stats.job_calls[job.upstream.upstream_id])
    return {
        "jobs": jobs,
        "rate": rate,
        "achieved": sum(gets) / jobs / elapsed,
        "gets_per_job": sum(gets) / jobs,
        "mean_calls": sum(calls) / jobs,
        "max_calls": max(calls),
        "bound": (QUEUE_S + RUN_S) / INTERVAL_S + 2,
    }


async def coalescing(rates: list[float], jobs: int) -> list[Row]:
    vidgen_key, client_key = "sbx_" + secrets.token_hex(8), "vgk_bench_" + secrets.token_urlsafe(16)
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=QUEUE_S, run_s=RUN_S)
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    rows = []
    try:
        async with (
            serve_app(create_vidgen_emulator(config)) as vidgen_url,
            httpx.AsyncClient(base_url=vidgen_url) as emulator,
            gateway(vidgen_url, vidgen_key, prefix, client_key) as base_url,
        ):
            for rate in rates:
                # One Python client process sustains a few hundred GETs/s: fewer jobs at the highest rates.
                count = min(jobs, max(2, int(CLIENT_GETS_PER_S // rate)))
                rows.append(await one_rate(base_url, emulator, store, rate, count, client_key))
    finally:
        keys = [k async for k in store.client.scan_iter(match=f"{prefix}*")]
        if keys:
            await store.client.delete(*keys)
        await store.close()
    return rows


def report(args: argparse.Namespace, rows: list[Row], lags: list[tuple[str, LagResult]]) -> str:
    command = (
        f"`.venv/bin/python bench/coalescing.py --rates {args.rates} --jobs {args.jobs} --lag-jobs {args.lag_jobs}"
        f" --lag-duration {args.lag_duration:g} --latency-ms {args.latency_ms:g}"
        f" --poll-concurrency {args.poll_concurrency} --upstream {args.upstream} --cadences {args.cadences}`"
    )
    lines = [
        f"### coalescing — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: {command}.",
        "",
        f"Status calls per job against client poll rate: one gateway process (granian, Redis store) before a Vidgen"
        f" emulator on loopback; up to {args.jobs} jobs per rate (fewer where one Python client process could not"
        f" keep {CLIENT_GETS_PER_S} GETs/s in total), each {QUEUE_S + RUN_S:g} s upstream; cadence"
        f" `poll_interval_s = {INTERVAL_S:g}` with the default polling table (first poll after one interval, gaps"
        f" x1.25 up to 4 intervals, jitter 10%). Bound = duration / interval + 2.",
        "",
        "| client polls/s per job (set) | jobs | achieved | client GETs per job | status calls per job (mean) | max |"
        " bound |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rate']:g} | {r['jobs']:.0f} | {r['achieved']:.1f} | {r['gets_per_job']:.0f} |"
            f" {r['mean_calls']:.1f} | {r['max_calls']:.0f} | {r['bound']:.0f} |"
        )
    lines += [
        "",
        f"Schedule lag, one process: {args.lag_jobs} in-flight jobs seeded in Redis at every age of the cadence"
        " (0-12 polls done, each next due within its own gap), followed by the real Poller (Redis store and gate)"
        f" {UPSTREAM_TEXT[args.upstream].format(latency_ms=args.latency_ms)}, with up to"
        f" {args.poll_concurrency} status calls in flight (`[poller] concurrency`). Lag = poll start - due time."
        " First pass = until every job was polled once by this process (as a replica taking"
        f" jobs over: each first poll also renews the job's slot); steady = the {args.lag_duration:g} s after."
        " CPU = the poller process's own (`time.process_time`). Memory: the process's RSS at the end (its peak),"
        " and Redis's growth.",
        "",
        "| cadence | jobs | phase | polls/s | CPU ms per poll | lag p50 ms | lag p99 ms | lag max ms | RSS MiB (peak) |"
        " Redis MiB | emulator CPU (cores) | emulator CPU ms per poll |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, lag in lags:
        memory = f"{lag.rss_mib:.0f} ({lag.peak_rss_mib:.0f}) | {lag.redis_mib:.1f}"
        for phase, part in (("first pass", lag.first_pass), ("steady", lag.steady)):
            emulator = "- | -"
            if part.upstream_cpu_share is not None and part.upstream_cpu_ms_per_poll is not None:
                emulator = f"{part.upstream_cpu_share:.2f} | {part.upstream_cpu_ms_per_poll:.3f}"
            lines.append(
                f"| {name} | {lag.jobs} | {phase} | {part.per_s:.0f} | {part.cpu_ms_per_poll:.3f} | {part.p50_ms:.0f} |"
                f" {part.p99_ms:.0f} | {part.max_ms:.0f} | {memory} | {emulator} |"
            )
    calls = [(name, lag) for name, lag in lags if lag.upstream_polls is not None]
    if calls:
        counted = "; ".join(f"{name}: {lag.upstream_polls} (replies {lag.status_replies})" for name, lag in calls)
        lines += ["", f"Status calls the emulator counted over the whole run (both phases and the tail): {counted}."]
    return "\n".join(lines) + "\n"


CADENCES = {
    "5 s, default growth (5 -> 20 s)": PollingConfig(),
    "flat 5 s (no growth)": PollingConfig(growth=1.0, max_interval_s=5.0),
}
CADENCE_CHOICES = {"all": list(CADENCES), "growth": [next(iter(CADENCES))], "flat": [list(CADENCES)[1]]}
UPSTREAM_TEXT = {
    "fake": "through an in-process fake adapter answering `in_progress` after {latency_ms:g} ms",
    "emulator": "end to end over real HTTP: the OpenAI emulator in an OS process of its own (`python -m sandbox"
    " --serve`, clock slowed so every job stays `in_progress`), every job really submitted to it first, each poll"
    " through the gateway's `openai` adapter over the shared client (`upstream_client()`) with its metrics",
}


async def run(args: argparse.Namespace) -> str:
    rates = [float(r) for r in args.rates.split(",") if r]
    rows = await coalescing(rates, args.jobs) if rates else []
    lags = []
    for name in CADENCE_CHOICES[args.cadences] if args.lag_jobs else ():
        lag = await measure_lag(
            redis_url=REDIS_URL,
            jobs=args.lag_jobs,
            duration_s=args.lag_duration,
            polling=CADENCES[name],
            interval_s=5.0,
            latency_s=args.latency_ms / 1000,
            concurrency=args.poll_concurrency,
            upstream=args.upstream,
        )
        lags.append((name, lag))
    return report(args, rows, lags)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a log line per client GET would be the bottleneck
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="1,10,100")
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--lag-jobs", type=int, default=10_000)
    parser.add_argument("--lag-duration", type=float, default=30.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--poll-concurrency", type=int, default=64, help="[poller] concurrency: status calls in flight (default 64)"
    )
    parser.add_argument(
        "--upstream",
        choices=UPSTREAMS,
        default="fake",
        help="lag run's upstream: in-process fake adapter, or the OpenAI emulator over real HTTP (default fake)",
    )
    parser.add_argument("--cadences", choices=list(CADENCE_CHOICES), default="all", help="lag run's cadences")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = asyncio.run(run(args))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

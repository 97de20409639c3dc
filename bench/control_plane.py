"""Control-plane convergence: the time from a `PUT /v1/admin/routing` to the last of N gateway replicas applying
it, over many changes. N gateway OS processes (granian, one Redis); each change goes to the next replica in turn;
each replica reports, with the heartbeat it sends on applying, when it applied each version (its wall clock, the
same machine's), so the figure is apply time minus the PUT's send time, not a polling interval.

    .venv/bin/python bench/control_plane.py [--replicas 4] [--changes 100]

Prints Markdown and appends it, with the machine, to bench/RESULTS.md (use --no-write to skip)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bench.status_poll import REDIS_URL, bench_config, free_port, machine, wait_ready, write_results  # noqa: E402
from gateway.auth import digest  # noqa: E402

STRATEGIES = ("fastest", "cheapest")


@contextlib.asynccontextmanager
async def replicas(count: int, prefix: str, admin_key: str) -> AsyncIterator[list[str]]:
    """`count` gateway processes on one Redis prefix, each with `admin_key` as an admin key."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for index in range(count):
                port = free_port()
                text = bench_config(port=port, prefix=prefix, key_digest=digest(admin_key))
                text = text.replace('team = "bench"\n', 'team = "bench"\nscopes = ["videos", "admin"]\n', 1)
                config = Path(tmp) / f"replica-{index}.toml"
                config.write_text(text, encoding="utf-8")
                argv = [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)]
                env = {**os.environ, "BENCH_VIDGEN_KEY": "unused"}
                process = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603, ASYNC220 - before timing
                processes.append(process)
                await asyncio.to_thread(wait_ready, port, process)
                urls.append(f"http://127.0.0.1:{port}")
            yield urls
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=15)


async def measure(urls: list[str], admin_key: str, changes: int) -> list[float]:
    """Seconds from each PUT to the last replica's apply, one change at a time."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=10) for url in urls]
    try:
        await _all_live(clients[0], len(urls))
        lags: list[float] = []
        for change in range(changes):
            client = clients[change % len(clients)]
            version = (await client.get("/v1/admin/routing")).json()["version"]
            table = {"default_strategy": STRATEGIES[change % 2]}
            sent_at = time.time()
            reply = await client.put("/v1/admin/routing", json=table, headers={"If-Match": f'"{version}"'})
            reply.raise_for_status()
            applied_at = await _applied_everywhere(clients[(change + 1) % len(clients)], version + 1, len(urls))
            lags.append(max(applied_at) - sent_at)
        return lags
    finally:
        for client in clients:
            await client.aclose()


async def _all_live(client: httpx.AsyncClient, count: int) -> None:
    for _ in range(600):
        if len((await client.get("/v1/admin/replicas")).json()["data"]) == count:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("not every replica beat")


async def _applied_everywhere(client: httpx.AsyncClient, version: int, count: int) -> list[float]:
    """When each replica applied `version` (routing), once every one has; fails after 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        replicas = (await client.get("/v1/admin/replicas")).json()["data"]
        done = [r["applied_at"]["routing"] for r in replicas if r["applied"].get("routing", 0) >= version]
        if len(replicas) == count and len(done) == count:
            return done
        await asyncio.sleep(0.005)
    raise RuntimeError(f"version {version} did not reach every replica in 10 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def run(replica_count: int, changes: int) -> str:
    prefix = f"bench-cp:{secrets.token_hex(4)}:"
    admin_key = "vgk_bench_" + secrets.token_urlsafe(16)
    load_before = os.getloadavg()[0]
    try:
        async with replicas(replica_count, prefix, admin_key) as urls:
            lags = await measure(urls, admin_key, changes)
    finally:
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    load_after = os.getloadavg()[0]
    ms = [lag * 1000 for lag in lags]
    command = f".venv/bin/python bench/control_plane.py --replicas {replica_count} --changes {changes}"
    return (
        f"### control_plane - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n"
        f"Machine: {machine()}. Command: `{command}`. Load average (1 min): {load_before:.2f} before, "
        f"{load_after:.2f} after (shared machine: other sessions' tests were running; nothing was stopped).\n\n"
        f"{replica_count} gateway processes (granian, one Redis); {changes} routing changes, each a PUT to the next "
        "replica in turn; the figure is the last replica's apply time (its own report) minus the PUT's send time.\n\n"
        "| replicas | changes | p50 ms | p99 ms | max ms | mean ms |\n|---:|---:|---:|---:|---:|---:|\n"
        f"| {replica_count} | {changes} | {percentile(ms, 0.5):.1f} | {percentile(ms, 0.99):.1f} | {max(ms):.1f} "
        f"| {statistics.fmean(ms):.1f} |\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = asyncio.run(run(args.replicas, args.changes))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

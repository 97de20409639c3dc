"""Retention soak: a gateway OS process (Redis store, `[retention]` of a few seconds) in front of a Vidgen
emulator on loopback takes a steady stream of creates (each with an Idempotency-Key) for the set duration, while
Redis is sampled: server `used_memory`, and under the run's prefix the key count, the bytes those keys take
(MEMORY USAGE), the team index size and the ledger stream length. With retention they level off once the first
records expire; the table shows it.

    .venv/bin/python bench/retention_soak.py [--duration 120] [--rate 20] [--sample-every 6] [--keep 3]

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
import redis.asyncio as aioredis  # noqa: E402

from bench.status_poll import REDIS_URL, bench_config, free_port, machine, wait_ready, write_results  # noqa: E402
from gateway.auth import digest  # noqa: E402
from sandbox.serving import serve_app  # noqa: E402
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator  # noqa: E402

RETENTION = """
[retention]
jobs_s = {keep}
index_grace_s = {keep}
webhooks_s = {keep}
idempotency_s = {keep}
ledger_s = {ledger}
sweep_interval_s = 1.0
"""


@contextlib.asynccontextmanager
async def gateway(
    vidgen_url: str, vidgen_key: str, prefix: str, client_key: str, keep_s: float, *, redis_url: str = REDIS_URL
) -> AsyncIterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        text = bench_config(
            port=port,
            prefix=prefix,
            key_digest=digest(client_key),
            vidgen_url=vidgen_url,
            poll_interval_s=0.2,
            redis_url=redis_url,
        )
        text += RETENTION.format(keep=keep_s, ledger=3 * keep_s)
        config.write_text(text, encoding="utf-8")
        argv = [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)]
        env = {**os.environ, "BENCH_VIDGEN_KEY": vidgen_key}
        process = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603, ASYNC220 - started once, before the soak
        try:
            await asyncio.to_thread(wait_ready, port, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, timeout=45)  # the poller and dispatcher drain first
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def sample(client: aioredis.Redis, prefix: str, started: float, created: int) -> dict[str, float]:
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    async with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.memory_usage(key)
        sizes = await pipe.execute()
    info = await client.info("memory")
    return {
        "t": time.monotonic() - started,
        "created": created,
        "keys": len(keys),
        "jobs": sum(1 for k in keys if k.startswith(f"{prefix}job:".encode())),
        "prefix_kib": sum(s or 0 for s in sizes) / 1024,
        "used_mib": int(info["used_memory"]) / 2**20,
        "index": await client.zcard(f"{prefix}team:bench"),
        "ledger": await client.xlen(f"{prefix}usage:{{usage}}:ledger"),
        "markers": await client.scard(f"{prefix}usage:{{usage}}:settled:{time.strftime('%Y-%m', time.gmtime())}"),
        "markers_kib": (
            await client.memory_usage(f"{prefix}usage:{{usage}}:settled:{time.strftime('%Y-%m', time.gmtime())}") or 0
        )
        / 1024,
        "load": os.getloadavg()[0],
    }


async def soak(args: argparse.Namespace) -> list[dict[str, float]]:
    vidgen_key, client_key = "sbx_" + secrets.token_hex(8), "vgk_bench_" + secrets.token_urlsafe(16)
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.1, run_s=0.4)
    redis_client = aioredis.Redis.from_url(REDIS_URL)
    rows: list[dict[str, float]] = []
    created = 0
    try:
        async with (
            serve_app(create_vidgen_emulator(config)) as vidgen_url,
            gateway(vidgen_url, vidgen_key, prefix, client_key, args.keep) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=10) as client,
        ):
            headers = {"Authorization": f"Bearer {client_key}"}
            started = time.monotonic()
            next_sample = started
            while (now := time.monotonic()) - started < args.duration:
                if now >= next_sample:
                    rows.append(await sample(redis_client, prefix, started, created))
                    next_sample += args.sample_every
                key = {"Idempotency-Key": secrets.token_hex(8)}
                body = {"model": "scenex", "prompt": f"soak {created}"}
                reply = await client.post("/v1/videos", json=body, headers={**headers, **key})
                if reply.status_code == 202:
                    created += 1
                await asyncio.sleep(max(0.0, started + created / args.rate - time.monotonic()))
            rows.append(await sample(redis_client, prefix, started, created))
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis_client.delete(*keys)
        await redis_client.aclose()
    return rows


def report(args: argparse.Namespace, rows: list[dict[str, float]]) -> str:
    command = (
        f".venv/bin/python bench/retention_soak.py --duration {args.duration:g} --rate {args.rate:g}"
        f" --sample-every {args.sample_every:g} --keep {args.keep:g}"
    )
    loads = [r["load"] for r in rows]
    lines = [
        f"### retention_soak - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: `{command}`. Load average (1 min) during the run:"
        f" {min(loads):.2f} to {max(loads):.2f} (shared machine; nothing else was stopped).",
        "",
        f"A gateway process (granian, Redis store) in front of a Vidgen emulator on loopback; {args.rate:g} creates/s,"
        f" each with an Idempotency-Key; `[retention]` jobs_s = index_grace_s = idempotency_s = {args.keep:g} s,"
        f" ledger_s = {3 * args.keep:g} s, sweep every 1 s. `keys`, `job keys`, `prefix KiB` (sum of MEMORY USAGE),"
        " `team index` and `ledger` are under the run's prefix; `used_memory` is the whole Redis server (other"
        " databases and users included, so noisier).",
        "",
        "| t s | jobs created | keys | job keys | prefix KiB | of which markers KiB | team index | ledger | markers"
        " | used_memory MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['t']:.0f} | {r['created']:.0f} | {r['keys']:.0f} | {r['jobs']:.0f} | {r['prefix_kib']:.0f}"
            f" | {r['markers_kib']:.0f} | {r['index']:.0f} | {r['ledger']:.0f} | {r['markers']:.0f}"
            f" | {r['used_mib']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--sample-every", type=float, default=6.0)
    parser.add_argument("--keep", type=float, default=3.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = report(args, asyncio.run(soak(args)))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

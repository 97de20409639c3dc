"""Throughput and latency of `GET /v1/videos/{id}` (Redis store) against a bare litestar route, both served
by the same ASGI server in the same run, loaded by wrk from a second process on loopback.

    .venv/bin/python bench/status_poll.py [--duration 10] [--connections 64] [--servers granian,uvicorn]

Prints a Markdown table and appends it, with the machine, to bench/RESULTS.md (use --no-write to skip)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wrk import require_wrk, wrk  # noqa: E402
from gateway.auth import digest  # noqa: E402
from gateway.schema.job import Usage, VideoJob, new_job_id  # noqa: E402
from gateway.store.redis import RedisStore  # noqa: E402
from providers.contract import Output, UpstreamJob  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/8"
CONFIG = """
default_model = "scenex"
log_level = "warning"
[server]
host = "127.0.0.1"
port = {port}
[store]
backend = "redis"
redis_url = "{redis_url}"
key_prefix = "{prefix}"
[[keys]]
id = "bench"
team = "bench"
sha256 = "{key_digest}"
[providers.vidgen]
base_url = "{vidgen_url}"
api_key_env = "BENCH_VIDGEN_KEY"
poll_interval_s = {poll_interval_s}
[models.scenex]
[[models.scenex.offerings]]
provider = "vidgen"
upstream_model = "scenex"
price = {{ per_second_usd = 0.02 }}
[models.scenex.offerings.capabilities]
modes = ["t2v"]
seconds_per_scene = 5
"""


def bench_config(
    *,
    port: int,
    prefix: str,
    key_digest: str,
    vidgen_url: str = "http://127.0.0.1:9",
    poll_interval_s: float = 1.0,
    redis_url: str = REDIS_URL,
) -> str:
    """The one-provider gateway config both gateway benches serve: Redis store under `prefix`, one client key, Vidgen
    at `vidgen_url` (by default nothing listens: the status-poll bench never calls it)."""
    return CONFIG.format(
        port=port,
        redis_url=redis_url,
        prefix=prefix,
        key_digest=key_digest,
        vidgen_url=vidgen_url,
        poll_interval_s=poll_interval_s,
    )


def write_results(text: str) -> None:
    """Append a bench's Markdown section to bench/RESULTS.md."""
    with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as results:
        results.write("\n" + text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def seed_job(prefix: str) -> str:
    """One completed job in Redis, as the poller would have left it."""
    store = RedisStore.from_url(REDIS_URL, prefix=prefix)
    now = time.time()
    job = VideoJob(
        id=new_job_id(now),
        team="bench",
        key_id="bench",
        model="scenex",
        created_at=now,
        updated_at=now,
        status="completed",
        phase="done",
        progress=100,
        provider="vidgen",
        upstream=UpstreamJob(provider="vidgen", upstream_id="run_bench", upstream_model="scenex"),
        prompt="a lighthouse at dawn, waves crashing",
        seconds=5,
        size="832x480",
        output=Output(video_url="https://assets.example/video.mp4", thumbnail_url="https://assets.example/t.jpg"),
        usage=Usage(video_seconds=5, cost_micros=100_000, cost_source="price_table"),
        completed_at=now,
    )
    await store.create(job, poll_at=now)
    await store.unschedule(job.id)
    await store.close()
    return job.id


async def drop_prefix(prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@contextlib.contextmanager
def serving(server: str, target: str, port: int, env: dict[str, str]) -> Iterator[None]:
    python = str(ROOT / ".venv" / "bin" / "python")
    if server == "granian":
        argv = [python, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", "1", "--no-ws", "--log-level", "warning", target]
    else:
        argv = [python, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1", "--log-level", "warning", "--no-access-log", target]
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})  # noqa: S603
    try:
        wait_ready(port, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def load(url: str, *, duration_s: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    wrk(url, duration_s=2, connections=connections, headers=headers)  # warm-up
    run = wrk(url, duration_s=duration_s, connections=connections, headers=headers)
    return {"rps": run.per_s, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms, "non_2xx": float(run.non_2xx)}


def run(args: argparse.Namespace) -> list[tuple[str, str, dict[str, float]]]:
    key = "vgk_bench_" + secrets.token_urlsafe(16)
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    job_id = asyncio.run(seed_job(prefix))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for server in args.servers.split(","):
            port = free_port()
            config = Path(tmp) / "bench.toml"
            config.write_text(bench_config(port=port, prefix=prefix, key_digest=digest(key)), encoding="utf-8")
            env = {"VIDEO_GATEWAY_CONFIG": str(config), "BENCH_VIDGEN_KEY": "unused"}
            with serving(server, "gateway.asgi:app", port, env):
                url = f"http://127.0.0.1:{port}/v1/videos/{job_id}"
                auth = {"Authorization": f"Bearer {key}"}
                rows.append((server, "GET /v1/videos/{id} (Redis)", load(url, headers=auth, **wrk_args(args))))
            port = free_port()
            with serving(server, "bench.bare_app:app", port, {}):
                url = f"http://127.0.0.1:{port}/bare"
                rows.append((server, "bare litestar route", load(url, headers={}, **wrk_args(args))))
    asyncio.run(drop_prefix(prefix))
    return rows


def wrk_args(args: argparse.Namespace) -> dict[str, int]:
    return {"duration_s": args.duration, "connections": args.connections}


def report(rows: list[tuple[str, str, dict[str, float]]], args: argparse.Namespace) -> str:
    lines = [
        f"### status_poll — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: `.venv/bin/python bench/status_poll.py --duration {args.duration} "
        f"--connections {args.connections} --servers {args.servers}`. One server worker; wrk -t1 "
        f"-c{args.connections} in a second process on loopback.",
        "",
        "| server | route | req/s | p50 ms | p99 ms | non-2xx | share of bare |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    bare = {server: r["rps"] for server, route, r in rows if route.startswith("bare")}
    for server, route, r in rows:
        share = r["rps"] / bare[server] if bare.get(server) else 0.0
        lines.append(
            f"| {server} | {route} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['non_2xx']:.0f} | {share:.0%} |"
        )
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown CPU",
    )
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--servers", default="granian,uvicorn")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    require_wrk()
    text = report(run(args), args)
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

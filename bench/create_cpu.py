"""What one `POST /v1/videos` costs the gateway besides the upstream call: its Redis round trips, and its CPU.

1. Round trips: a gateway OS process (granian, one worker, Redis store, provider `openai` before the OpenAI
   emulator, as `bench/upstream_cpu.py` runs it) is warmed up, then `redis-cli MONITOR` watches `--traced` creates
   made one after another. Commands are those the gateway's own connections sent (a script's inner calls, shown
   as `lua`, are not counted); the connections are those that touched the run's key prefix. Commands the
   gateway's loops send on their own in that span (poller, webhook dispatcher, control-plane check) are counted
   apart, by key. Round trips are the requests Redis read over the span (`INFO stats` total_reads_processed, less
   the markers and the rate Redis reads with the gateway idle, measured just before): a pipeline is one round
   trip however many commands it carries.
2. CPU: wrk (bench/wrk.py) keeps `--concurrency` creates in flight for `--duration` seconds; the gateway's utime +
   stime (/proc, its process tree) over the run / creates, minus the upstream submit's own CPU (the gateway's
   `openai` upstream driven in this process `--creates` times, `bench/upstream_cpu.py`'s send path) = the create's
   CPU excluding the upstream call. Round trips per create in that run: requests Redis read over it, less the rate
   it reads with the gateway idle. Redis must serve nothing else meanwhile.

    nice .venv/bin/python bench/create_cpu.py [--creates 2000] [--duration 10] [--concurrency 20] [--label branch]

Prints Markdown and appends it, with the machine and the load average, to bench/RESULTS.md (--no-write skips)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import msgspec  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bench.status_poll import REDIS_URL, drop_prefix, machine, write_results  # noqa: E402
from bench.upstream_cpu import KEY_ENV, Figure, emulator, gateway, load_average, send_path, tree_cpu_s  # noqa: E402
from bench.wrk import WrkRun, require_wrk, wrk  # noqa: E402

# Keys the gateway's loops read on their own (the poller's and webhook dispatcher's schedules, the control plane's
# version check): their commands in the traced span are not a create's.
_BACKGROUND_KEYS = re.compile(r'^ "[^"]*(:poll:\{|:webhook_due:\{|\{control\}:versions")')
_MONITOR_LINE = re.compile(r'^[\d.]+ \[(\d+) ([^\]]+)\] "([^"]+)"(.*)$')


class Trips(msgspec.Struct, frozen=True, kw_only=True):
    creates: int
    by_command: dict[str, int]
    background: dict[str, int]
    reads: int
    """Requests Redis read from its clients over the span (`INFO stats` total_reads_processed), less the markers'
    and the idle rate's share: a pipeline is one read however many commands it carries, so this counts round trips
    where MONITOR counts commands."""

    @property
    def trips_per_create(self) -> float:
        return self.reads / self.creates

    @property
    def per_create(self) -> float:
        return sum(self.by_command.values()) / self.creates


async def round_trips(base_url: str, headers: dict[str, str], prefix: str, *, creates: int, show: bool) -> Trips:
    """Commands the gateway sent to Redis during `creates` sequential creates, read from MONITOR (`show`: each
    printed to stderr). Marker reads of `{prefix}trace-start` and `-end` bound the span: redis-cli may lag behind
    a busy Redis, so its output is read up to the end marker rather than for a fixed time."""
    db = REDIS_URL.rsplit("/", 1)[1]
    argv = [shutil.which("redis-cli") or "redis-cli", "-u", REDIS_URL, "monitor"]
    monitor = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220, S603 - fixed argv
    assert monitor.stdout is not None
    markers = aioredis.Redis.from_url(REDIS_URL)
    reading = asyncio.create_task(asyncio.to_thread(_lines_until, monitor.stdout, f"{prefix}trace-end"))
    try:
        idle_rate = await idle_read_rate(markers)
        reads, started = await reads_processed(markers), time.perf_counter()
        await markers.get(f"{prefix}trace-start")
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            for n in range(creates):
                body = {"model": "sora-2", "prompt": f"a traced paper boat, take {n}"}
                reply = await client.post("/v1/videos", json=body, headers=headers)
                reply.raise_for_status()
        await markers.get(f"{prefix}trace-end")
        span_s = time.perf_counter() - started
        reads = await reads_processed(markers) - reads - 3 - round(idle_rate * span_s)  # markers, the second INFO
        output = await asyncio.wait_for(reading, timeout=120)
    finally:
        monitor.terminate()
        monitor.wait(timeout=10)
        await markers.aclose()
    output = output[next(i for i, line in enumerate(output) if f"{prefix}trace-start" in line) :]
    lines = [m.groups() for m in map(_MONITOR_LINE.match, output) if m and m.group(1) == db]
    ours = {peer for _, peer, _, rest in lines if prefix in rest} - {"lua"}
    by_command: collections.Counter[str] = collections.Counter()
    background: collections.Counter[str] = collections.Counter()
    for _, peer, command, rest in lines:
        if peer not in ours or "trace-" in rest:
            continue
        if show:
            print(peer, command, rest[:200], file=sys.stderr)
        (background if _BACKGROUND_KEYS.match(rest) else by_command)[command.upper()] += 1
    return Trips(creates=creates, by_command=dict(by_command), background=dict(background), reads=reads)


async def reads_processed(client: aioredis.Redis) -> int:
    """How many requests Redis has read from its clients so far (this call's own included)."""
    return int((await client.info("stats"))["total_reads_processed"])


async def idle_read_rate(client: aioredis.Redis, seconds: float = 2.0) -> float:
    """Requests Redis reads per second with the gateway idle (its loops' own, a pipeline counted once), over
    `seconds`: subtracted from a span's reads. MONITOR's per-command lines cannot tell a loop's pipeline apart."""
    before, started = await reads_processed(client), time.perf_counter()
    await asyncio.sleep(seconds)
    return (await reads_processed(client) - before - 1) / (time.perf_counter() - started)


def _lines_until(stream: IO[str], marker: str) -> list[str]:
    lines = []
    for line in stream:
        lines.append(line)
        if marker in line:
            break
    return lines


async def create_cpu(
    base_url: str, headers: dict[str, str], pid: int, *, duration_s: float, concurrency: int
) -> tuple[Figure, float]:
    """CPU per create under wrk, `concurrency` connections for `duration_s`, and Redis round trips per create in
    that run: requests Redis read over it, less the rate it reads with the gateway idle (its loops; measured over
    the 2 s before)."""
    counter = aioredis.Redis.from_url(REDIS_URL)
    url, body = f"{base_url}/v1/videos", msgspec.json.encode({"model": "sora-2", "prompt": "a paper boat on a pond"})
    sent = {**headers, "Content-Type": "application/json"}

    def load(seconds: float) -> WrkRun:
        return wrk(url, duration_s=seconds, connections=concurrency, headers=sent, method="POST", body=body)

    await asyncio.to_thread(load, 2)  # warm-up
    idle_rate = await idle_read_rate(counter)
    reads = await reads_processed(counter)
    before = tree_cpu_s(pid)
    run = await asyncio.to_thread(load, duration_s)
    if run.non_2xx or run.socket_errors:
        raise RuntimeError(f"creates failed under load: {run.non_2xx} non-2xx, socket errors {run.socket_errors}")
    figure = Figure(calls=run.answered, cpu_ms=(tree_cpu_s(pid) - before) * 1000, wall_s=run.seconds)
    reads = await reads_processed(counter) - reads - 1 - round(idle_rate * run.seconds)
    await counter.aclose()
    return figure, reads / run.answered


def report(
    args: argparse.Namespace, trips: Trips, create: Figure, loaded_trips: float, submit: Figure, loads: list[str]
) -> str:
    command = (
        f"`nice .venv/bin/python bench/create_cpu.py --creates {args.creates} --duration {args.duration:g}"
        f" --concurrency {args.concurrency}"
        f" --traced {args.traced} --label {shlex.quote(args.label)}`"
    )
    commands = ", ".join(f"{name} {count / trips.creates:g}" for name, count in sorted(trips.by_command.items()))
    background = ", ".join(f"{name} {count}" for name, count in sorted(trips.background.items())) or "none"
    net = create.per_call_ms - submit.per_call_ms
    return (
        "\n".join(
            [
                f"### create_cpu ({args.label}) - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
                "",
                f"Machine: {machine()}. Command: {command}. Load average (1, 5, 15 min) before each part:"
                f" {'; '.join(loads)}.",
                "",
                f"Redis round trips per create: **{trips.trips_per_create:g}** over {trips.creates} sequential"
                f" creates (requests Redis read, pipelines counted once), **{loaded_trips:.2f}** with"
                f" {args.concurrency} in flight (the CPU run below); commands per create: {trips.per_create:g}"
                f" ({commands}); the gateway's loops' own in that span: {background}.",
                "",
                "| path | calls | CPU ms per call | calls/s (wall) |",
                "|---|---:|---:|---:|",
                f"| `POST /v1/videos`, gateway process, upstream call included | {create.calls} |"
                f" {create.per_call_ms:.3f} | {create.per_s:.0f} |",
                f"| upstream submit (send path, in-process) | {submit.calls} | {submit.per_call_ms:.3f} | |",
                f"| `POST /v1/videos` without the upstream call (first row - submit) | {create.calls} | {net:.3f} | |",
            ]
        )
        + "\n"
    )


async def run(args: argparse.Namespace) -> str:
    key = os.environ[KEY_ENV] = "sk-bench-" + secrets.token_hex(8)
    client_key, prefix = "vgk_bench_" + secrets.token_urlsafe(16), f"vgbench:{secrets.token_hex(4)}:"
    headers = {"Authorization": f"Bearer {client_key}"}
    loads = [load_average()]
    with emulator(key) as openai_url:
        submit, _ = await send_path(
            openai_url, creates=args.creates, polls=0, concurrency=args.concurrency, option="gateway"
        )
        loads.append(load_average())
        try:
            async with gateway(openai_url, key, prefix, client_key) as (base_url, pid):
                trips = await round_trips(base_url, headers, prefix, creates=args.traced, show=args.show_commands)
                create, loaded_trips = await create_cpu(
                    base_url, headers, pid, duration_s=args.duration, concurrency=args.concurrency
                )
        finally:
            await drop_prefix(prefix)
    return report(args, trips, create, loaded_trips, submit, loads)


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"at least 1 create is traced, not {value}")
    return value


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of creates under wrk (the CPU run)")
    parser.add_argument("--concurrency", type=int, default=20, help="wrk's connections (and the submit's)")
    parser.add_argument("--traced", type=_at_least_one, default=10, help="sequential creates watched with MONITOR")
    parser.add_argument("--show-commands", action="store_true", help="print each traced command to stderr")
    parser.add_argument("--label", default="branch", help="what the run measures (a commit, an option)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    require_wrk()
    text = asyncio.run(run(args))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

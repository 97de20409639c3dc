"""CPU cost of the calls the gateway makes to a provider, on a process's own CPU clock, against the OpenAI emulator
run in an OS process of its own on loopback (so its CPU is never counted):

1. Send path: this process drives the gateway's real `openai` upstream (`build_upstreams` over the shared client
   `upstream_client()`, the gateway's metrics observer, the scrubber) - `--concurrency` calls in flight, CPU =
   `time.process_time()` over the run / calls, for submits and for status polls.
2. Create end to end: a gateway OS process (granian, one worker, Redis store) before the same emulator, loaded
   with `POST /v1/videos` from this process; CPU = the gateway's utime + stime (/proc, its process tree) over
   the run / creates. Its first poll is due after 600 s, so no poll falls in the run. Minus part 1's submit
   figure = the create's own CPU, excluding the upstream call. Only with `--client gateway` (the default): the
   gateway process always sends through its own client.

    .venv/bin/python bench/upstream_cpu.py [--polls 4000] [--creates 1000] [--concurrency 20] [--label main]

Prints Markdown and appends it, with the machine and the load average, to bench/RESULTS.md (--no-write skips)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import msgspec  # noqa: E402

from bench.status_poll import REDIS_URL, drop_prefix, free_port, machine, wait_ready, write_results  # noqa: E402
from gateway.auth import digest  # noqa: E402
from gateway.config import parse_settings  # noqa: E402
from gateway.metrics.registry import build_metrics  # noqa: E402
from gateway.upstreams import Upstream, build_upstreams  # noqa: E402
from providers.contract import GenerationRequest, Scene, UpstreamJob  # noqa: E402
from providers.transport import ignore_calls, upstream_client  # noqa: E402

KEY_ENV = "BENCH_OPENAI_KEY"
# The one model the OpenAI-emulator benches configure, on the `openai` provider (a format string, as the configs).
SORA_OFFERING = """
[models.sora-2]
[[models.sora-2.offerings]]
provider = "openai"
upstream_model = "sora-2"
price = {{ per_second_usd = 0.10 }}
[models.sora-2.offerings.capabilities]
modes = ["t2v"]
seconds = [4, 8, 12]
default_seconds = 4
sizes = ["720x1280", "1280x720"]
default_size = "720x1280"
"""
CONFIG = (
    """
default_model = "sora-2"
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
[providers.openai]
adapter = "openai"
base_url = "{openai_url}"
api_key_env = "{key_env}"
poll_interval_s = 600.0
"""
    + SORA_OFFERING
)


class Figure(msgspec.Struct, frozen=True, kw_only=True):
    calls: int
    cpu_ms: float
    wall_s: float

    @property
    def per_call_ms(self) -> float:
        return self.cpu_ms / self.calls

    @property
    def per_s(self) -> float:
        return self.calls / self.wall_s


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def emulator(key: str) -> Iterator[str]:
    """The OpenAI emulator in its own OS process; its clock runs 100x slower, so every job stays in flight."""
    with emulator_process(key, time_scale=100.0) as (origin, _):
        yield f"{origin}/v1"


@contextlib.contextmanager
def emulator_process(key: str, *, time_scale: float) -> Iterator[tuple[str, int]]:
    """The OpenAI emulator, as `python -m sandbox --serve` runs it, in an OS process of its own, its clock
    `time_scale` times slower: (its origin URL, its pid)."""
    port = free_port()
    argv = [sys.executable, "-m", "sandbox", "--serve", f"openai=127.0.0.1:{port}={KEY_ENV}"]
    argv += ["--time-scale", f"{time_scale:g}"]
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, KEY_ENV: key})  # noqa: S603 - fixed argv
    try:
        wait_ready(port, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


async def timed(calls: int, concurrency: int, call: Callable[[int], Awaitable[object]]) -> Figure:
    """`calls` calls, `concurrency` at a time, on this process's CPU clock."""
    queue = iter(range(calls))

    async def worker() -> None:
        for n in queue:
            await call(n)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Figure(calls=calls, cpu_ms=(time.process_time() - cpu) * 1000, wall_s=time.perf_counter() - wall)


def options_client(option: str) -> httpx.AsyncClient:
    """The shared client as the gateway builds it ("gateway"), or an option measured against it."""
    if option == "gateway":
        return upstream_client()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    if option == "httpx":  # httpcore's own pool, as before AiohttpPool
        return httpx.AsyncClient(limits=limits)
    if option == "aiohttp":  # httpx-aiohttp, installed by hand: not a project dependency
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=limits))
    if option.startswith("keepalive="):
        keep = int(option.partition("=")[2])
        return httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=keep))
    raise ValueError(f"unknown client option {option!r}")


def bench_upstream(openai_url: str, client: httpx.AsyncClient) -> Upstream:
    settings = parse_settings(
        CONFIG.format(
            port=0, redis_url=REDIS_URL, prefix="unused:", key_digest="0" * 64, openai_url=openai_url, key_env=KEY_ENV
        )
    )
    metrics = build_metrics(settings, [], clock=time.time)
    upstreams = build_upstreams(
        settings.providers, client, observe=metrics.observer(ignore_calls), capacity=lambda _: None
    )
    return upstreams["openai"]


async def send_path(
    openai_url: str, *, creates: int, polls: int, concurrency: int, option: str
) -> tuple[Figure, Figure]:
    """CPU per submit and per status poll through the gateway's own upstream, in this process."""
    async with options_client(option) as client:
        return await _send_path(
            bench_upstream(openai_url, client), creates=creates, polls=polls, concurrency=concurrency
        )


async def _send_path(upstream: Upstream, *, creates: int, polls: int, concurrency: int) -> tuple[Figure, Figure]:
    jobs: list[UpstreamJob] = []

    async def submit(n: int) -> None:
        scene = Scene(prompt=f"a paper boat on a pond, take {n}")
        request = GenerationRequest(upstream_model="sora-2", scenes=(scene,), seconds=4)
        jobs.append(await upstream.submit(request))

    await timed(concurrency, concurrency, submit)  # warm-up: connections opened, code paths loaded
    submits = await timed(creates, concurrency, submit)

    async def poll(n: int) -> None:
        await upstream.poll(jobs[n % len(jobs)])

    await timed(concurrency * 5, concurrency, poll)
    result = await timed(polls, concurrency, poll)
    return submits, result


def tree_cpu_s(pid: int) -> float:
    """utime + stime of `pid` and every process under it (granian's worker is a child process)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            parents[int(entry.name)] = int(fields[1])
            cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(member, 0.0) for member in tree)


@contextlib.asynccontextmanager
async def gateway(openai_url: str, openai_key: str, prefix: str, client_key: str) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        text = CONFIG.format(
            port=port,
            redis_url=REDIS_URL,
            prefix=prefix,
            key_digest=digest(client_key),
            openai_url=openai_url,
            key_env=KEY_ENV,
        )
        config.write_text(text, encoding="utf-8")
        argv = [sys.executable, "-m", "gateway.cli", "run", "--config", str(config)]
        env = {**os.environ, KEY_ENV: openai_key}
        process = subprocess.Popen(argv, cwd=ROOT, env=env)  # noqa: S603, ASYNC220 - started once, before timing
        try:
            await asyncio.to_thread(wait_ready, port, process)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            process.wait(timeout=15)


async def create_path(openai_url: str, openai_key: str, *, creates: int, concurrency: int) -> Figure:
    """The gateway process's CPU per `POST /v1/videos`, upstream call included."""
    client_key, prefix = "vgk_bench_" + secrets.token_urlsafe(16), f"vgbench:{secrets.token_hex(4)}:"
    headers = {"Authorization": f"Bearer {client_key}"}
    try:
        async with (
            gateway(openai_url, openai_key, prefix, client_key) as (base_url, pid),
            httpx.AsyncClient(base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=64)) as client,
        ):

            async def create(n: int) -> None:
                body = {"model": "sora-2", "prompt": f"a paper boat on a pond, take {n}"}
                reply = await client.post("/v1/videos", json=body, headers=headers)
                if reply.status_code not in (200, 202):
                    raise RuntimeError(f"create answered {reply.status_code}: {reply.text}")

            await timed(concurrency * 2, concurrency, create)
            before, started = tree_cpu_s(pid), time.perf_counter()
            await timed(creates, concurrency, create)
            wall_s = time.perf_counter() - started
            return Figure(calls=creates, cpu_ms=(tree_cpu_s(pid) - before) * 1000, wall_s=wall_s)
    finally:
        await drop_prefix(prefix)


def report(args: argparse.Namespace, submit: Figure, poll: Figure, create: Figure | None, loads: list[str]) -> str:
    command = (
        f"`nice .venv/bin/python bench/upstream_cpu.py --polls {args.polls} --creates {args.creates}"
        f" --concurrency {args.concurrency} --client {args.client} --label {shlex.quote(args.label)}`"
    )
    lines = [
        f"### upstream_cpu ({args.label}) - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: {command}. Load average (1, 5, 15 min) before each part: {'; '.join(loads)}.",
        "",
        "| path | calls | CPU ms per call | calls/s (wall) |",
        "|---|---:|---:|---:|",
        f"| upstream poll (send path, in-process) | {poll.calls} | {poll.per_call_ms:.3f} | {poll.per_s:.0f} |",
        f"| upstream submit (send path, in-process) | {submit.calls} | {submit.per_call_ms:.3f} | {submit.per_s:.0f} |",
    ]
    if create is not None:
        net = create.per_call_ms - submit.per_call_ms
        lines += [
            f"| `POST /v1/videos`, gateway process, upstream call included | {create.calls} |"
            f" {create.per_call_ms:.3f} | {create.per_s:.0f} |",
            f"| `POST /v1/videos` excluding the upstream call (row above - submit) | {create.calls} | {net:.3f} | |",
        ]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    key = os.environ[KEY_ENV] = "sk-bench-" + secrets.token_hex(8)  # read by the emulator and both gateways
    loads = [load_average()]
    with emulator(key) as openai_url:
        submit, poll = await send_path(
            openai_url, creates=args.creates, polls=args.polls, concurrency=args.concurrency, option=args.client
        )
        create = None
        if args.creates and args.client == "gateway":  # the gateway process always uses its own client
            loads.append(load_average())
            create = await create_path(openai_url, key, creates=args.creates, concurrency=args.concurrency)
    return report(args, submit, poll, create, loads)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=4000)
    parser.add_argument("--creates", type=int, default=1000, help="submits, and creates on a gateway process (>= 1)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--client",
        default="gateway",
        help="gateway (its own client), httpx (httpcore pool), aiohttp (httpx-aiohttp), keepalive=N",
    )
    parser.add_argument("--label", default="branch", help="what the run measures (a commit, an option)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    text = asyncio.run(run(args))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

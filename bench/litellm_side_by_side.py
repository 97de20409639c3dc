"""Creates/s of the gateway (through its OpenAI-compatible provider `openai`) and of LiteLLM proxy, in one run on
one machine, both before the same OpenAI emulator (its own OS process on loopback) and loaded by the same client:
wrk (`apt-get install wrk`; `--client python` for this process's httpx instead) keeping `--connections`
concurrent `POST /v1/videos` for `--duration` seconds each, after a warm-up. wrk costs a few per cent of a core,
where httpx cost most of one: the servers, not the client, set the figures.
Also each server's CPU per create (its process tree's utime + stime from /proc).

LiteLLM is not a project dependency: install it into a separate venv and pass its `litellm` command, e.g.
    python3 -m venv /tmp/litellm-venv && /tmp/litellm-venv/bin/pip install 'litellm[proxy]'
    nice .venv/bin/python bench/litellm_side_by_side.py --litellm /tmp/litellm-venv/bin/litellm [--duration 15]

Its config is generated here (one model, the emulator as `api_base`, a master key); it runs offline
(`LITELLM_LOCAL_MODEL_COST_MAP`, telemetry off), one worker, as the gateway does."""

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

import msgspec  # noqa: E402

from bench.status_poll import drop_prefix, free_port, machine, wait_ready, write_results  # noqa: E402
from bench.upstream_cpu import KEY_ENV, emulator, gateway, load_average, tree_cpu_s  # noqa: E402
from bench.wrk import require_wrk, wrk  # noqa: E402
from providers.transport import upstream_client  # noqa: E402

LITELLM_CONFIG = """model_list:
  - model_name: sora-2
    litellm_params:
      model: openai/sora-2
      api_base: {openai_url}
      api_key: os.environ/{key_env}
general_settings:
  master_key: {master_key}
litellm_settings:
  telemetry: false
"""
BODY = {"model": "sora-2", "prompt": "a paper boat on a pond"}


class Load(msgspec.Struct, frozen=True, kw_only=True):
    server: str
    creates: int
    failures: int
    seconds: float
    cpu_s: float
    first_error: str | None

    @property
    def per_s(self) -> float:
        return self.creates / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / max(1, self.creates)


@contextlib.asynccontextmanager
async def litellm(command: str, openai_url: str, master_key: str) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "litellm.yaml"
        text = LITELLM_CONFIG.format(openai_url=openai_url, key_env=KEY_ENV, master_key=master_key)
        config.write_text(text, encoding="utf-8")
        argv = [command, "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False"}
        log = (Path(tmp) / "litellm.log").open("wb")
        process = subprocess.Popen(argv, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603, ASYNC220
        try:
            await asyncio.to_thread(_wait_started, port, process)
            yield f"http://127.0.0.1:{port}", process.pid
        except RuntimeError as exc:
            log.close()
            raise RuntimeError(f"{exc}: {(Path(tmp) / 'litellm.log').read_text()[-2000:]}") from exc
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _wait_started(port: int, process: subprocess.Popen[bytes]) -> None:
    """LiteLLM's proxy imports for a minute or more on a loaded machine: `wait_ready`'s bound, up to four times."""
    for attempt in range(4):
        try:
            wait_ready(port, process)
            return
        except RuntimeError:
            if attempt == 3 or process.poll() is not None:
                raise


async def load(server: str, base_url: str, pid: int, key: str, *, args: argparse.Namespace) -> Load:
    """`args.connections` connections creating videos back to back for `args.duration` s, after a 3 s warm-up:
    from wrk (a C client, a few per cent of a core, so the two servers get the rest of the machine) or, with
    `--client python`, from this process's httpx."""
    if args.client == "wrk":
        return await asyncio.to_thread(_wrk_load, server, base_url, pid, key, args.duration, args.connections)
    headers = {"Authorization": f"Bearer {key}"}
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []
    async with upstream_client() as client:

        async def loop(until: float, counting: bool) -> None:
            while time.perf_counter() < until:
                reply = await client.post(f"{base_url}/v1/videos", json=BODY, headers=headers, timeout=60)
                ok = reply.status_code in (200, 201, 202)
                if counting:
                    counts["ok" if ok else "failed"] += 1
                if not ok and not errors:
                    errors.append(f"{reply.status_code} {reply.text[:300]}")

        warm = time.perf_counter() + 3.0
        await asyncio.gather(*(loop(warm, counting=False) for _ in range(args.connections)))
        cpu, started = tree_cpu_s(pid), time.perf_counter()
        await asyncio.gather(*(loop(started + args.duration, counting=True) for _ in range(args.connections)))
        seconds = time.perf_counter() - started
    return Load(
        server=server,
        creates=counts["ok"],
        failures=counts["failed"],
        seconds=seconds,
        cpu_s=tree_cpu_s(pid) - cpu,
        first_error=errors[0] if errors else None,
    )


def _wrk_load(server: str, base_url: str, pid: int, key: str, duration_s: float, connections: int) -> Load:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    url, body = f"{base_url}/v1/videos", msgspec.json.encode(BODY)
    wrk(url, duration_s=3, connections=connections, headers=headers, method="POST", body=body)  # warm-up
    cpu = tree_cpu_s(pid)
    run = wrk(url, duration_s=duration_s, connections=connections, headers=headers, method="POST", body=body)
    cpu_s = tree_cpu_s(pid) - cpu
    return Load(
        server=server,
        creates=run.answered,
        failures=run.non_2xx,
        seconds=run.seconds,
        cpu_s=cpu_s,
        first_error=None if run.socket_errors is None else f"wrk socket errors: {run.socket_errors}",
    )


def report(args: argparse.Namespace, loads: list[Load], averages: list[str], version: str) -> str:
    command = (
        f"`nice .venv/bin/python bench/litellm_side_by_side.py --litellm {args.litellm} --duration {args.duration:g}"
        f" --connections {args.connections} --client {args.client}`"
    )
    lines = [
        f"### litellm_side_by_side - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: {command}. {version}. Load average (1, 5, 15 min) before each server:"
        f" {'; '.join(averages)}.",
        "",
        "| server | creates/s | creates | non-2xx | server CPU ms per create |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in loads:
        lines.append(f"| {row.server} | {row.per_s:.1f} | {row.creates} | {row.failures} | {row.cpu_ms:.2f} |")
    ours, theirs = loads[0], loads[-1]
    if len(loads) == 2 and theirs.per_s > 0:
        lines += ["", f"Ratio: the gateway creates {ours.per_s / theirs.per_s:.1f}x LiteLLM's creates/s."]
    lines += [f"\nFirst error from {row.server}: `{row.first_error}`" for row in loads if row.first_error]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> str:
    key = os.environ[KEY_ENV] = "sk-bench-" + secrets.token_hex(8)
    client_key, master_key = "vgk_bench_" + secrets.token_urlsafe(16), "sk-master-" + secrets.token_hex(8)
    prefix = f"vgbench:{secrets.token_hex(4)}:"
    version = (
        subprocess.run(  # noqa: ASYNC221, S603 - before timing
            [
                str(Path(args.litellm).parent / "python"),
                "-c",
                "import litellm, importlib.metadata as m;print('LiteLLM', m.version('litellm'))",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        or "LiteLLM version unknown"
    )
    loads, averages = [], []
    with emulator(key) as openai_url:
        try:
            averages.append(f"gateway {load_average()}")
            async with gateway(openai_url, key, prefix, client_key) as (base_url, pid):
                loads.append(
                    await load(
                        "video-gateway (granian, Redis store, provider `openai`)",
                        base_url,
                        pid,
                        client_key,
                        args=args,
                    )
                )
        finally:
            await drop_prefix(prefix)
        averages.append(f"LiteLLM {load_average()}")
        async with litellm(args.litellm, openai_url, master_key) as (base_url, pid):
            loads.append(
                await load(
                    "LiteLLM proxy (1 worker, no DB)",
                    base_url,
                    pid,
                    master_key,
                    args=args,
                )
            )
    return report(args, loads, averages, version)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--litellm", required=True, help="the `litellm` command of a separate venv")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk", help="the load generator")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.client == "wrk":
        require_wrk()  # or --client python
    text = asyncio.run(run(args))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

"""How the gateway's Redis load spreads over a Redis Cluster: a three-primary cluster (started as the tests start
it, `tests/redis_cluster.py`), a gateway OS process on its `redis+cluster://` URL in front of a Vidgen emulator,
a steady stream of creates followed to completion; meanwhile MONITOR on every primary counts each command by the
key family it names (and so the slot or slots it lands on), both the commands clients send and the ones the
gateway's Lua scripts run inside Redis. The table shows what share of the load each family, and each primary,
carries: the figures behind the slot design in docs/architecture.md ("Redis keys and hash slots").

    .venv/bin/python bench/cluster_load.py [--jobs 200] [--rate 20]

Prints Markdown and appends it, with the machine, to bench/RESULTS.md (use --no-write to skip)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402

from bench.retention_soak import gateway  # noqa: E402
from bench.status_poll import machine, write_results  # noqa: E402
from sandbox.serving import serve_app  # noqa: E402
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator  # noqa: E402
from tests.redis_cluster import redis_cluster  # noqa: E402

# `job:{poll-07}video_...` -> `job:{poll-NN}`; `usage:{usage}:hold:...` -> `usage:{usage}`; `speed` -> `speed`.
_FAMILY = re.compile(r"([a-z_]+)(?::?(\{[^}]*\}))?")


class Tally:
    """Commands seen by MONITOR on each primary, by key family: sent by clients, and run inside scripts."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.sent: collections.Counter[str] = collections.Counter()
        self.scripted: collections.Counter[str] = collections.Counter()
        self.by_node: collections.Counter[int] = collections.Counter()
        self.stop = threading.Event()

    def family(self, command: str) -> str | None:
        at = command.find(self.prefix)
        if at < 0:
            return None
        found = _FAMILY.match(command, at + len(self.prefix))
        if found is None:
            return None
        name, tag = found.group(1), found.group(2)
        return name if tag is None else f"{name}:{re.sub(r'-[0-9]+', '-NN', tag)}"

    def watch(self, port: int) -> None:
        with redis.Redis(port=port).monitor() as monitor:
            for seen in monitor.listen():
                if self.stop.is_set():
                    return
                family = self.family(seen["command"])
                if family is None:
                    continue
                (self.scripted if seen.get("client_type") == "lua" else self.sent)[family] += 1
                self.by_node[port] += 1


async def load(url: str, tally: Tally, args: argparse.Namespace) -> float:
    """Creates at `rate` until `jobs`, then waits for them all to finish; the seconds it took."""
    vidgen_key, client_key = "sbx_" + secrets.token_hex(8), "vgk_bench_" + secrets.token_urlsafe(16)
    emulator = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.2, run_s=1.0)
    headers = {"Authorization": f"Bearer {client_key}"}
    async with (
        serve_app(create_vidgen_emulator(emulator)) as vidgen_url,
        gateway(vidgen_url, vidgen_key, tally.prefix, client_key, 3600.0, redis_url=url) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        started = time.monotonic()
        ids: list[str] = []
        while len(ids) < args.jobs:
            reply = await client.post(
                "/v1/videos", json={"model": "scenex", "prompt": f"load {len(ids)}"}, headers=headers
            )
            if reply.status_code == 202:
                ids.append(reply.json()["id"])
            await asyncio.sleep(max(0.0, started + len(ids) / args.rate - time.monotonic()))
        for video_id in ids:
            await finished(client, video_id, headers)
        return time.monotonic() - started


async def finished(client: httpx.AsyncClient, video_id: str, headers: dict[str, str]) -> None:
    for _ in range(1200):  # bounded: a job that never finishes ends the bench with an error
        video = (await client.get(f"/v1/videos/{video_id}", headers=headers)).json()
        if video["status"] in ("completed", "failed", "cancelled"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{video_id} did not finish")


def report(tally: Tally, ports: list[int], seconds: float, args: argparse.Namespace) -> str:
    sent_total, scripted_total = sum(tally.sent.values()), sum(tally.scripted.values())
    lines = [
        f"### cluster_load - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"`.venv/bin/python bench/cluster_load.py --jobs {args.jobs} --rate {args.rate:g}` on {machine()}: "
        f"{args.jobs} Vidgen jobs (about 1.2 s each on the emulator, polled every 0.2 s) in {seconds:.0f} s, a "
        "gateway process on three cluster primaries. Commands under the run's prefix, by key family, as MONITOR "
        "saw them on the primaries: sent by the gateway, and run inside its Lua scripts.",
        "",
        "| key family | slots | sent | share | in scripts | share |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for family in sorted(set(tally.sent) | set(tally.scripted), key=lambda f: -(tally.sent[f] + tally.scripted[f])):
        slots = "16" if "-NN}" in family else "1 per key"
        slots = "1" if family in ("usage:{usage}", "speed") else slots
        sent, scripted = tally.sent[family], tally.scripted[family]
        lines.append(
            f"| `{family}` | {slots} | {sent} | {100 * sent / sent_total:.1f}% | {scripted} "
            f"| {100 * scripted / max(1, scripted_total):.1f}% |"
        )
    per_node = ", ".join(f"{100 * tally.by_node[p] / max(1, sum(tally.by_node.values())):.0f}%" for p in ports)
    lines += ["", f"Share of all those commands per primary: {per_node}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="creates per second")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = parser.parse_args()
    tally = Tally(f"vgbench:{secrets.token_hex(4)}:")
    with tempfile.TemporaryDirectory() as tmp, redis_cluster(Path(tmp)) as url:
        ports = [int(node.rpartition(":")[2]) for node in url.removeprefix("redis+cluster://").split(",")]
        watchers = [threading.Thread(target=tally.watch, args=(port,), daemon=True) for port in ports]
        for watcher in watchers:
            watcher.start()
        seconds = asyncio.run(load(url, tally, args))
        tally.stop.set()
        for port in ports:  # one more command each, so every watcher sees the stop
            redis.Redis(port=port).ping()
    text = report(tally, ports, seconds, args)
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

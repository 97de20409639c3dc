"""A Sentinel-managed Redis the test owns: one primary, one replica (`--replicaof`) and three sentinels (quorum 2,
a primary is down after 1 s), each a `redis-server` process on a free loopback port under the test's tmp dir.
Every process is killed on exit, also when the test fails; every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis

from tests.e2e.processes import free_port

SERVICE = "vgprimary"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise AssertionError("redis-server is not installed: `.ci/ensure-redis` installs it (Debian: redis-server)")
    return binary


class SentinelGroup:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.binary = redis_server_binary()
        self.primary_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: set[str] = set()

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def _start(self, name: str, argv: list[str]) -> None:
        with (self.workdir / f"{name}.out").open("wb") as out:
            self.processes[name] = subprocess.Popen(  # noqa: S603 - the installed redis-server
                [self.binary, *argv], stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir
            )

    def _data_node(self, name: str, port: int, *extra: str) -> None:
        node_dir = self.workdir / name
        node_dir.mkdir()
        self._start(
            name,
            [
                "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"),
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0", *extra,
            ],
        )  # fmt: skip

    def _sentinel(self, index: int, port: int) -> None:
        node_dir = self.workdir / f"sentinel-{index}"
        node_dir.mkdir()
        conf = node_dir / "sentinel.conf"  # a sentinel rewrites its config file: one each, writable
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {node_dir}\nlogfile {node_dir / 'sentinel.log'}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        self._start(f"sentinel-{index}", [str(conf), "--sentinel"])

    async def start(self) -> None:
        self._data_node("primary", self.primary_port)
        self._data_node("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        await self._until(self._replica_in_sync, "the replica to sync with the primary")
        for index, port in enumerate(self.sentinel_ports):
            self._sentinel(index, port)
        await self._until(self._sentinels_ready, "the sentinels to see each other and the replica")

    async def _until(self, check: Callable[[], Awaitable[bool]], what: str, *, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if name not in self.killed and process.poll() is not None:
                    raise AssertionError(f"{name} exited with {process.returncode} while waiting for {what}")
            with contextlib.suppress(OSError, aioredis.RedisError):
                if await check():
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; logs under {self.workdir}")

    async def _replica_in_sync(self) -> bool:
        async with aioredis.Redis(port=self.replica_port, socket_timeout=1) as replica:
            info = await replica.info("replication")
        return info.get("master_link_status") == "up"

    async def _sentinels_ready(self) -> bool:
        for port in self.sentinel_ports:
            async with aioredis.Redis(port=port, socket_timeout=1) as sentinel:
                state = await sentinel.sentinel_master(SERVICE)
            if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                return False
        return True

    async def primary_port_now(self) -> int | None:
        """The primary's port as a sentinel names it now (the first that answers)."""
        for port in self.sentinel_ports:
            with contextlib.suppress(OSError, aioredis.RedisError):
                async with aioredis.Redis(port=port, socket_timeout=1) as sentinel:
                    address = await sentinel.sentinel_get_master_addr_by_name(SERVICE)
                if address:
                    return int(address[1])
        return None

    async def wait_promoted(self, *, timeout_s: float = 20.0) -> float:
        """Wait until the sentinels name the replica as the primary and it takes writes; returns when (monotonic)."""

        async def promoted() -> bool:
            if await self.primary_port_now() != self.replica_port:
                return False
            async with aioredis.Redis(port=self.replica_port, socket_timeout=1) as node:
                return (await node.info("replication")).get("role") == "master"

        await self._until(promoted, "the sentinels to promote the replica", timeout_s=timeout_s)
        return time.monotonic()

    def kill(self, name: str) -> None:
        process = self.processes[name]
        self.killed.add(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


@contextlib.asynccontextmanager
async def sentinel_group(workdir: Path) -> AsyncIterator[SentinelGroup]:
    group = SentinelGroup(workdir)
    try:
        await group.start()
        yield group
    finally:
        group.stop()

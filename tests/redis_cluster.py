"""A three-primary Redis Cluster the test session owns: three `redis-server --cluster-enabled yes` on free loopback
ports (each with its own bus port) under a tmp dir, joined by `redis-cli --cluster create --cluster-yes`. Every
process is killed on exit, also when the start fails; every wait is bounded."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

PRIMARIES = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed: `.ci/ensure-redis` installs it (Debian: redis-server)")
    return found


def _cluster_ok(port: int) -> bool:
    with contextlib.suppress(OSError, redis.RedisError):
        client = redis.Redis(port=port, socket_timeout=1)
        try:
            info = client.execute_command("CLUSTER INFO")
        finally:
            client.close()
        text = info.decode() if isinstance(info, bytes) else str(info)
        return "cluster_state:ok" in text.replace("'", "").replace(": ", ":") and "16384" in text
    return False


@contextlib.contextmanager
def redis_cluster(workdir: Path, *, timeout_s: float = 20.0) -> Iterator[str]:
    """Yields the `redis+cluster://` URL of a fresh cluster; stops every node on exit."""
    server = _binary("redis-server")
    ports = [free_port() for _ in range(PRIMARIES)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port in ports:
            node_dir = workdir / f"node-{port}"
            node_dir.mkdir()
            argv = [
                server, "--port", str(port), "--cluster-port", str(free_port()), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log"),
            ]  # fmt: skip
            processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))  # noqa: S603
        deadline = time.monotonic() + timeout_s
        for port in ports:
            while not _answers(port):
                if time.monotonic() > deadline:
                    raise AssertionError(f"cluster node on {port} did not start; logs under {workdir}")
                time.sleep(0.05)
        create = [_binary("redis-cli"), "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports), "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=timeout_s)  # noqa: S603
        while not all(_cluster_ok(port) for port in ports):
            if time.monotonic() > deadline:
                raise AssertionError(f"the cluster did not reach state ok; logs under {workdir}")
            time.sleep(0.1)
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait(timeout=10)


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError, redis.RedisError):
        client = redis.Redis(port=port, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    return False

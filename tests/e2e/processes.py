"""Gateway OS processes for multi-replica tests: `video-gateway run` (uvicorn, one process, so SIGKILL kills the
whole replica) on a config file the test writes, against emulators and Redis the test owns."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx

from gateway.auth import digest
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def process_config(settings_text: str, *, port: int) -> str:
    """The test's settings (no `[server]` or `[[keys]]` of their own) plus a server port and the test keys."""
    return f"""{settings_text}
[server]
host = "127.0.0.1"
port = {port}

[[keys]]
id = "key-a"
team = "team-a"
scopes = ["videos", "usage", "admin"]
sha256 = "{digest(TEAM_A_KEY)}"

[[keys]]
id = "key-b"
team = "team-b"
scopes = ["videos"]
sha256 = "{digest(TEAM_B_KEY)}"
"""


class GatewayProcess:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, leases and in-flight work are simply abandoned."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.asynccontextmanager
async def gateway_process(
    settings_text: str, *, workdir: Path, env: Mapping[str, str], name: str = "gateway", server: str = "uvicorn"
) -> AsyncIterator[GatewayProcess]:
    """Start one replica (under `server`) and wait until `/healthz` answers; terminate it (if still alive) on exit."""
    port = free_port()
    config = workdir / f"{name}.toml"
    config.write_text(process_config(settings_text, port=port))
    log_path = workdir / f"{name}.log"
    argv = [sys.executable, "-m", "gateway.cli", "run", "--server", server, "--config", str(config)]
    process = _spawn(argv, log_path, env)
    replica = GatewayProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        await _wait_healthy(replica)
        yield replica
    finally:
        if process.poll() is None:
            process.terminate()
            # Waited for off the loop: the in-process emulators on this loop keep answering while it shuts down.
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 5)


def _spawn(argv: list[str], log_path: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            argv, stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )


async def _wait_healthy(replica: GatewayProcess) -> None:
    async with httpx.AsyncClient(base_url=replica.url, timeout=1) as client:
        for _ in range(300):
            if replica.process.poll() is not None:
                raise AssertionError(f"gateway exited with {replica.process.returncode}:\n{replica.log()}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise AssertionError(f"gateway did not become healthy:\n{replica.log()}")


def on_shared_redis(settings_text: str, *, redis_url: str, prefix: str) -> str:
    """The settings with a `[store]` on Redis under `prefix` (inserted before the first provider table)."""
    store = f'\n[store]\nbackend = "redis"\nredis_url = "{redis_url}"\nkey_prefix = "{prefix}"\n'
    return settings_text.replace("[providers.", store + "[providers.", 1)

"""`video-gateway` as a user runs it, in its own process: `--version`, help on every flag, each start-up or client
failure one line on stderr with exit status 2 (no env var, bad config, port in use, gateway down, refusal), the
sandbox's made-up webhook secret and its loopback delivery, and `probe`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from gateway.cli import build_parser
from gateway.config import load_settings
from sandbox.serving import serve_app
from tests.conftest import EXAMPLE_CONFIG, GatewayFactory, eventually, gateway_settings, gateway_settings_text
from tests.e2e.processes import free_port
from tests.gateway.webhooks.conftest import Receiver, verify

# Every variable the example config names: a start-up test must not find them in the developer's environment.
EXAMPLE_ENV = [p.api_key_env for p in load_settings(EXAMPLE_CONFIG).providers.values()]
EXAMPLE_ENV += ["VIDEO_GATEWAY_SANDBOX_KEY", "VIDEO_GATEWAY_SANDBOX_WEBHOOK_SECRET", "VIDEO_GATEWAY_SANDBOX"]
EXAMPLE_ENV += ["VIDEO_GATEWAY_HOST", "VIDEO_GATEWAY_PORT", "VIDEO_GATEWAY_CONFIG", "VIDEO_GATEWAY_URL"]


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV} | extra


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env or _env(), timeout=60, check=False)  # noqa: S603


def _one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    """Exit status 2 and one line on stderr, no traceback: that line."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_version_prints_the_package_version() -> None:
    """`--version` prints the distribution's version (pyproject.toml) and exits 0."""
    done = _cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == "video-gateway 0.1.0"


def _flags_without_help(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _flags_without_help(sub, f"{path} {name}")
        elif not action.help:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def test_every_flag_of_every_command_has_help() -> None:
    """A walk of the argparse tree finds no argument, optional or positional, without help text."""
    assert list(_flags_without_help(build_parser(), "video-gateway")) == []


def test_a_missing_environment_variable_is_one_line_naming_each() -> None:
    """`run` without the variables the config names stops before spawning a server, naming every one."""
    line = _one_line_failure(_cli("run", "--config", EXAMPLE_CONFIG, "--port", str(free_port())))
    assert line.startswith("video-gateway: configuration error: environment variable not set:")
    assert "VIDGEN_API_KEY (providers.vidgen.api_key_env)" in line
    assert "VIDEO_GATEWAY_SANDBOX_KEY (keys[sandbox].key_env)" in line


def test_a_server_worker_that_cannot_start_says_why_in_one_line() -> None:
    """The ASGI factory a server worker calls: a config it cannot read is one line and exit status 2."""
    argv = [sys.executable, "-c", "from gateway.asgi import app; app()"]
    env = _env(VIDEO_GATEWAY_CONFIG="/nonexistent/gateway.toml")
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)  # noqa: S603
    line = _one_line_failure(done)
    assert (
        line == "video-gateway: configuration error: /nonexistent/gateway.toml: cannot read: No such file or directory"
    )


def test_a_bad_config_is_one_line_naming_the_key(tmp_path: Path) -> None:
    """A config with a wrongly typed key is one line naming the file and the key's path."""
    config = tmp_path / "gateway.toml"
    config.write_text('[server]\nport = "eighty"\n')
    line = _one_line_failure(_cli("run", "--config", str(config)))
    assert line.startswith(f"video-gateway: configuration error: {config}")
    assert "$.server.port" in line


def test_a_port_that_is_not_a_number_is_one_line() -> None:
    """`VIDEO_GATEWAY_PORT` that is not a number is named, not a traceback."""
    line = _one_line_failure(_cli("run", "--config", EXAMPLE_CONFIG, env=_env(VIDEO_GATEWAY_PORT="http")))
    assert line == "video-gateway: VIDEO_GATEWAY_PORT must be a port number, not 'http'"


@contextlib.contextmanager
def _listening(port: int) -> Iterator[None]:
    """A listener on the port with SO_REUSEPORT, as granian binds: a second granian would bind beside it."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        yield


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_second_instance_on_a_port_in_use_fails_and_says_so(how: str) -> None:
    """`run` on a port another server listens on (by `--port` or `VIDEO_GATEWAY_PORT`) fails naming it."""
    port = free_port()
    args, env = (["--port", str(port)], _env()) if how == "flag" else ([], _env(VIDEO_GATEWAY_PORT=str(port)))
    with _listening(port):
        line = _one_line_failure(_cli("run", "--sandbox", "--config", EXAMPLE_CONFIG, *args, env=env))
    assert line.startswith(f"video-gateway: cannot listen on 127.0.0.1:{port} for the gateway: Address already in use")


def _sandbox_config(tmp_path: Path, ports: dict[str, int]) -> Path:
    """The example config with every emulator on the given loopback ports and webhook retries kept short."""
    text = Path(EXAMPLE_CONFIG).read_text()
    for slug, provider in load_settings(EXAMPLE_CONFIG).providers.items():
        old = provider.base_url.partition("//")[2].partition("/")[0]
        assert f'base_url = "{provider.base_url}"' in text
        text = text.replace(
            f'base_url = "{provider.base_url}"',
            f'base_url = "{provider.base_url.replace(old, f"127.0.0.1:{ports[slug]}")}"',
        )
    text = text.replace("[webhooks]\n", "[webhooks]\ntick_s = 0.05\n", 1)
    config = tmp_path / "gateway.toml"
    config.write_text(text)
    return config


def test_a_sandbox_emulator_port_in_use_fails_and_says_so(tmp_path: Path) -> None:
    """`run --sandbox` with an emulator's port taken names that emulator and its address."""
    ports = {slug: free_port() for slug in load_settings(EXAMPLE_CONFIG).providers}
    config = _sandbox_config(tmp_path, ports)
    with _listening(ports["fal"]):
        line = _one_line_failure(_cli("run", "--sandbox", "--config", str(config), "--port", str(free_port())))
    assert line.startswith(f"video-gateway: cannot listen on 127.0.0.1:{ports['fal']} for the fal emulator:")


@pytest.mark.parametrize(
    "args",
    [
        ["usage", "--records", "--csv"],
        ["routing", "explain", "--file", "BODY"],
        ["keys", "list"],
        ["export"],
    ],
)
def test_a_client_command_against_a_gateway_that_is_down_is_one_line(args: list[str], tmp_path: Path) -> None:
    """Every client command reads the URL from `VIDEO_GATEWAY_URL` and the key from `VIDEO_GATEWAY_KEY`; with
    nothing listening there it prints one line naming the URL, exit status 2."""
    body = tmp_path / "create.json"
    body.write_text('{"model": "scenex", "prompt": "a fox"}')
    url = f"http://127.0.0.1:{free_port()}"
    argv = [str(body) if arg == "BODY" else arg for arg in args]
    line = _one_line_failure(_cli(*argv, env=_env(VIDEO_GATEWAY_URL=url, VIDEO_GATEWAY_KEY="vgk_test")))
    assert line.startswith(f"video-gateway: cannot reach the gateway at {url}: ")


def test_a_client_command_without_its_key_is_one_line() -> None:
    """No key in the variable `--key-env` names: one line naming that variable."""
    line = _one_line_failure(_cli("usage", "--key-env", "VG_NO_SUCH_KEY"))
    assert line.startswith("video-gateway: set VG_NO_SUCH_KEY to a gateway key")


class SandboxRun(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    key: str
    secret: str


@contextlib.contextmanager
def _sandbox_run(tmp_path: Path) -> Iterator[SandboxRun]:
    """`video-gateway run --sandbox` in its own process group on free ports, read until its banner is printed."""
    ports = {slug: free_port() for slug in load_settings(EXAMPLE_CONFIG).providers}
    config, port = _sandbox_config(tmp_path, ports), free_port()
    argv = [sys.executable, "-m", "gateway.cli", "run", "--sandbox", "--config", str(config), "--port", str(port)]
    argv += ["--time-scale", "0.02"]
    process = subprocess.Popen(  # noqa: S603
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(), start_new_session=True
    )
    try:
        banner = _read_banner(process)
        key = re.search(r"API key \(this run only\): +(\S+)", banner)
        secret = re.search(r"Webhook signing secret \(this run only\): +(whsec_\S+)", banner)
        assert key, banner
        assert secret, banner
        yield SandboxRun(url=f"http://127.0.0.1:{port}", key=key[1], secret=secret[1])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if "docs/api.md, Webhooks" in line:
            return "".join(lines)
    raise AssertionError("".join(lines))


async def test_the_sandbox_makes_up_a_webhook_secret_and_delivers_to_loopback(tmp_path: Path) -> None:
    """`run --sandbox` prints a signing secret for the sandbox team; a create naming a loopback receiver is
    accepted, and the final Video arrives there signed with that secret."""
    receiver = Receiver()
    async with contextlib.AsyncExitStack() as stack:
        hook_base = await stack.enter_async_context(serve_app(receiver.app()))
        run = stack.enter_context(_sandbox_run(tmp_path))
        headers = {"Authorization": f"Bearer {run.key}"}
        client = await stack.enter_async_context(httpx.AsyncClient(base_url=run.url, headers=headers))
        await eventually(lambda: _healthy(client), timeout_s=30)
        body = {"model": "scenex", "prompt": "a lighthouse", "webhook": {"url": f"{hook_base}/hook"}}
        reply = await client.post("/v1/videos", json=body)
        assert reply.status_code == 202, reply.text
        await eventually(lambda: _received(receiver), timeout_s=30)
    (call,) = receiver.calls
    assert verify(run.secret, call.headers, call.body)
    assert json.loads(call.body)["id"] == reply.json()["id"]


async def _healthy(client: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return (await client.get("/healthz")).status_code == 200
    return False


async def _received(receiver: Receiver) -> bool:
    return len(receiver.calls) == 1


async def test_probe_follows_the_configured_port_and_the_env_override(
    vidgen_url: str, serve_gateway: GatewayFactory, tmp_path: Path
) -> None:
    """`probe` exits 0 against a gateway on the port in the config or in `VIDEO_GATEWAY_PORT` (which wins), and 1
    with one line where nothing listens or the config cannot be read."""
    async with serve_gateway(gateway_settings(vidgen_url)) as url:
        port = url.rpartition(":")[2]
        config = tmp_path / "gateway.toml"
        config.write_text(gateway_settings_text(vidgen_url) + f"\n[server]\nport = {port}\n")
        from_config = await asyncio.to_thread(_cli, "probe", "--config", str(config))
        closed = str(free_port())
        from_env = await asyncio.to_thread(_cli, "probe", "--config", EXAMPLE_CONFIG, env=_env(VIDEO_GATEWAY_PORT=port))
        down = await asyncio.to_thread(_cli, "probe", "--config", str(config), env=_env(VIDEO_GATEWAY_PORT=closed))
    no_config = await asyncio.to_thread(_cli, "probe", "--config", "/nonexistent/gateway.toml")
    assert (from_config.returncode, from_env.returncode) == (0, 0), (from_config.stderr, from_env.stderr)
    assert (down.returncode, no_config.returncode) == (1, 1)  # Docker reserves 2
    assert no_config.stderr.startswith("video-gateway: /nonexistent/gateway.toml: cannot read")
    assert down.stderr.splitlines() == [
        f"video-gateway: http://127.0.0.1:{closed}/healthz: [Errno 111] Connection refused"
    ]

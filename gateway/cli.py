"""`video-gateway`: run the gateway (optionally on the sandbox emulators), check a config, probe a running gateway,
dump the OpenAPI document, make keys, ask a running gateway for its routing plan or its usage report, and change
its control plane (gateway/admin_cli.py). Every failure is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from gateway import admin_cli
from gateway.auth import digest, new_key
from gateway.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    HOST_ENV,
    PORT_ENV,
    SANDBOX_ENV,
    SANDBOX_WEBHOOK_SECRET_ENV,
    ConfigError,
    Settings,
    load_settings,
    sandbox_settings,
)

_CONFIG_HELP = f"the TOML config file (env {CONFIG_ENV}; default {DEFAULT_CONFIG})"


class Failure(Exception):
    """A start-up or client failure: the message is the one line the user sees."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"video-gateway: configuration error: {exc}", file=sys.stderr)
    except (Failure, admin_cli.Refused) as exc:
        print(f"video-gateway: {exc}", file=sys.stderr)
    except OSError as exc:  # a file named on the command line that cannot be read
        print(f"video-gateway: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
    except ValueError as exc:  # a request file that is not JSON
        print(f"video-gateway: {exc}", file=sys.stderr)
    return 2


def _dispatch(args: argparse.Namespace) -> int:
    match args.command:
        case "run":
            return _run(args)
        case "openapi":
            return _openapi(args.config)
        case "routing" if args.routing == "explain":
            return _explain(args)
        case "routing" | "apply" | "export" | "keys" | "teams" | "audit":
            return admin_cli.run(args)
        case "usage":
            return _usage(args)
        case "check":
            return _check(args.config, as_json=args.json)
        case "probe":
            return _probe(args)
        case _:
            key = new_key()
            print(json.dumps({"key": key, "sha256": digest(key)}, indent=2))
            return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="video-gateway", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('video-gateway')}")
    commands = parser.add_subparsers(dest="command", required=True)
    _run_parser(commands)
    _config_flag(commands.add_parser("openapi", help="print the OpenAPI document"))
    check = _config_flag(
        commands.add_parser("check", help="check a config file and what it needs (env, Redis, providers)")
    )
    check.add_argument("--json", action="store_true", help="print the findings as JSON (for CI)")
    probe = _config_flag(
        commands.add_parser("probe", help="GET /healthz of the gateway this config serves; exit 0 or 1")
    )
    probe.add_argument("--port", type=int, help=f"the port to probe (env {PORT_ENV}; default: [server] port)")
    probe.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the reply (default 2)")
    commands.add_parser("new-key", help="print a new client key and the sha256 to put in the config")
    routing = commands.add_parser("routing", help="routing tools").add_subparsers(dest="routing", required=True)
    explain = admin_cli.add_target_flags(
        routing.add_parser("explain", help="the plan a running gateway makes for a create body")
    )
    explain.add_argument("--file", required=True, help="a create body (JSON)")
    explain.add_argument("--team", help="evaluate the rules as this team")
    admin_cli.add_routing_parsers(routing)
    _usage_parser(commands)
    admin_cli.add_parsers(commands)
    return parser


def _config_flag(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG), help=_CONFIG_HELP)
    return parser


def _run_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = _config_flag(commands.add_parser("run", help="serve the gateway"))
    run.add_argument("--host", help=f"the address to listen on (env {HOST_ENV}; default: [server] host)")
    run.add_argument("--port", type=int, help=f"the port to listen on (env {PORT_ENV}; default: [server] port)")
    run.add_argument("--sandbox", action="store_true", help="start the provider emulators and make up the keys")
    run.add_argument("--server", choices=["granian", "uvicorn"], default="granian", help="the ASGI server")
    run.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    run.add_argument("--time-scale", type=float, default=0.5, help="sandbox job clock speed (smaller is faster)")


def _listen_address(host: str | None, port: int | None, settings: Settings) -> tuple[str, int]:
    """The flag, else the environment variable, else the config's `[server]`."""
    host = host or os.environ.get(HOST_ENV) or settings.server.host
    if port is None and os.environ.get(PORT_ENV):
        try:
            port = int(os.environ[PORT_ENV])
        except ValueError:
            raise Failure(f"{PORT_ENV} must be a port number, not {os.environ[PORT_ENV]!r}") from None
    port = settings.server.port if port is None else port
    if not 0 <= port <= 65_535:
        raise Failure(f"port {port} is not a TCP port (0-65535)")
    return host, port


def _run(args: argparse.Namespace) -> int:
    """Check everything the server worker will need, then serve; with `--sandbox`, make up the secrets and start
    the emulators first."""
    settings = load_settings(args.config)
    os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    host, port = _listen_address(args.host, args.port, settings)
    _ensure_free(host, port, "the gateway", f"is a gateway running? choose another port: --port or {PORT_ENV}")
    os.environ.pop(SANDBOX_ENV, None)  # sandbox mode (loopback webhooks) only with --sandbox
    with contextlib.ExitStack() as stack:
        if args.sandbox:
            client_key = _invent_secrets(settings)
            settings = sandbox_settings(settings)
        _check_environment(settings)
        if args.sandbox:
            stack.enter_context(_emulators(settings, args.time_scale))
            _banner(f"http://{host}:{port}", settings, client_key, os.environ[SANDBOX_WEBHOOK_SECRET_ENV])
        _serve(host, port, args.server, args.workers)
    return 0


def _ensure_free(host: str, port: int, what: str, hint: str) -> None:
    """Bind-test the address first: granian sets SO_REUSEPORT, so a second server on a port in use would bind
    beside the first and the kernel would split connections between two unrelated gateways."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT leftover is no conflict
        try:
            listener.bind((host, port))
        except OSError as exc:
            raise Failure(f"cannot listen on {host}:{port} for {what}: {exc.strerror or exc} ({hint})") from None


def _check_environment(settings: Settings) -> None:
    """What the server worker will read at start-up, checked before it is spawned: every variable the config
    names is set, and the webhook secrets are well-formed."""
    from gateway.checks import required_env
    from gateway.webhooks.signing import team_secrets

    missing = [f"{name} ({where})" for where, name in required_env(settings) if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"environment variable not set: {', '.join(missing)}")
    team_secrets(settings.webhooks)


def _invent_secrets(settings: Settings) -> str | None:
    """Sandbox only: every key the config names by env var and that is unset gets a fresh random value, and so
    does the sandbox webhook signing secret."""
    for config in settings.providers.values():
        os.environ.setdefault(config.api_key_env, "sbx_" + secrets.token_urlsafe(24))
    client_key = None
    for key in settings.keys:
        if key.key_env and not os.environ.get(key.key_env):
            os.environ[key.key_env] = new_key()
        if key.key_env and client_key is None and "videos" in key.scopes:
            client_key = os.environ[key.key_env]
    if not os.environ.get(SANDBOX_WEBHOOK_SECRET_ENV):
        os.environ[SANDBOX_WEBHOOK_SECRET_ENV] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ[SANDBOX_ENV] = "1"  # the server workers: the sandbox team's webhooks, loopback receivers
    return client_key


@contextlib.contextmanager
def _emulators(settings: Settings, time_scale: float) -> Iterator[None]:
    argv = [sys.executable, "-m", "sandbox", "--time-scale", str(time_scale)]
    for provider, config in settings.providers.items():
        address = urlsplit(config.base_url)
        hint = "is another sandbox running? stop it first"
        _ensure_free(address.hostname or "", address.port or 80, f"the {provider} emulator", hint)
        argv += ["--serve", f"{provider}={address.netloc}={config.api_key_env}"]
    process = subprocess.Popen(argv)  # noqa: S603 - our own interpreter and module
    try:
        for config in settings.providers.values():
            _wait_for_port(urlsplit(config.base_url).netloc, process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(netloc: str, process: subprocess.Popen[bytes]) -> None:
    host, _, port = netloc.rpartition(":")
    for _ in range(200):
        if process.poll() is not None:
            raise ConfigError(f"the sandbox emulators exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.2):
            return
        time.sleep(0.05)
    raise ConfigError(f"the sandbox emulator on {netloc} did not start")


def _banner(base: str, settings: Settings, client_key: str | None, webhook_secret: str) -> None:
    model = settings.default_model or next(iter(settings.models), "MODEL")
    print(
        f"""
video-gateway sandbox: providers are local emulators, jobs live in memory.
  API key (this run only):                 {client_key}
  Webhook signing secret (this run only):  {webhook_secret}
  Docs:                                    {base}/docs

Make a first video (paste into a shell):

export VG_KEY='{client_key}'
ID=$(curl -s {base}/v1/videos -H "Authorization: Bearer $VG_KEY" -H 'Content-Type: application/json' \\
  -d '{{"model": "{model}", "prompt": "a lighthouse at dawn, waves crashing, -blurry"}}' \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'); echo "$ID"
until curl -s {base}/v1/videos/$ID -H "Authorization: Bearer $VG_KEY" | grep -qE '"status":"(completed|failed)"'; \\
  do sleep 1; done; curl -s {base}/v1/videos/$ID -H "Authorization: Bearer $VG_KEY"; echo
curl -sL -o first-video.mp4 {base}/v1/videos/$ID/content -H "Authorization: Bearer $VG_KEY" && ls -l first-video.mp4

Webhooks: add "webhook": {{"url": "http://127.0.0.1:<port>/<path>"}} to a create body (the sandbox allows receivers
on loopback only). The final Video is POSTed there, signed per Standard Webhooks with the secret above: verify it
with `standardwebhooks.Webhook('{webhook_secret}').verify(body, headers)` (pip install standardwebhooks), or
check that webhook-signature holds "v1," + base64 HMAC-SHA256 of "{{webhook-id}}.{{webhook-timestamp}}.{{body}}"
keyed with the base64-decoded part after "whsec_" (docs/api.md, Webhooks).
""",
        flush=True,
    )


def _serve(host: str, port: int, server: str, workers: int) -> None:
    if server == "uvicorn":
        import uvicorn

        uvicorn.run("gateway.asgi:app", factory=True, host=host, port=port, workers=workers, access_log=False)
        return
    from granian.constants import Interfaces
    from granian.server import Server

    class ReloadInApp(Server):  # type: ignore[misc,valid-type]
        """granian answers SIGHUP by respawning its workers, which drops a memory store's jobs; pass it on to
        the workers instead, where the app applies the file's routing table to the control plane."""

        def signal_handler_reload(self, *args: object, **kwargs: object) -> None:
            for worker in self.wrks:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker._id(), signal.SIGHUP)

    granian = ReloadInApp(
        "gateway.asgi:app", address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True
    )
    try:
        granian.serve()
    except SystemExit as exc:  # a worker that could not start has printed its one line (gateway/asgi.py)
        raise SystemExit(2 if exc.code else 0) from None


def _probe(args: argparse.Namespace) -> int:
    """The container health check: GET /healthz on this host at the port the server was told (flag, env, config);
    exit 0 when it answers 200, else 1 (never 2, which Docker reserves) with the reason on one line."""
    try:
        host, port = _listen_address(None, args.port, load_settings(args.config))
    except (ConfigError, Failure) as exc:
        print(f"video-gateway: {exc}", file=sys.stderr)
        return 1
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a wildcard is probed on loopback
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        reply = httpx.get(url, timeout=args.timeout)
    except httpx.HTTPError as exc:
        print(f"video-gateway: {url}: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    if reply.status_code != 200:
        print(f"video-gateway: {url}: {reply.status_code}", file=sys.stderr)
        return 1
    return 0


def _openapi(config: str) -> int:
    from litestar import Litestar

    from gateway.api.openapi import render_openapi
    from gateway.app import create_app
    from gateway.auth import KeyRing
    from gateway.logging import configure_logging

    settings = load_settings(config)
    # Logs go to stderr, so stdout carries only the document (`make openapi` redirects it to a file).
    configure_logging(settings.log_level)
    app: Litestar = create_app(settings, keyring=KeyRing({}), run_poller=False)
    sys.stdout.write(render_openapi(app))
    return 0


def _check(config: str, *, as_json: bool) -> int:
    """Every finding of `gateway.checks`; exit 1 when one failed."""
    import asyncio

    import msgspec

    from gateway.checks import render_text, run_checks

    report = asyncio.run(run_checks(config))
    if as_json:
        print(msgspec.json.format(msgspec.json.encode(report).decode()))
    else:
        sys.stdout.write(render_text(report))
    return 0 if report.ok else 1


def _explain(args: argparse.Namespace) -> int:
    """POST the body to /v1/routing/explain and print the plan."""
    body = json.loads(Path(args.file).read_bytes())
    params = {"team": args.team} if args.team else {}
    print(json.dumps(_client(args).json("POST", "/v1/routing/explain", body=body, params=params), indent=2))
    return 0


def _client(args: argparse.Namespace) -> admin_cli.Admin:
    """The gateway at `--url` with the key from the variable `--key-env` names (a key is never a flag: a command
    line shows in `ps` and shell history)."""
    key = os.environ.get(args.key_env)
    if not key:
        raise Failure(f"set {args.key_env} to a gateway key (or name another variable with --key-env)")
    return admin_cli.Admin(args.url, key)


def _usage_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    usage = commands.add_parser("usage", help="usage and cost from a running gateway (GET /v1/usage)")
    usage.add_argument("--from", dest="first", help="first UTC day, YYYY-MM-DD (default: this month's first)")
    usage.add_argument("--to", dest="last", help="last UTC day, YYYY-MM-DD (default: today)")
    usage.add_argument("--group-by", help="comma list of team, key, provider, model, day (default: team)")
    usage.add_argument("--team", help="only this team")
    usage.add_argument("--provider", help="only this provider (slug)")
    usage.add_argument("--model", help="only this canonical model")
    usage.add_argument("--csv", action="store_true", help="print CSV instead of JSON")
    usage.add_argument("--records", action="store_true", help="the ledger records instead of the aggregates")
    usage.add_argument("--budgets", action="store_true", help="the budget view instead (see --month)")
    usage.add_argument("--month", help="with --budgets: the UTC month, YYYY-MM (default: this one)")
    admin_cli.add_target_flags(usage, key="a key with the usage scope")


def _usage(args: argparse.Namespace) -> int:
    """GET the report and print it as the API gives it (pretty JSON, or CSV as is)."""
    if args.budgets:
        path, params = "/v1/usage/budgets", {"month": args.month}
    else:
        path = "/v1/usage/records" if args.records else "/v1/usage"
        params = {"from": args.first, "to": args.last, "team": args.team, "provider": args.provider}
        params["model"] = args.model
        if not args.records:  # the ledger is not grouped: it lists the records themselves
            params["group_by"] = args.group_by
    params["format"] = "csv" if args.csv else None
    reply = _client(args).call("GET", path, params={k: v for k, v in params.items() if v is not None}, timeout=60)
    if reply.headers.get("content-type", "").startswith("text/csv"):
        sys.stdout.buffer.write(reply.content)  # as sent: RFC 4180 lines end in CRLF
    else:
        print(json.dumps(reply.json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

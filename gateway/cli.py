"""`video-gateway`: run the gateway (optionally on the sandbox emulators), dump the OpenAPI document, make keys,
ask a running gateway for its routing plan or its usage report, and change its control plane (gateway/admin_cli.py)."""

from __future__ import annotations

import argparse
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
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from gateway import admin_cli
from gateway.asgi import CONFIG_ENV, DEFAULT_CONFIG
from gateway.auth import digest, new_key
from gateway.config import ConfigError, Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="video-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the gateway")
    run.add_argument("--config", default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    run.add_argument("--sandbox", action="store_true", help="start the provider emulators and make up the keys")
    run.add_argument("--server", choices=["granian", "uvicorn"], default="granian")
    run.add_argument("--workers", type=int, default=1)
    run.add_argument("--time-scale", type=float, default=0.5, help="sandbox job clock speed (smaller is faster)")
    commands.add_parser("openapi", help="print the OpenAPI document").add_argument(
        "--config", default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG)
    )
    check = commands.add_parser("check", help="check a config file and what it needs (env, Redis, providers)")
    check.add_argument("--config", default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    check.add_argument("--json", action="store_true", help="print the findings as JSON (for CI)")
    commands.add_parser("new-key", help="print a new client key and the sha256 to put in the config")
    routing = commands.add_parser("routing", help="routing tools").add_subparsers(dest="routing", required=True)
    explain = routing.add_parser("explain", help="the plan a running gateway makes for a create body")
    explain.add_argument("--file", required=True, help="a create body (JSON)")
    explain.add_argument("--url", default=os.environ.get(admin_cli.URL_ENV, "http://127.0.0.1:8080"))
    explain.add_argument("--team", help="evaluate the rules as this team")
    explain.add_argument("--key-env", default="VIDEO_GATEWAY_KEY", help="env var holding an admin key")
    admin_cli.add_routing_parsers(routing)
    _usage_parser(commands)
    admin_cli.add_parsers(commands)
    args = parser.parse_args(argv)
    try:
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
            case _:
                key = new_key()
                print(json.dumps({"key": key, "sha256": digest(key)}, indent=2))
                return 0
    except ConfigError as exc:
        print(f"video-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except httpx.HTTPError as exc:  # `routing explain` and `usage`: the gateway is unreachable
        print(f"video-gateway: cannot reach the gateway at {args.url}: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    with contextlib.ExitStack() as stack:
        if args.sandbox:
            client_key = _invent_secrets(settings)
            stack.enter_context(_emulators(settings, args.time_scale))
            _banner(settings, client_key)
        _serve(settings, args.server, args.workers)
    return 0


def _invent_secrets(settings: Settings) -> str | None:
    """Sandbox only: every key the config names by env var and that is unset gets a fresh random value."""
    for config in settings.providers.values():
        os.environ.setdefault(config.api_key_env, "sbx_" + secrets.token_urlsafe(24))
    client_key = None
    for key in settings.keys:
        if key.key_env and not os.environ.get(key.key_env):
            os.environ[key.key_env] = new_key()
        if key.key_env and client_key is None and "videos" in key.scopes:
            client_key = os.environ[key.key_env]
    return client_key


@contextlib.contextmanager
def _emulators(settings: Settings, time_scale: float) -> Iterator[None]:
    argv = [sys.executable, "-m", "sandbox", "--time-scale", str(time_scale)]
    for provider, config in settings.providers.items():
        argv += ["--serve", f"{provider}={urlsplit(config.base_url).netloc}={config.api_key_env}"]
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


def _banner(settings: Settings, client_key: str | None) -> None:
    base = f"http://{settings.server.host}:{settings.server.port}"
    model = settings.default_model or next(iter(settings.models), "MODEL")
    print(
        f"""
video-gateway sandbox: providers are local emulators, jobs live in memory.
  API key (this run only): {client_key}
  Docs:                    {base}/docs

Make a first video (paste into a shell):

export VG_KEY='{client_key}'
ID=$(curl -s {base}/v1/videos -H "Authorization: Bearer $VG_KEY" -H 'Content-Type: application/json' \\
  -d '{{"model": "{model}", "prompt": "a lighthouse at dawn, waves crashing, -blurry"}}' \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'); echo "$ID"
until curl -s {base}/v1/videos/$ID -H "Authorization: Bearer $VG_KEY" | grep -qE '"status":"(completed|failed)"'; \\
  do sleep 1; done; curl -s {base}/v1/videos/$ID -H "Authorization: Bearer $VG_KEY"; echo
curl -sL -o first-video.mp4 {base}/v1/videos/$ID/content -H "Authorization: Bearer $VG_KEY" && ls -l first-video.mp4
""",
        flush=True,
    )


def _serve(settings: Settings, server: str, workers: int) -> None:
    host, port = settings.server.host, settings.server.port
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

    ReloadInApp(
        "gateway.asgi:app", address=host, port=port, interface=Interfaces.ASGI, workers=workers, factory=True
    ).serve()


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
    """POST the body to /v1/routing/explain and print the plan; the key comes from the environment only."""
    key = os.environ.get(args.key_env)
    if not key:
        print(f"video-gateway: set {args.key_env} to an admin key", file=sys.stderr)
        return 2
    body = Path(args.file).read_bytes()
    params = {"team": args.team} if args.team else {}
    reply = httpx.post(
        f"{args.url.rstrip('/')}/v1/routing/explain",
        content=body,
        params=params,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )
    print(json.dumps(reply.json(), indent=2))
    return 0 if reply.is_success else 1


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
    usage.add_argument("--url", default=os.environ.get(admin_cli.URL_ENV, "http://127.0.0.1:8080"))
    usage.add_argument("--key-env", default="VIDEO_GATEWAY_KEY", help="env var holding a key with the usage scope")


def _usage(args: argparse.Namespace) -> int:
    """GET the report and print it as the API gives it (pretty JSON, or CSV as is); the key comes from the
    environment only. Exit 1 with the error envelope when the gateway refuses."""
    key = os.environ.get(args.key_env)
    if not key:
        print(f"video-gateway: set {args.key_env} to a key with the usage scope", file=sys.stderr)
        return 2
    if args.budgets:
        path, params = "/v1/usage/budgets", {"month": args.month}
    else:
        path = "/v1/usage/records" if args.records else "/v1/usage"
        params = {"from": args.first, "to": args.last, "team": args.team, "provider": args.provider}
        params |= {"model": args.model, "format": "csv" if args.csv else None}
        if not args.records:  # the ledger is not grouped: it lists the records themselves
            params["group_by"] = args.group_by
    reply = httpx.get(
        f"{args.url.rstrip('/')}{path}",
        params={k: v for k, v in params.items() if v is not None},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    if reply.is_success and reply.headers.get("content-type", "").startswith("text/csv"):
        sys.stdout.buffer.write(reply.content)  # as sent: RFC 4180 lines end in CRLF
    else:
        print(json.dumps(reply.json(), indent=2))
    return 0 if reply.is_success else 1


if __name__ == "__main__":
    sys.exit(main())

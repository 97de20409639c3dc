"""`video-gateway apply|export|keys|teams|routing|audit`: the control plane's admin API from a shell, over httpx.
The gateway URL and an admin key come from flags or the environment; any refusal or unreachable gateway is one
line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import msgspec

from gateway.config import ConfigError, load_settings

URL_ENV = "VIDEO_GATEWAY_URL"
KEY_ENV = "VIDEO_GATEWAY_KEY"
# The documents `apply` writes: the file's table for each. Keys are not applied from the file (the file names
# them by digest or env var, and a key's secret is never sent): `video-gateway keys` manages them.
APPLIED = (("routing", "/v1/admin/routing"), ("quotas", "/v1/admin/quotas"))


class Refused(Exception):
    """The gateway could not be reached or refused: the message is the one line the user sees."""


class Admin:
    def __init__(self, url: str, key: str) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self._url = url

    def call(self, method: str, path: str, *, body: Any = None, **options: Any) -> httpx.Response:
        try:
            reply = self._client.request(method, path, json=body, **options)
        except httpx.HTTPError as exc:
            raise Refused(f"cannot reach the gateway at {self._url}: {exc}") from exc
        if not reply.is_success:
            raise Refused(f"{method} {path}: {reply.status_code} {_error_line(reply)}")
        return reply

    def json(self, method: str, path: str, *, body: Any = None, **options: Any) -> Any:
        return self.call(method, path, body=body, **options).json()


def _error_line(reply: httpx.Response) -> str:
    try:
        error = reply.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return reply.text[:200].replace("\n", " ")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apply = add_target_flags(
        commands.add_parser("apply", help="apply the file's [routing] and [quotas] to the gateway")
    )
    apply.add_argument("--file", required=True, help="the config file whose [routing] and [quotas] to apply")
    apply.add_argument("--dry-run", action="store_true", help="print the diff per document, change nothing")
    add_target_flags(commands.add_parser("export", help="the live routing, quotas and keys as TOML"))
    keys = commands.add_parser("keys", help="client keys").add_subparsers(dest="keys", required=True)
    create = add_target_flags(keys.add_parser("create", help="a new key; its secret is printed once"))
    create.add_argument("--team", required=True, help="the team the key bills to")
    create.add_argument("--id", help="the key's id (default: made up)")
    create.add_argument("--scopes", default="videos", help="comma list of videos, usage, admin")
    create.add_argument("--expires-at", type=float, help="unix seconds")
    add_target_flags(keys.add_parser("list", help="every key, without secrets"))
    add_target_flags(keys.add_parser("revoke", help="revoke a key")).add_argument("key_id", help="the key's id")
    rotate = add_target_flags(keys.add_parser("rotate", help="a new secret for a key"))
    rotate.add_argument("key_id", help="the key's id")
    rotate.add_argument(
        "--grace-s",
        type=float,
        help="seconds the old secret keeps working (default [control] rotation_grace_s; 0: none)",
    )
    teams = commands.add_parser("teams", help="team quotas and budgets").add_subparsers(dest="teams", required=True)
    add_target_flags(teams.add_parser("get", help="a team's quotas")).add_argument("team", help="the team")
    team_set = add_target_flags(teams.add_parser("set", help="replace a team's quotas"))
    team_set.add_argument("team", help="the team")
    team_set.add_argument("--requests", help='a rate such as "60/minute"')
    team_set.add_argument("--max-concurrent-jobs", type=int, help="jobs in flight at once")
    team_set.add_argument("--monthly-budget-usd", type=float, help="spend per UTC month, in USD")
    team_set.add_argument("--monthly-video-seconds", type=int, help="seconds of video per UTC month")
    audit = add_target_flags(commands.add_parser("audit", help="the control plane's audit trail, newest first"))
    audit.add_argument("--kind", choices=["routing", "quotas", "keys"], help="only this document's changes")
    audit.add_argument("--since", type=float, help="unix seconds")
    audit.add_argument("--limit", type=int, default=50, help="the most entries to print (default 50)")


def add_routing_parsers(routing: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_target_flags(routing.add_parser("get", help="the routing table in force and its version"))
    rollback = add_target_flags(routing.add_parser("rollback", help="restore a kept version"))
    rollback.add_argument("version", type=int, help="the version to restore (see `routing history`)")
    add_target_flags(routing.add_parser("history", help="the kept versions"))
    preview = add_target_flags(routing.add_parser("preview", help="a create body's plan under a file's [routing]"))
    preview.add_argument("--file", required=True, help="a config file whose [routing] table is proposed")
    preview.add_argument("--request", required=True, help="a create body (JSON)")
    preview.add_argument("--team", help="evaluate the rules as this team")


def add_target_flags(parser: argparse.ArgumentParser, *, key: str = "an admin key") -> argparse.ArgumentParser:
    """`--url` and `--key-env`: the gateway to call and the variable holding the key (never the key itself)."""
    url = os.environ.get(URL_ENV, "http://127.0.0.1:8080")
    parser.add_argument("--url", default=url, help=f"the gateway's base URL (env {URL_ENV}; default {url})")
    parser.add_argument("--key-env", default=KEY_ENV, help=f"the env var holding {key} (default {KEY_ENV})")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run one admin command; exit 2 with one line on any refusal."""
    try:
        key = os.environ.get(args.key_env)
        if not key:
            raise Refused(f"set {args.key_env} to an admin key")
        admin = Admin(args.url, key)
        match args.command:
            case "apply":
                return _apply(admin, args.file, dry_run=args.dry_run)
            case "export":
                return _export(admin)
            case "keys":
                return _keys(admin, args)
            case "teams":
                return _teams(admin, args)
            case "audit":
                return _audit(admin, args)
            case _:
                return _routing(admin, args)
    except (Refused, ConfigError, OSError) as exc:
        print(f"video-gateway: {exc}", file=sys.stderr)
        return 2


def _apply(admin: Admin, file: str, *, dry_run: bool) -> int:
    settings = load_settings(file)
    wanted = {"routing": msgspec.to_builtins(settings.routing), "quotas": msgspec.to_builtins(settings.quotas)}
    for kind, path in APPLIED:
        live = admin.json("GET", path)
        before, after = _lines(live["value"]), _lines(wanted[kind])
        if before == after:
            print(f"{kind}: unchanged (version {live['version']})")
            continue
        sys.stdout.writelines(
            difflib.unified_diff(before, after, f"{kind} v{live['version']} (live)", f"{kind} ({file})")
        )
        if dry_run:
            print(f"{kind}: would change version {live['version']}")
            continue
        written = admin.json("PUT", path, body=wanted[kind], headers={"If-Match": f'"{live["version"]}"'})
        print(f"{kind}: version {live['version']} -> {written['version']}")
    return 0


def _lines(value: Any) -> list[str]:
    return [f"{line}\n" for line in json.dumps(value, indent=2, sort_keys=True).splitlines()]


def _export(admin: Admin) -> int:
    routing = admin.json("GET", "/v1/admin/routing")
    quotas = admin.json("GET", "/v1/admin/quotas")
    keys = admin.json("GET", "/v1/admin/keys")["data"]
    header = f"# live control plane: routing version {routing['version']}, quotas version {quotas['version']}\n"
    tables = {"routing": _no_nulls(routing["value"]), "quotas": _no_nulls(quotas["value"])}
    listed = "".join(
        f"# key {k['id']}: team {k['team']}, scopes {','.join(k['scopes'])}{', revoked' if k['revoked_at'] else ''}\n"
        for k in keys
    )
    note = "# keys are managed with `video-gateway keys` (their secrets and digests never leave the gateway)\n"
    sys.stdout.write(header + msgspec.toml.encode(tables).decode() + "\n" + note + listed)
    return 0


def _no_nulls(value: Any) -> Any:
    """TOML has no null: a field left out means the same (none set)."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def _keys(admin: Admin, args: argparse.Namespace) -> int:
    match args.keys:
        case "create":
            body = {"team": args.team, "id": args.id, "scopes": args.scopes.split(","), "expires_at": args.expires_at}
            reply = admin.json("POST", "/v1/admin/keys", body={k: v for k, v in body.items() if v is not None})
        case "list":
            reply = admin.json("GET", "/v1/admin/keys")
        case "revoke":
            reply = admin.json("DELETE", f"/v1/admin/keys/{args.key_id}")
        case _:
            grace = None if args.grace_s is None else {"grace_s": args.grace_s}
            reply = admin.json("POST", f"/v1/admin/keys/{args.key_id}/rotate", body=grace)
    _print(reply)
    return 0


def _teams(admin: Admin, args: argparse.Namespace) -> int:
    path = f"/v1/admin/teams/{args.team}"
    if args.teams == "get":
        _print(admin.json("GET", path))
        return 0
    limits = {
        "requests": args.requests,
        "max_concurrent_jobs": args.max_concurrent_jobs,
        "monthly_budget_usd": args.monthly_budget_usd,
        "monthly_video_seconds": args.monthly_video_seconds,
    }
    etag = admin.call("GET", path).headers.get("etag", "")
    body = {k: v for k, v in limits.items() if v is not None}
    _print(admin.json("PUT", path, body=body, headers={"If-Match": etag}))
    return 0


def _audit(admin: Admin, args: argparse.Namespace) -> int:
    params = {"kind": args.kind, "since": args.since, "limit": args.limit}
    _print(admin.json("GET", "/v1/admin/audit", params={k: v for k, v in params.items() if v is not None}))
    return 0


def _routing(admin: Admin, args: argparse.Namespace) -> int:
    match args.routing:
        case "get":
            reply = admin.json("GET", "/v1/admin/routing")
        case "history":
            reply = admin.json("GET", "/v1/admin/routing/history")
        case "rollback":
            etag = admin.call("GET", "/v1/admin/routing").headers.get("etag", "")
            body = {"version": args.version}
            reply = admin.json("POST", "/v1/admin/routing/rollback", body=body, headers={"If-Match": etag})
        case _:
            table = msgspec.to_builtins(load_settings(args.file).routing)
            body = {"routing": table, "request": json.loads(Path(args.request).read_text()), "team": args.team}
            reply = admin.json("POST", "/v1/admin/routing/preview", body={k: v for k, v in body.items() if v})
    _print(reply)
    return 0


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))

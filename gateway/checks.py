"""`video-gateway check`: what a deploy needs, checked before it: the file, every environment variable it names,
Redis, each provider's address and (where a read-only call is documented) its credentials, the webhook secrets.

Reports findings and never changes anything: no job is created, no money spent. No finding quotes a secret."""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx
import msgspec
from redis.exceptions import RedisError, ResponseError

from gateway.config import ConfigError, ProviderConfig, Settings, load_settings
from gateway.scrubbing import Scrubber
from gateway.store.connect import RedisClient, redis_client
from gateway.webhooks.signing import SigningSecret
from providers.contract import CapacityReport, ProviderSettings, UpstreamError
from providers.registry import PROVIDERS

Status = Literal["ok", "warn", "fail", "skip"]
CONNECT_TIMEOUT_S = 5.0


class Finding(msgspec.Struct, frozen=True):
    """One thing checked: what (`config`, `env`, `redis`, `provider.<slug>`, `webhooks.<team>`), how it went, why."""

    check: str
    status: Status
    detail: str


class Report(msgspec.Struct, frozen=True):
    """Every finding for one config file; `ok` unless one of them failed."""

    config: str
    ok: bool
    findings: list[Finding]


@runtime_checkable
class AccountCheck(Protocol):
    """An adapter with a documented read-only call that proves its credentials (videogenapi `GET /v1/user`)."""

    async def check_account(self) -> CapacityReport: ...


async def run_checks(path: str, *, environ: Mapping[str, str] = os.environ) -> Report:
    """Check the file at `path` and the environment it needs; a file that does not load stops there."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return _report(path, [Finding("config", "fail", str(exc))])
    findings = [Finding("config", "ok", f"valid: {len(settings.providers)} providers, {len(settings.models)} models")]
    missing = [f"{name} ({where})" for where, name in required_env(settings) if not environ.get(name)]
    if missing:
        findings.append(Finding("env", "fail", f"{len(missing)} missing: {', '.join(missing)}"))
    else:
        findings.append(Finding("env", "ok", "every variable the file names is set"))
    findings.append(await _check_redis(settings, environ))
    async with httpx.AsyncClient() as client:
        checks = [_check_provider(slug, config, client, environ) for slug, config in settings.providers.items()]
        findings += await asyncio.gather(*checks)
    findings += [_check_webhook_secret(team, name, environ) for team, name in _webhook_envs(settings)]
    return _report(path, findings)


def required_env(settings: Settings) -> list[tuple[str, str]]:
    """Every environment variable a start with these settings reads, as (config path, variable name)."""
    names = [(f"providers.{slug}.api_key_env", p.api_key_env) for slug, p in settings.providers.items()]
    names += [(f"keys[{key.id}].key_env", key.key_env) for key in settings.keys if key.key_env]
    store = settings.store
    if store.backend == "redis" and store.redis_url_env:
        names.append(("store.redis_url_env", store.redis_url_env))
    if store.backend == "redis" and store.sentinel_password_env:
        names.append(("store.sentinel_password_env", store.sentinel_password_env))
    if settings.metrics.bearer_token_env:
        names.append(("metrics.bearer_token_env", settings.metrics.bearer_token_env))
    names += [(f"webhooks.teams.{team}.secret_env", env) for team, env in _webhook_envs(settings)]
    return names


def _webhook_envs(settings: Settings) -> list[tuple[str, str]]:
    return [(team, config.secret_env) for team, config in settings.webhooks.teams.items()]


def _report(path: str, findings: list[Finding]) -> Report:
    return Report(config=path, ok=all(f.status != "fail" for f in findings), findings=findings)


async def _check_redis(settings: Settings, environ: Mapping[str, str]) -> Finding:
    store = settings.store
    if store.backend != "redis":
        return Finding("redis", "skip", "store.backend is memory: nothing shared, jobs do not survive a restart")
    url = environ.get(store.redis_url_env, "") if store.redis_url_env else store.redis_url
    if not url:
        return Finding("redis", "skip", f"no URL: {store.redis_url_env} is not set")
    sentinel_password = environ.get(store.sentinel_password_env or "") or None
    where = _redis_where(url)
    try:
        client = redis_client(url, sentinel_password=sentinel_password)
    except ValueError as exc:  # the message never quotes the URL (connect.py), which may hold a password
        return Finding("redis", "fail", f"{where}: {exc}")
    try:
        version = _first_node(await client.info("server")).get("redis_version", "unknown")
        status, persistence = await _persistence(client)
    except (RedisError, OSError) as exc:
        return Finding("redis", "fail", f"{where}: cannot reach it: {type(exc).__name__}")
    finally:
        await client.aclose()
    return Finding("redis", status, f"{where}: Redis {version}; {persistence}")


def _redis_where(url: str) -> str:
    """The URL's kind and hosts, without user or password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _first_node(info: Mapping[str, Any]) -> Mapping[str, Any]:
    """`INFO` on a cluster answers per node; a single server answers its own fields."""
    if "redis_version" in info:
        return info
    return next((value for value in info.values() if isinstance(value, Mapping)), {})


async def _persistence(client: RedisClient) -> tuple[Status, str]:
    """`CONFIG GET appendonly` and `save`; a managed Redis may refuse CONFIG, which is said rather than failed.
    No persistence at all is a warning: the gateway works, but a Redis restart loses every job."""
    try:
        appendonly = _first_node_value(await client.config_get("appendonly"), "appendonly")
        save = _first_node_value(await client.config_get("save"), "save")
    except ResponseError:
        return "ok", "persistence unknown (CONFIG GET refused, as managed Redis often does)"
    if appendonly != "yes" and not save:
        return "warn", "NO persistence (appendonly no, save off): a restart loses every job and the usage ledger"
    return "ok", f"appendonly {appendonly}, save {save!r}"


def _first_node_value(reply: Mapping[Any, Any], name: str) -> str:
    value = reply.get(name)
    if value is None:  # a cluster: {node: {name: value}}
        value = next((v.get(name) for v in reply.values() if isinstance(v, Mapping)), "")
    return value.decode() if isinstance(value, bytes) else str(value or "")


async def _check_provider(
    slug: str, config: ProviderConfig, client: httpx.AsyncClient, environ: Mapping[str, str]
) -> Finding:
    check = f"provider.{slug}"
    reached = await _connect(config.base_url, timeout_s=min(config.timeout_s, CONNECT_TIMEOUT_S))
    if reached is not None:
        return Finding(check, "fail", f"{config.base_url}: {reached}")
    factory = PROVIDERS.get(slug)
    if factory is None:
        return Finding(check, "fail", f"no adapter for this provider (known: {', '.join(PROVIDERS)})")
    key = environ.get(config.api_key_env)
    if not key:
        return Finding(check, "fail", f"{config.base_url} reachable; {config.api_key_env} is not set")
    settings = ProviderSettings(base_url=config.base_url, api_key=key, timeout_s=config.timeout_s)
    try:
        adapter = factory(client, msgspec.structs.replace(settings, options=config.options))
    except ValueError as exc:
        return Finding(check, "fail", f"options: {exc}")
    if not isinstance(adapter, AccountCheck):
        note = "no read-only call documented: credentials not verified, to spend no money"
        return Finding(check, "warn", f"{config.base_url} reachable; {note}")
    try:
        await adapter.check_account()
    except UpstreamError as exc:
        status = f", HTTP {exc.status_code}" if exc.status_code is not None else ""
        said = Scrubber([key]).provider_text(exc.message)  # the provider's text could echo the key
        return Finding(check, "fail", f"credentials not verified ({exc.error_class}{status}): {said}")
    return Finding(check, "ok", f"{config.base_url} reachable; credentials verified by a read-only call")


async def _connect(base_url: str, *, timeout_s: float) -> str | None:
    """Resolve the host and open a TCP (and TLS, for https) connection; None when it works, else why not."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await asyncio.get_running_loop().getaddrinfo(parts.hostname, port)
    except OSError as exc:
        return f"cannot resolve {parts.hostname}: {exc.strerror or exc}"
    tls = ssl.create_default_context() if parts.scheme == "https" else None
    try:
        opening = asyncio.open_connection(parts.hostname, port, ssl=tls)
        _, writer = await asyncio.wait_for(opening, timeout=timeout_s)
    except TimeoutError:
        return f"no connection to {parts.hostname}:{port} within {timeout_s:g} s"
    except ssl.SSLError as exc:
        return f"TLS to {parts.hostname}:{port} failed: {exc.reason}"
    except OSError as exc:
        return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"
    writer.close()
    await writer.wait_closed()
    return None


def _check_webhook_secret(team: str, env: str, environ: Mapping[str, str]) -> Finding:
    check = f"webhooks.{team}"
    value = environ.get(env)
    if not value:
        return Finding(check, "fail", f"{env} is not set")
    try:
        SigningSecret.parse(value)
    except ValueError as exc:  # says what is wrong with the secret, never what it is
        return Finding(check, "fail", f"{env}: {exc}")
    return Finding(check, "ok", f"{env} is a well-formed signing secret")


def render_text(report: Report) -> str:
    """One line per finding, for a terminal; the last line says whether the deploy may go ahead."""
    width = max(len(f.check) for f in report.findings)
    lines = [f"{f.status.upper():<4}  {f.check:<{width}}  {f.detail}" for f in report.findings]
    failed = sum(f.status == "fail" for f in report.findings)
    lines.append(f"{report.config}: " + (f"{failed} check(s) failed" if failed else "every check passed"))
    return "\n".join(lines) + "\n"

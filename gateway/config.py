"""Settings: the TOML file decoded once at start into frozen structs; errors name the path of the bad key.

Secrets are never in the file: keys and URLs with passwords are named by environment variable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

from gateway.cadence import PollingConfig
from gateway.store.connect import is_cluster_url, is_sentinel_url, parse_cluster_url, parse_sentinel_url
from gateway.store.retention import RetentionSettings
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from gateway.webhooks.settings import WebhookSettings
from routing.catalogue import Catalogue, Model
from routing.headroom.config import HeadroomConfig
from routing.health.breakers import BreakerSettings
from routing.rules import RoutingRules, RulesError
from routing.rules import validate as validate_rules

Scope = Literal["videos", "usage", "admin"]
_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the path of the bad key."""


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65_535)] = 8080
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 25 * 1024 * 1024
    public_base_url: str | None = None


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_url_env: str | None = None
    key_prefix: str = "vg:"
    # With a `redis+sentinel://` URL: the variable holding the sentinels' own password, when it differs from the
    # data nodes' (the URL's password authenticates both otherwise).
    sentinel_password_env: str | None = None

    def __post_init__(self) -> None:
        try:
            if is_cluster_url(self.redis_url):
                parse_cluster_url(self.redis_url)
            if is_sentinel_url(self.redis_url):
                parse_sentinel_url(self.redis_url)
        except ValueError as exc:  # the message never quotes the URL: it may hold a password
            raise ValueError(f"redis_url: {exc}") from None  # msgspec adds " - at `$.store`"


class ProviderConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: str
    api_key_env: str
    enabled: bool = True
    timeout_s: _Seconds = 30.0
    poll_interval_s: _Seconds | None = None
    max_job_duration_s: _Seconds | None = None
    polling: PollingConfig = PollingConfig()
    headroom: HeadroomConfig = HeadroomConfig()
    options: dict[str, str] = {}  # adapter-specific (e.g. Veo's `api = "vertex"`); the adapter validates them


class ApiKeyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A client key: its sha256 digest (hex) in the file, or the env var holding the key itself."""

    id: str
    team: str
    scopes: frozenset[Scope] = frozenset({"videos"})
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")] | None = None
    key_env: str | None = None

    def __post_init__(self) -> None:
        if (self.sha256 is None) == (self.key_env is None):
            raise ValueError("set exactly one of sha256 or key_env")


class PollerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tick_s: _Seconds = 0.25
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    lease_s: _Seconds = 60.0
    max_consecutive_errors: Annotated[int, msgspec.Meta(ge=1)] = 10
    max_backoff_s: _Seconds = 120.0
    submit_grace_s: _Seconds = 120.0
    stop_timeout_s: _Seconds = 30.0
    # Every replica says it is alive this often (its beat lasts three times as long); the poller fails a record
    # still submitting past its grace only once the replica that submitted it has stopped beating.
    heartbeat_s: _Seconds = 5.0
    # `content` refreshes an asset URL that expires within this margin before redirecting to it.
    asset_refresh_margin_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 300.0


class FailoverSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Failover: how many providers one request may be sent to (at submit and after acceptance together, unless
    the request's `routing.max_attempts` says otherwise) and for how long at submit (the strategy is in `[routing]`)."""

    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    deadline_s: _Seconds = 60.0
    # A prompt one provider blocks is likely blocked elsewhere: off unless ops decide otherwise.
    on_content_policy: bool = False
    # Resubmit to the same provider, before the next candidate, after a reply that says nothing was accepted
    # (a 502/503 answer; never after a timeout, whose outcome is unknown). The n-th retry waits n x backoff.
    same_provider_retries: Annotated[int, msgspec.Meta(ge=0, le=3)] = 0
    same_provider_backoff_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.5
    # A create no provider can take now waits, up to this long, for one whose every block lapses within it (a 429
    # cooldown, a full moving window), instead of answering 503; 0 answers at once.
    wait_for_capacity_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 5.0


class LimitsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_image_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 10 * 1024 * 1024
    max_video_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 20 * 1024 * 1024  # an uploaded source video
    max_metadata_entries: Annotated[int, msgspec.Meta(ge=0)] = 16


class MetricsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`GET /metrics`: open, unless `bearer_token_env` names the variable holding a token scrapers must send
    (the metrics carry team names and costs). Circuit and headroom gauges are read from the shared state when
    scraped, at most once per `provider_refresh_s`, waiting at most `provider_refresh_timeout_s` (else stale)."""

    bearer_token_env: str | None = None
    provider_refresh_s: Annotated[float, msgspec.Meta(ge=0, le=3_600)] = 5.0
    provider_refresh_timeout_s: _Seconds = 2.0


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    poller: PollerSettings = PollerSettings()
    limits: LimitsSettings = LimitsSettings()
    failover: FailoverSettings = FailoverSettings()
    routing: RoutingRules = RoutingRules()
    breakers: BreakerSettings = BreakerSettings()
    metrics: MetricsSettings = MetricsSettings()
    quotas: QuotaSettings = QuotaSettings()
    webhooks: WebhookSettings = WebhookSettings()
    retention: RetentionSettings = RetentionSettings()
    default_model: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    keys: tuple[ApiKeyConfig, ...] = ()
    providers: dict[str, ProviderConfig] = {}
    models: Catalogue = {}

    def __post_init__(self) -> None:
        for model_id, model in self.models.items():
            for index, offering in enumerate(model.offerings):
                if offering.provider not in self.providers:
                    raise ValueError(
                        f"provider {offering.provider!r} is not configured under [providers]"
                        f" - at `$.models.{model_id}.offerings[{index}].provider`"
                    )
        if self.default_model is not None and self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not in models - at `$.default_model`")
        try:
            validate_rules(self.routing, known_providers=self.providers, known_models=self.models)
        except RulesError as exc:
            raise ValueError(f"{exc.detail} - at `{exc.path}`") from exc
        slowest_s = max((p.timeout_s for p in self.providers.values()), default=0.0)
        submit_s = self.failover.wait_for_capacity_s + self.failover.deadline_s + slowest_s
        if self.poller.submit_grace_s <= submit_s:
            # Past the grace the poller takes a still-submitting record for one whose replica died, and fails it.
            raise ValueError(
                f"poller.submit_grace_s ({self.poller.submit_grace_s:g}) must exceed the longest submit: failover"
                f" wait_for_capacity_s + deadline_s + the slowest provider timeout ({submit_s:g})"
                " - at `$.poller.submit_grace_s`"
            )
        for provider, config in self.providers.items():
            # A poll that can outlast its lease lets a second replica claim the same job mid-poll.
            if config.timeout_s >= self.poller.lease_s:
                raise ValueError(
                    f"poller.lease_s ({self.poller.lease_s:g}) must exceed the provider timeout"
                    f" ({config.timeout_s:g}) - at `$.providers.{provider}.timeout_s`"
                )


def parse_settings(text: str | bytes, *, source: str = "<config>") -> Settings:
    try:
        return msgspec.toml.decode(text, type=Settings)
    except msgspec.ValidationError as exc:
        located = _entry_error(text) if "[...]" in str(exc) else None
        raise ConfigError(f"{source}: {located or exc}") from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc


_AT_PATH = re.compile(r" - at `\$(?P<rest>[^`]*)`$")
_TABLES: tuple[tuple[str, type], ...] = (
    ("providers", ProviderConfig),
    ("models", Model),
    ("quotas.teams", QuotaLimits),
    ("quotas.keys", QuotaLimits),
)


def _entry_error(text: str | bytes) -> str | None:
    """msgspec shows a dict key as `[...]` in paths; decode each named entry alone to say which one is bad."""
    raw = msgspec.toml.decode(text)
    for table, entry_type in _TABLES:
        entries = raw
        for part in table.split("."):
            entries = entries.get(part) if isinstance(entries, dict) else None
        for name, entry in entries.items() if isinstance(entries, dict) else ():
            try:
                msgspec.convert(entry, entry_type)
            except msgspec.ValidationError as exc:
                message = str(exc)
                where = _AT_PATH.search(message)
                rest = where.group("rest") if where else ""
                return f"{_AT_PATH.sub('', message)} - at `$.{table}.{name}{rest}`"
    return None


def load_settings(path: str | Path) -> Settings:
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_settings(text, source=str(path))


def secret_from_env(name: str, *, what: str) -> str:
    """Read a secret named in config; a missing one is a start-up error naming the variable, not the value."""
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"{what}: environment variable {name} is not set")
    return value


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret value the settings point at (for the log redactor); missing ones are skipped."""
    names = [p.api_key_env for p in settings.providers.values()]
    names += [k.key_env for k in settings.keys if k.key_env]
    if settings.store.redis_url_env:
        names.append(settings.store.redis_url_env)
    if settings.store.sentinel_password_env:
        names.append(settings.store.sentinel_password_env)
    if settings.metrics.bearer_token_env:
        names.append(settings.metrics.bearer_token_env)
    names += [team.secret_env for team in settings.webhooks.teams.values()]
    values = [os.environ[n] for n in names if os.environ.get(n)]
    redis_urls = [settings.store.redis_url, os.environ.get(settings.store.redis_url_env or "", "")]
    # A Redis URL's password on its own too: a Redis error may quote it without the rest of the URL.
    values += [p for p in (urlsplit(url).password for url in redis_urls if url) if p]
    return values

"""Settings: the TOML file decoded once at start into frozen structs; errors name the path of the bad key.

Secrets are never in the file: keys and URLs with passwords are named by environment variable."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from gateway.cadence import PollingConfig
from gateway.store.connect import is_cluster_url, is_sentinel_url, parse_cluster_url, parse_sentinel_url
from gateway.store.retention import RetentionSettings
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from gateway.webhooks.settings import WebhookSettings, WebhookTeam
from routing.catalogue import Catalogue, Model
from routing.headroom.config import HeadroomConfig
from routing.health.breakers import BreakerSettings
from routing.rules import RoutingRules, RulesError
from routing.rules import validate as validate_rules

# The environment the entry points read (gateway/cli.py, gateway/asgi.py): the config file, the listen address
# (over the file's `[server]`), and the sandbox handoff from `video-gateway run --sandbox` to its server workers.
CONFIG_ENV = "VIDEO_GATEWAY_CONFIG"
DEFAULT_CONFIG = "deploy/gateway.example.toml"
HOST_ENV = "VIDEO_GATEWAY_HOST"
PORT_ENV = "VIDEO_GATEWAY_PORT"
SANDBOX_ENV = "VIDEO_GATEWAY_SANDBOX"
SANDBOX_WEBHOOK_SECRET_ENV = "VIDEO_GATEWAY_SANDBOX_WEBHOOK_SECRET"  # noqa: S105 - a variable's name

Scope = Literal["videos", "usage", "admin"]
_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
_HeaderName = Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9-]{1,64}$")]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the path of the bad key."""


class ServerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    """The address the server listens on; `0.0.0.0` to listen on every interface (in a container)."""
    port: Annotated[int, msgspec.Meta(ge=0, le=65_535)] = 8080
    """The TCP port the server listens on."""
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 25 * 1024 * 1024
    """The largest request body accepted; a larger one is refused with 413 before it is read whole."""
    public_base_url: str | None = None
    """The gateway's external URL (e.g. `https://videos.example.com`), used in the links replies carry; unset, they
    are built from the request's own origin."""


class StoreSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    backend: Literal["memory", "redis"] = "memory"
    """Where jobs, usage and shared limits live: `memory` (one process, lost on restart) or `redis` (shared by
    every replica; needed in production)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """The Redis to use with `backend = "redis"`: `redis://`, `rediss://`,
    `redis+sentinel://host1:26379,host2:26379/<service>[/<db>]` or `redis+cluster://host1:7000,host2:7001`. Put
    a URL with a password in `redis_url_env` instead."""
    redis_url_env: str | None = None
    """The environment variable holding the Redis URL; when set it replaces `redis_url` (use it when the URL
    carries a password)."""
    key_prefix: str = "vg:"
    """Prefix of every Redis key the gateway writes, so several gateways (or tests) can share one Redis."""
    sentinel_password_env: str | None = None
    """With a `redis+sentinel://` URL: the variable holding the sentinels' own password, when it differs from the
    data nodes' (the URL's password authenticates both otherwise)."""

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
    """The provider's API root (the adapter adds its own paths); point it at a sandbox emulator to test. See
    docs/providers.md for each provider's production URL."""
    api_key_env: str
    """The environment variable holding the provider API key (never the key itself)."""
    adapter: str | None = None
    """The adapter kind when it differs from the provider's name: a generic kind (`openai`, any service speaking
    OpenAI's `/v1/videos`) may serve several providers, each under a name of its own; unset, the name itself."""
    key_header: _HeaderName | None = None
    """Generic adapters only: the header carrying the key; unset or `Authorization`, `Bearer <key>`; any other
    (Azure's `api-key`) carries the bare key."""
    query: dict[str, str] = {}
    """Generic adapters only: query parameters sent on every call (Azure's `api-version`)."""
    enabled: bool = True
    """`false` takes the provider out of routing at start-up (its jobs already accepted are still followed)."""
    timeout_s: _Seconds = 30.0
    """Per upstream HTTP call (submit, poll, cancel, download link); must be below `poller.lease_s`."""
    poll_interval_s: _Seconds | None = None
    """The base gap between status polls of one job; unset, the adapter's default for this provider."""
    max_job_duration_s: _Seconds | None = None
    """A job still not finished this long after acceptance is failed; unset, the adapter's default."""
    polling: PollingConfig = PollingConfig()
    """The cadence around `poll_interval_s` (first poll, growth, cap, jitter)."""
    headroom: HeadroomConfig = HeadroomConfig()
    """The account's limits the gateway keeps (rate windows, in-flight cap, reserve, balance floor)."""
    options: dict[str, str] = {}
    """Adapter-specific settings (e.g. Veo's `api = "vertex"`, `project`, `location`, `storage_uri`); the adapter
    validates them at start-up."""


class ApiKeyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A client key: its sha256 digest (hex) in the file, or the env var holding the key itself."""

    id: str
    """The key's name, in logs, usage records and `[quotas.keys.<id>]` (never the key)."""
    team: str
    """The team the key belongs to: its jobs, usage, quotas, routing rules and webhook secret are the team's."""
    scopes: frozenset[Scope] = frozenset({"videos"})
    """What the key may call: `videos` (the video API), `usage` (finance reports), `admin` (routing and provider
    operations)."""
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")] | None = None
    """The hex sha256 of the key (`video-gateway new-key` prints both); set this or `key_env`."""
    key_env: str | None = None
    """The environment variable holding the key itself; set this or `sha256`."""

    def __post_init__(self) -> None:
        if (self.sha256 is None) == (self.key_env is None):
            raise ValueError("set exactly one of sha256 or key_env")


class PollerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tick_s: _Seconds = 0.25
    """How often the poller looks for jobs due a status poll."""
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 200
    """The most due jobs one replica claims per tick."""
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 64
    """The most status polls one replica runs at once."""
    lease_s: _Seconds = 60.0
    """A claimed job goes back to any replica after this; must exceed every provider's `timeout_s`, so a poll ends
    within its lease."""
    max_consecutive_errors: Annotated[int, msgspec.Meta(ge=1)] = 10
    """Transient poll errors (429, 5xx, timeouts) in a row before the job is failed."""
    max_backoff_s: _Seconds = 120.0
    """The longest wait between polls after transient errors (the backoff doubles up to it)."""
    submit_grace_s: _Seconds = 120.0
    """A job still marked submitting this long after creation, whose replica stopped beating, is failed; must
    exceed the longest submit (failover `wait_for_capacity_s` + `deadline_s` + the slowest provider timeout)."""
    stop_timeout_s: _Seconds = 30.0
    """On shutdown, how long in-flight polls and creates get to finish."""
    heartbeat_s: _Seconds = 5.0
    """Every replica says it is alive this often (its beat lasts three times as long); the poller fails a record
    still submitting past its grace only once the replica that submitted it has stopped beating."""
    asset_refresh_margin_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 300.0
    """`content` refreshes an asset URL that expires within this margin before redirecting to it."""


class FailoverSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Failover: how many providers one request may be sent to (at submit and after acceptance together, unless
    the request's `routing.max_attempts` says otherwise) and for how long at submit (the strategy is in `[routing]`)."""

    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    """How many providers one request may be sent to, at submit and after acceptance together (a request's
    `routing.max_attempts` may say otherwise)."""
    deadline_s: _Seconds = 60.0
    """How long submit-time failover may go on for one request."""
    on_content_policy: bool = False
    """Fail over after a content-policy refusal too. A prompt one provider blocks is likely blocked elsewhere: off
    unless ops decide otherwise."""
    same_provider_retries: Annotated[int, msgspec.Meta(ge=0, le=3)] = 0
    """Resubmit to the same provider, before the next candidate, after a reply that says nothing was accepted (a
    502/503 answer; never after a timeout, whose outcome is unknown)."""
    same_provider_backoff_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 0.5
    """The wait before a same-provider retry: the n-th retry waits n x this."""
    wait_for_capacity_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 5.0
    """A create no provider can take now waits, up to this long, for one whose every block lapses within it (a 429
    cooldown, a full moving window), instead of answering 503; 0 answers at once."""


class LimitsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_image_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 10 * 1024 * 1024
    """The largest image (start, end or reference frame) accepted in a request, decoded."""
    max_video_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 20 * 1024 * 1024
    """The largest uploaded source video accepted (video-to-video)."""
    max_metadata_entries: Annotated[int, msgspec.Meta(ge=0)] = 16
    """The most `metadata` entries one job may carry."""


class MetricsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`GET /metrics`: open, unless `bearer_token_env` names the variable holding a token scrapers must send
    (the metrics carry team names and costs). Circuit and headroom gauges are read from the shared state when
    scraped, at most once per `provider_refresh_s`, waiting at most `provider_refresh_timeout_s` (else stale)."""

    bearer_token_env: str | None = None
    """The variable holding a token scrapers must send to `GET /metrics`; unset, the endpoint is open (it carries
    team names and costs: set one in production)."""
    provider_refresh_s: Annotated[float, msgspec.Meta(ge=0, le=3_600)] = 5.0
    """Circuit and headroom gauges are read from the shared state when scraped, at most this often."""
    provider_refresh_timeout_s: _Seconds = 2.0
    """A scrape waits at most this long for that read, else shows the last values."""


class ControlSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The control plane (gateway/control/): the routing, quotas and keys documents every replica applies."""

    check_s: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.25
    """Every replica checks the documents' versions this often, besides the change notification, so a missed
    notification never leaves it stale for longer."""
    history: Annotated[int, msgspec.Meta(ge=2, le=1_000)] = 50
    """Versions of each document kept for rollback."""
    audit_entries: Annotated[int, msgspec.Meta(ge=10, le=1_000_000)] = 10_000
    """Audit entries kept in all (the oldest are dropped)."""
    rotation_grace_s: Annotated[float, msgspec.Meta(ge=0, le=30 * 86_400)] = 86_400.0
    """How long a rotated key's old secret keeps working, unless the rotation names its own grace."""
    last_used_flush_s: Annotated[float, msgspec.Meta(gt=0, le=3_600)] = 30.0
    """Key last-used times are written once per this period, not on every request."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    server: ServerSettings = ServerSettings()
    """The HTTP server."""
    store: StoreSettings = StoreSettings()
    """Where shared state lives."""
    poller: PollerSettings = PollerSettings()
    """Following accepted jobs to a terminal state."""
    limits: LimitsSettings = LimitsSettings()
    """Request size limits."""
    failover: FailoverSettings = FailoverSettings()
    """Sending a request to the next provider when one fails."""
    routing: RoutingRules = RoutingRules()
    """Ops routing rules (hot-reloaded with `POST /v1/routing/reload` or SIGHUP)."""
    breakers: BreakerSettings = BreakerSettings()
    """Circuit breakers per provider."""
    metrics: MetricsSettings = MetricsSettings()
    """`GET /metrics`."""
    quotas: QuotaSettings = QuotaSettings()
    """Request rate, concurrency and monthly budgets per team and per key."""
    webhooks: WebhookSettings = WebhookSettings()
    """Outgoing job webhooks."""
    retention: RetentionSettings = RetentionSettings()
    """How long shared records are kept."""
    control: ControlSettings = ControlSettings()
    """The control plane: runtime routing, quotas and keys shared by every replica."""
    default_model: str | None = None
    """The model used when a request names none; must be in `[models]`."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """The lowest level of structured (JSON) log lines written."""
    keys: tuple[ApiKeyConfig, ...] = ()
    """Client API keys, one `[[keys]]` table each."""
    providers: dict[str, ProviderConfig] = {}
    """Provider accounts by slug (`vidgen`, `videogen`, `videogenapi`, `nanogpt`, `veo`, `fal`)."""
    models: Catalogue = {}
    """The catalogue: canonical model ids and the provider offerings that serve them."""

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
        located = entry_error(msgspec.toml.decode(text)) if "[...]" in str(exc) else None
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


def entry_error(raw: Any) -> str | None:
    """msgspec shows a dict key as `[...]` in paths; decode each named entry of `raw` (the whole config as
    builtins) alone to say which one is bad."""
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


def sandbox_settings(settings: Settings) -> Settings:
    """`run --sandbox`: every team with a client key and no webhook secret of its own signs with the sandbox secret
    (`VIDEO_GATEWAY_SANDBOX_WEBHOOK_SECRET`, made up by the CLI), so webhooks work without editing the config."""
    teams = {key.team: WebhookTeam(secret_env=SANDBOX_WEBHOOK_SECRET_ENV) for key in settings.keys}
    webhooks = msgspec.structs.replace(settings.webhooks, teams=teams | settings.webhooks.teams)
    return msgspec.structs.replace(settings, webhooks=webhooks)


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

"""The configured providers, built once at start: adapter, poll cadence and maximum job duration."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import msgspec

from gateway.cadence import Cadence, resolve_cadence
from gateway.config import ConfigError, ProviderConfig, secret_from_env
from providers.contract import CapacitySink, ProviderSettings, VideoProvider
from providers.registry import PROVIDERS
from providers.transport import CallObserver
from routing.gate import STATUS


class Upstream(msgspec.Struct, frozen=True, kw_only=True):
    adapter: VideoProvider
    enabled: bool
    poll_interval_s: float
    max_job_duration_s: float
    cadence: Cadence


def build_upstreams(
    configs: Mapping[str, ProviderConfig],
    client: httpx.AsyncClient,
    *,
    observe: CallObserver,
    capacity: CapacitySink,
) -> dict[str, Upstream]:
    upstreams: dict[str, Upstream] = {}
    for slug, config in configs.items():
        factory = PROVIDERS.get(slug)
        if factory is None:
            raise ConfigError(f"providers.{slug}: no adapter for this provider (known: {', '.join(PROVIDERS)})")
        settings = ProviderSettings(
            base_url=config.base_url,
            api_key=secret_from_env(config.api_key_env, what=f"providers.{slug}.api_key_env"),
            timeout_s=config.timeout_s,
        )
        adapter = factory(client, settings, observe=observe, capacity=capacity)
        traits = adapter.traits
        interval_s = config.poll_interval_s or traits.poll_interval_s
        upstreams[slug] = Upstream(
            adapter=adapter,
            enabled=config.enabled,
            poll_interval_s=interval_s,
            max_job_duration_s=config.max_job_duration_s or traits.max_job_duration_s,
            cadence=_cadence(slug, config, interval_s),
        )
    return upstreams


def _cadence(slug: str, config: ProviderConfig, interval_s: float) -> Cadence:
    """The provider's cadence, bounded by its configured status window (`headroom.windows`, scope "status")."""
    window = next(((w.limit, w.per_s) for w in config.headroom.windows if w.scope == STATUS), None)
    try:
        return resolve_cadence(config.polling, interval_s=interval_s, status_window=window)
    except ValueError as exc:
        raise ConfigError(f"providers.{slug}.polling: {exc}") from exc

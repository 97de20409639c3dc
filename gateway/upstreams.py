"""The configured providers, built once at start: adapter, poll cadence and maximum job duration."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import msgspec

from gateway.config import ConfigError, ProviderConfig, secret_from_env
from providers.contract import HeadroomSink, ProviderSettings, VideoProvider
from providers.registry import PROVIDERS
from providers.transport import CallObserver


class Upstream(msgspec.Struct, frozen=True, kw_only=True):
    adapter: VideoProvider
    enabled: bool
    poll_interval_s: float
    max_job_duration_s: float


def build_upstreams(
    configs: Mapping[str, ProviderConfig],
    client: httpx.AsyncClient,
    *,
    observe: CallObserver,
    headroom: HeadroomSink,
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
        adapter = factory(client, settings, observe=observe, headroom=headroom)
        traits = adapter.traits
        upstreams[slug] = Upstream(
            adapter=adapter,
            enabled=config.enabled,
            poll_interval_s=config.poll_interval_s or traits.poll_interval_s,
            max_job_duration_s=config.max_job_duration_s or traits.max_job_duration_s,
        )
    return upstreams

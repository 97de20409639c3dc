"""The configured providers, built once at start: adapter, poll cadence and maximum job duration; and the one
boundary where provider text enters the gateway: every call goes through `Upstream`, which scrubs what a
provider says (error messages and codes, a failed job's reason) of every configured secret before anything
keeps, returns, logs or delivers it."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import msgspec

from gateway.cadence import Cadence, resolve_cadence
from gateway.config import ConfigError, ProviderConfig, secret_from_env
from gateway.scrubbing import Scrubber
from providers.contract import (
    AssetSource,
    CapacitySink,
    GenerationRequest,
    HttpCall,
    Operation,
    PromptEnhancer,
    ProviderSettings,
    UpstreamError,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamStatus,
    VideoProvider,
)
from providers.registry import GENERIC_ADAPTERS, PROVIDERS
from providers.transport import CallObserver


class Upstream(msgspec.Struct, frozen=True, kw_only=True):
    adapter: VideoProvider
    enabled: bool
    max_job_duration_s: float
    cadence: Cadence
    scrubber: Scrubber = msgspec.field(default_factory=Scrubber)

    @property
    def provider(self) -> str:
        return self.adapter.provider

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        try:
            return await self.adapter.submit(request)
        except UpstreamError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        try:
            status = await self.adapter.poll(job)
        except UpstreamError as exc:
            raise self._scrubbed(exc) from exc.__cause__
        if status.failure is None:
            return status
        failure = status.failure
        clean = msgspec.structs.replace(
            failure,
            message=self.scrubber.provider_text(failure.message),
            code=None if failure.code is None else self.scrubber.provider_text(failure.code),
            details={
                key: [self.scrubber.provider_text(value) for value in values] for key, values in failure.details.items()
            },
        )
        return msgspec.structs.replace(status, failure=clean)

    async def enhance_prompt(self, prompt: str, *, upstream_model: str) -> str:
        """The provider's standalone prompt enhancement; its adapter must offer one (`PromptEnhancer`)."""
        if not isinstance(self.adapter, PromptEnhancer):
            raise UpstreamInternalError(f"{self.provider} has no prompt enhancement", provider=self.provider)
        try:
            return await self.adapter.enhance_prompt(prompt, upstream_model=upstream_model)
        except UpstreamError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    async def cancel(self, job: UpstreamJob) -> bool:
        try:
            return await self.adapter.cancel(job)
        except UpstreamError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    def asset_call(self, url: str) -> HttpCall | None:
        """The authenticated download of an asset this provider serves only with its credential; None where a
        redirect to the URL serves the client."""
        if not isinstance(self.adapter, AssetSource):
            return None
        try:
            return self.adapter.asset_call(url)
        except UpstreamError as exc:
            raise self._scrubbed(exc) from exc.__cause__

    def _scrubbed(self, exc: UpstreamError) -> UpstreamError:
        """The same error (class, status, retry-after) with its provider text made safe to keep."""
        exc.message = self.scrubber.provider_text(exc.message)
        exc.code = None if exc.code is None else self.scrubber.provider_text(exc.code)
        exc.args = (exc.message,)
        return exc


def build_upstreams(
    configs: Mapping[str, ProviderConfig],
    client: httpx.AsyncClient,
    *,
    observe: CallObserver,
    capacity: CapacitySink,
    scrubber: Scrubber | None = None,
) -> dict[str, Upstream]:
    upstreams: dict[str, Upstream] = {}
    for provider, config in configs.items():
        factory = PROVIDERS[_adapter_kind(provider, config)]
        settings = ProviderSettings(
            base_url=config.base_url,
            api_key=secret_from_env(config.api_key_env, what=f"providers.{provider}.api_key_env"),
            timeout_s=config.timeout_s,
            options=config.options,
            name=provider,
            key_header=config.key_header,
            query=dict(config.query),
        )
        try:
            adapter = factory(client, settings, observe=observe, capacity=capacity)
        except ValueError as exc:  # an adapter refusing its `options` (msgspec.ValidationError is one)
            raise ConfigError(f"providers.{provider}.options: {exc}") from exc
        traits = adapter.traits
        interval_s = config.poll_interval_s or traits.poll_interval_s
        upstreams[provider] = Upstream(
            adapter=adapter,
            enabled=config.enabled,
            max_job_duration_s=config.max_job_duration_s or traits.max_job_duration_s,
            cadence=_cadence(provider, config, interval_s),
            scrubber=scrubber or Scrubber(),
        )
    return upstreams


def _adapter_kind(provider: str, config: ProviderConfig) -> str:
    """The adapter kind serving `provider`; only a generic kind takes another slug or connection options."""
    kind = config.adapter or provider
    if kind not in PROVIDERS:
        raise ConfigError(f"providers.{provider}: no adapter {kind!r} (known: {', '.join(PROVIDERS)})")
    if kind not in GENERIC_ADAPTERS and (kind != provider or config.key_header or config.query):
        generic = ", ".join(sorted(GENERIC_ADAPTERS))
        raise ConfigError(
            f"providers.{provider}: adapter {kind!r} serves only its own slug and takes no key_header or query"
            f" (generic adapters: {generic})"
        )
    return kind


def _cadence(provider: str, config: ProviderConfig, interval_s: float) -> Cadence:
    """The provider's cadence, bounded by its configured status window (`headroom.windows`, scope "status")."""
    window = next(((w.limit, w.per_s) for w in config.headroom.windows if w.scope == Operation.STATUS), None)
    try:
        return resolve_cadence(config.polling, interval_s=interval_s, status_window=window)
    except ValueError as exc:
        raise ConfigError(f"providers.{provider}.polling: {exc}") from exc

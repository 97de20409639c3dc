"""The explicit table of provider adapters by slug; the one place a new provider is wired in.
Holds no configuration and builds nothing itself."""

from __future__ import annotations

from typing import Protocol

import httpx

from providers.contract import CapacitySink, ProviderSettings, VideoProvider
from providers.fal import FalProvider
from providers.nanogpt import NanoGptProvider
from providers.openai import OpenAiCompatibleProvider
from providers.transport import CallObserver
from providers.veo import VeoProvider
from providers.videogen import VideoGenProvider
from providers.videogenapi import VideoGenApiProvider
from providers.vidgen import VidgenProvider


class ProviderFactory(Protocol):
    """Builds one adapter over the shared client; every adapter class satisfies this."""

    def __call__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        observe: CallObserver = ...,
        capacity: CapacitySink = ...,
    ) -> VideoProvider: ...


PROVIDERS: dict[str, ProviderFactory] = {
    "vidgen": VidgenProvider,
    "videogen": VideoGenProvider,
    "videogenapi": VideoGenApiProvider,
    "nanogpt": NanoGptProvider,
    "veo": VeoProvider,
    "fal": FalProvider,
    "openai": OpenAiCompatibleProvider,
}

# Adapter kinds that may serve several configured providers (`adapter = "openai"` under any slug) and read the
# connection options `key_header` and `query`; every other kind is configured under its own slug only.
GENERIC_ADAPTERS: frozenset[str] = frozenset({"openai"})

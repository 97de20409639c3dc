"""The thin async Vidgen shell: build → send → parse over an injected httpx client. All vendor knowledge
lives in `translate`/`errors`; this only does I/O and caches the models catalogue."""

from __future__ import annotations

import asyncio
import time

import httpx

from providers.contract import (
    CapacityReport,
    CapacitySink,
    GenerationRequest,
    HttpCall,
    InvalidUpstreamRequest,
    ProviderSettings,
    ProviderTraits,
    Reply,
    UpstreamJob,
    UpstreamStatus,
    ignore_capacity,
)
from providers.transport import CallObserver, Transport, ignore_calls
from providers.vidgen.errors import classify_error
from providers.vidgen.translate import (
    build_models,
    build_optimize,
    build_poll,
    build_submit,
    check_catalogue,
    parse_models,
    parse_optimize,
    parse_status,
    parse_submit,
)
from providers.vidgen.wire import SLUG, VidgenCatalogue

CATALOGUE_TTL_S = 300.0


class VidgenProvider:
    """Vidgen API v2 behind the `VideoProvider` protocol."""

    provider = SLUG
    # seed 000 "Polling Strategy": 5 s interval, 360 polls (30 min); seed 000 lists no cancel action.
    traits = ProviderTraits(poll_interval_s=5.0, max_job_duration_s=1800.0, can_cancel=False)

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        observe: CallObserver = ignore_calls,
        capacity: CapacitySink = ignore_capacity,
    ) -> None:
        self._settings = settings
        self._capacity = capacity
        self._transport = Transport(client, settings, provider=SLUG, observe=observe)
        self._catalogue: VidgenCatalogue | None = None
        self._catalogue_at_s = 0.0
        self._catalogue_lock = asyncio.Lock()

    async def _send(self, call: HttpCall) -> Reply:
        reply = await self._transport.send(call)
        if not 200 <= reply.status_code < 300:
            error = classify_error(reply, now_s=time.time())
            if error.retry_after_s is not None:
                # Vidgen documents no limits; an unexpected 429 with Retry-After is still capacity news.
                self._capacity(CapacityReport(provider=SLUG, remaining=0, retry_after_s=error.retry_after_s))
            raise error
        return reply

    async def _offered(self) -> VidgenCatalogue:
        """The `models` reply, fetched on first use and refreshed at most every CATALOGUE_TTL_S."""
        async with self._catalogue_lock:
            stale = time.monotonic() - self._catalogue_at_s > CATALOGUE_TTL_S
            if self._catalogue is None or stale:
                self._catalogue = parse_models(await self._send(build_models(self._settings)))
                self._catalogue_at_s = time.monotonic()
            return self._catalogue

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        call = build_submit(request, self._settings)
        # Checked before generate: Vidgen silently swaps an unknown model for its first one (seed 000).
        check_catalogue(request, await self._offered())
        return parse_submit(await self._send(call), request)

    async def enhance_prompt(self, prompt: str, *, upstream_model: str) -> str:
        """seed 000 `optimize`: the prompt enhanced on its own; the model is checked first (an unknown one would
        silently use the first model's enhancement prompt)."""
        call = build_optimize(prompt, upstream_model, self._settings)
        offered = await self._offered()
        if upstream_model not in offered.models:
            raise InvalidUpstreamRequest(f"vidgen does not offer model {upstream_model!r}", provider=SLUG)
        return parse_optimize(await self._send(call))

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        return parse_status(await self._send(build_poll(job, self._settings)))

    async def cancel(self, job: UpstreamJob) -> bool:
        return False  # no cancel action exists (seed 000 "Endpoints"); no call is made

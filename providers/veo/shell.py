"""The thin async Veo shell: build -> send -> parse over an injected httpx client, and a 429 to the capacity sink.
All vendor knowledge lives in `translate`/`errors`; this only does I/O. The `options` are checked once, when the
adapter is built."""

from __future__ import annotations

import time

import httpx

from providers.contract import (
    CapacitySink,
    GenerationRequest,
    HttpCall,
    ProviderSettings,
    ProviderTraits,
    Reply,
    UpstreamJob,
    UpstreamStatus,
    ignore_capacity,
)
from providers.transport import CallObserver, Transport, ignore_calls
from providers.veo.errors import classify_error, error_capacity
from providers.veo.translate import build_asset, build_poll, build_submit, parse_status, parse_submit, veo_options
from providers.veo.wire import SLUG


class VeoProvider:
    """Google Veo (Gemini API or Vertex AI) behind the `VideoProvider` protocol."""

    provider = SLUG
    # The Gemini docs poll every 10 s; generation takes 11 s to 6 min. No cancel is documented for these
    # operations, so none is made.
    traits = ProviderTraits(poll_interval_s=10.0, max_job_duration_s=1800.0, can_cancel=False)

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        observe: CallObserver = ignore_calls,
        capacity: CapacitySink = ignore_capacity,
    ) -> None:
        veo_options(settings)  # a bad `options` table fails at start, not on the first job
        self._settings = settings
        self._capacity = capacity
        self._transport = Transport(client, settings, provider=SLUG, observe=observe)

    async def _send(self, call: HttpCall, *, model: str) -> Reply:
        reply = await self._transport.send(call)
        if not 200 <= reply.status_code < 300:
            error = classify_error(reply, now_s=time.time())
            if (report := error_capacity(error, model=model)) is not None:
                self._capacity(report)
            raise error
        return reply

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        reply = await self._send(build_submit(request, self._settings), model=request.upstream_model)
        return parse_submit(reply, request, self._settings)

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        reply = await self._send(build_poll(job, self._settings), model=job.upstream_model)
        return parse_status(reply, self._settings)

    def asset_call(self, url: str) -> HttpCall:
        return build_asset(url, self._settings)  # the video downloads with the API credential (AssetSource)

    async def cancel(self, job: UpstreamJob) -> bool:
        return False  # no cancel is documented for Veo operations; no call is made

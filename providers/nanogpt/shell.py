"""The thin async NanoGPT shell: build → send → parse over an injected httpx client, reporting balance and limit
news to the capacity sink. All vendor knowledge lives in `translate`/`errors`; this only does I/O."""

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
from providers.nanogpt.errors import classify_error, error_capacity
from providers.nanogpt.translate import (
    build_poll,
    build_submit,
    parse_balance,
    parse_status,
    parse_submit,
    source_link,
)
from providers.nanogpt.wire import MAX_SOURCE_VIDEO_BYTES, SLUG
from providers.source_video import build_fetch, parse_fetch, with_video
from providers.transport import CallObserver, Transport, ignore_calls


class NanoGptProvider:
    """NanoGPT's video API behind the `VideoProvider` protocol."""

    provider = SLUG
    # §4.10: poll every 5 s, a 15 min cap for slow models (Sora/Veo); §5: a cancelled state but no cancel call.
    traits = ProviderTraits(poll_interval_s=5.0, max_job_duration_s=900.0, can_cancel=False)

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

    async def _send(self, call: HttpCall) -> Reply:
        reply = await self._transport.send(call)
        if not 200 <= reply.status_code < 300:
            error = classify_error(reply, operation=call.operation, now_s=time.time())
            if (news := error_capacity(error)) is not None:
                self._capacity(news)
            raise error
        return reply

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        if (link := source_link(request)) is not None:
            # The source's link is not one NanoGPT takes (HTTPS only): its bytes go inline instead.
            fetched = await self._transport.send(build_fetch(link))
            request = with_video(request, parse_fetch(fetched, provider=SLUG, max_bytes=MAX_SOURCE_VIDEO_BYTES))
        reply = await self._send(build_submit(request, self._settings))
        job = parse_submit(reply, request)
        if (balance := parse_balance(reply)) is not None:
            self._capacity(balance)
        return job

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        reply = await self._send(build_poll(job, self._settings))
        return parse_status(reply, precharged_micros=job.reported_cost_micros)

    async def cancel(self, job: UpstreamJob) -> bool:
        return False  # §5: NanoGPT exposes a CANCELED state but no public cancel call; no call is made

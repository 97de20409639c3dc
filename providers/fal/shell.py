"""The thin async fal shell: build -> send -> parse over an injected httpx client. A COMPLETED status is read
once more, from the result, to learn the outcome. Vendor knowledge lives in `translate`/`errors`."""

from __future__ import annotations

import time

import httpx

from providers.contract import (
    CapacityReport,
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
from providers.fal.errors import classify_error
from providers.fal.translate import (
    build_cancel,
    build_poll,
    build_result,
    build_submit,
    parse_cancel,
    parse_result,
    parse_status,
    parse_submit,
)
from providers.fal.wire import SLUG
from providers.transport import CallObserver, Transport, ignore_calls


class FalProvider:
    """fal's queue API (queue.fal.run) behind the `VideoProvider` protocol."""

    provider = SLUG
    # The queue docs poll every few seconds (their recipes: 5 s); video models run minutes, and the queue never drops a
    # request (it waits for a runner), so a 30 min cap [inference]. Cancel exists (PUT .../cancel).
    traits = ProviderTraits(poll_interval_s=5.0, max_job_duration_s=1800.0, can_cancel=True)

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
            error = classify_error(reply, now_s=time.time())
            if error.retry_after_s is not None:
                self._capacity(CapacityReport(provider=SLUG, remaining=0, retry_after_s=error.retry_after_s))
            raise error
        return reply

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        return parse_submit(await self._send(build_submit(request, self._settings)), request)

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        status = parse_status(await self._send(build_poll(job, self._settings)))
        if status is not None:
            return status
        return parse_result(await self._transport.send(build_result(job, self._settings)))

    async def cancel(self, job: UpstreamJob) -> bool:
        return parse_cancel(await self._transport.send(build_cancel(job, self._settings)))

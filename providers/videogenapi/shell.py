"""The thin async videogenapi shell: build → send → parse over an injected httpx client. All vendor knowledge
lives in `translate`/`errors`; this only does I/O and hands usage counters to the capacity sink."""

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
from providers.transport import CallObserver, Transport, ignore_calls
from providers.videogenapi.errors import classify_error
from providers.videogenapi.translate import (
    build_poll,
    build_submit,
    build_user,
    parse_capacity,
    parse_status,
    parse_submit,
    parse_user,
)
from providers.videogenapi.wire import SLUG


class VideoGenApiProvider:
    """videogenapi (videogenapi.com) behind the `VideoProvider` protocol."""

    provider = SLUG
    # providers.md §3.8: 5 s polls; jobs run long (the docs' example took 764 s), so a 30 min hard cap.
    # Seed 002 has no cancel endpoint.
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

    async def _send(self, call: HttpCall, *, model: str) -> Reply:
        reply = await self._transport.send(call)
        now_s = time.time()
        for report in parse_capacity(reply, model=model, now_s=now_s):
            self._capacity(report)
        if not 200 <= reply.status_code < 300:
            raise classify_error(reply, now_s=now_s)
        return reply

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        call = build_submit(request, self._settings)
        return parse_submit(await self._send(call, model=request.upstream_model), request)

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        return parse_status(await self._send(build_poll(job, self._settings), model=job.upstream_model))

    async def check_account(self) -> CapacityReport:
        """A read-only credential check (`GET /v1/user`): raises the auth error class for a bad key, else the
        month's usage (also handed to the capacity sink). For a `check` command; nothing is generated."""
        reply = await self._transport.send(build_user(self._settings))
        if not 200 <= reply.status_code < 300:
            raise classify_error(reply, now_s=time.time())
        report = parse_user(reply)
        self._capacity(report)
        return report

    async def cancel(self, job: UpstreamJob) -> bool:
        return False  # seed 002 lists no cancel endpoint; no call is made

"""The thin async shell of the generic OpenAI-compatible adapter: build → send → parse over an injected httpx
client. One class serves every configured instance (OpenAI, Azure OpenAI, another gateway), each under its slug."""

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
from providers.openai.errors import classify_error, parse_capacity
from providers.openai.translate import (
    build_asset,
    build_cancel,
    build_poll,
    build_submit,
    parse_status,
    parse_submit,
    provider_name,
)
from providers.transport import CallObserver, Transport, ignore_calls


class OpenAiCompatibleProvider:
    """Any `/v1/videos` service behind the `VideoProvider` protocol, plus `AssetSource`: its content URLs need
    the key, so the gateway downloads them through `asset_call` and streams them."""

    # Sora renders take minutes [inference: the guide shows no figure]: 10 s polls, a one-hour hard cap.
    # `DELETE /videos/{id}` removes the video (OpenAI) or cancels the job (another gateway).
    traits = ProviderTraits(poll_interval_s=10.0, max_job_duration_s=3600.0, can_cancel=True)

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        observe: CallObserver = ignore_calls,
        capacity: CapacitySink = ignore_capacity,
    ) -> None:
        self.provider = provider_name(settings)
        self._settings = settings
        self._capacity = capacity
        self._transport = Transport(client, settings, provider=self.provider, observe=observe)

    async def _send(self, call: HttpCall) -> Reply:
        reply = await self._transport.send(call)
        now_s = time.time()
        for report in parse_capacity(reply, provider=self.provider, scope=call.operation, now_s=now_s):
            self._capacity(report)
        if not 200 <= reply.status_code < 400:
            raise classify_error(reply, provider=self.provider, now_s=now_s)
        return reply

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        reply = await self._send(build_submit(request, self._settings))
        return parse_submit(reply, request, self._settings)

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        return parse_status(await self._send(build_poll(job, self._settings)), job, self._settings)

    async def cancel(self, job: UpstreamJob) -> bool:
        await self._send(build_cancel(job, self._settings))
        return True

    def asset_call(self, url: str) -> HttpCall:
        return build_asset(url, self._settings)  # the content route needs the key (AssetSource)

"""Where `GET /v1/videos/{id}/content` redirects: the provider's asset URL, refreshed first when it has expired
or is about to (VideoGen's `downloadUrlExpiresAt`, Vidgen's presigned `X-Amz-Expires`), so a client is never
sent to a dead link. A refresh is one status call (counted in the provider's status window) whose fresh URL is
written back to the job; concurrent requests for one job in this process share it. A provider that serves its assets
only with its own credential (Veo) is never redirected to: the gateway downloads with the credential and streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Literal

import httpx
import msgspec
import structlog

from gateway.errors import GatewayError, UpstreamFailed, UpstreamTimedOut
from gateway.schema.job import VideoJob
from gateway.upstreams import Upstream
from gateway.videos.writer import JobWriter
from providers.contract import ErrorClass, Output, UpstreamError
from routing.gate import ProviderGate

log = structlog.get_logger("gateway.videos.assets")

Variant = Literal["video", "thumbnail"]


class AssetDownload(msgspec.Struct, frozen=True, kw_only=True):
    """An open authenticated download: stream `chunks`, then await `close()` whatever happened."""

    media_type: str
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


class AssetLinks:
    def __init__(
        self,
        *,
        writer: JobWriter,
        upstreams: Mapping[str, Upstream],
        gate: ProviderGate,
        clock: Callable[[], float],
        margin_s: float,
        client: httpx.AsyncClient,
    ) -> None:
        self._client = client
        self._writer = writer
        self._upstreams = upstreams
        self._gate = gate
        self._clock = clock
        self._margin_s = margin_s
        self._refreshing: dict[str, asyncio.Task[Output]] = {}

    async def output(self, job: VideoJob) -> Output:
        """The completed job's output with URLs valid for at least the margin; raises a 502/504 gateway error
        when they need refreshing and the provider cannot give fresh ones."""
        assert job.output is not None
        expires_at = job.output.expires_at
        if expires_at is None or expires_at - self._clock() > self._margin_s:
            return job.output
        refreshing = self._refreshing.get(job.id)
        if refreshing is None:
            refreshing = asyncio.create_task(self._refresh(job))
            self._refreshing[job.id] = refreshing
            refreshing.add_done_callback(lambda _: self._refreshing.pop(job.id, None))
        return await asyncio.shield(refreshing)

    async def download(self, job: VideoJob, url: str) -> AssetDownload | None:
        """The asset opened with the provider's credential, where its provider needs one; None to redirect."""
        upstream = self._upstreams.get(job.provider or "")
        try:
            call = None if upstream is None else upstream.asset_call(url)
        except UpstreamError as exc:
            raise UpstreamFailed(exc.message, code="asset_download_failed", provider=job.provider) from exc
        if call is None:
            return None
        request = self._client.build_request(call.method, call.path, headers=call.headers)
        try:
            response = await self._client.send(request, stream=True)
            location = response.headers.get("location")
            if response.is_redirect and location:
                # Another gateway as the provider redirects to its own provider's asset: one hop, without the
                # credential (the target may be another host).
                await response.aclose()
                hop = self._client.build_request("GET", request.url.join(location))
                response = await self._client.send(hop, stream=True)
        except httpx.TimeoutException as exc:
            message = f"{job.provider} did not start sending the video in time"
            raise UpstreamTimedOut(message, code="asset_download_timeout", provider=job.provider) from exc
        except httpx.TransportError as exc:
            message = f"{job.provider} could not be reached for the video: {type(exc).__name__}"
            raise UpstreamFailed(message, code="asset_download_failed", provider=job.provider) from exc
        if response.status_code != 200:
            await response.aclose()
            log.warning("asset_download_failed", job_id=job.id, provider=job.provider, status=response.status_code)
            message = f"{job.provider} answered {response.status_code} for the video"
            raise UpstreamFailed(message, code="asset_download_failed", provider=job.provider)
        media_type = response.headers.get("content-type", "video/mp4")
        return AssetDownload(media_type=media_type, chunks=response.aiter_bytes(), close=response.aclose)

    async def _refresh(self, job: VideoJob) -> Output:
        upstream = self._upstreams.get(job.provider or "")
        if upstream is None or job.upstream is None:
            raise _refresh_failed(
                job, f"provider {job.provider!r} is not configured: the expired link cannot be renewed"
            )
        if not await self._gate.status_call(upstream.provider, job.id):
            raise _refresh_failed(
                job, f"{job.provider}'s status-call window is spent: the expired link cannot be renewed now"
            )
        try:
            status = await upstream.poll(job.upstream)
        except UpstreamError as exc:
            log.warning("asset_refresh_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)
            if exc.error_class == ErrorClass.TIMEOUT:
                raise UpstreamTimedOut(
                    f"{job.provider} did not answer in time for a fresh link",
                    code="asset_refresh_timeout",
                    provider=job.provider,
                ) from exc
            raise _refresh_failed(job, f"{job.provider} could not renew the link: {exc.message}") from exc
        if status.status != "completed" or status.output is None:
            raise _refresh_failed(job, f"{job.provider} now reports the video as {status.status}: no fresh link")
        await self._keep(job, status.output)
        return status.output

    async def _keep(self, job: VideoJob, output: Output) -> None:
        """Write the fresh output back (compare-and-set; a lost race only means someone else wrote first)."""
        updated = msgspec.structs.replace(job, output=output, updated_at=self._clock())
        if await self._writer.write(job, updated) is not None:
            log.info("asset_link_refreshed", job_id=job.id, provider=job.provider, expires_at=output.expires_at)


def _refresh_failed(job: VideoJob, message: str) -> GatewayError:
    return UpstreamFailed(message, code="asset_refresh_failed", provider=job.provider)

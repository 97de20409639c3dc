"""Where `GET /v1/videos/{id}/content` redirects: the provider's asset URL, refreshed first when it has expired
or is about to (VideoGen's `downloadUrlExpiresAt`, Vidgen's presigned `X-Amz-Expires`), so a client is never
sent to a dead link. A refresh is one status call (counted in the provider's status window) whose fresh URL is
written back to the job; concurrent requests for one job in this process share it. An asset only the provider's
key opens (OpenAI's content route) is fetched through its adapter and relayed instead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Literal

import msgspec
import structlog

from gateway.errors import GatewayError, UpstreamFailed, UpstreamTimedOut
from gateway.schema.job import VideoJob
from gateway.upstreams import Upstream
from gateway.videos.writer import JobWriter
from providers.contract import Asset, ErrorClass, Output, UpstreamError
from routing.gate import ProviderGate

log = structlog.get_logger("gateway.videos.assets")

Variant = Literal["video", "thumbnail"]


class AssetLinks:
    def __init__(
        self,
        *,
        writer: JobWriter,
        upstreams: Mapping[str, Upstream],
        gate: ProviderGate,
        clock: Callable[[], float],
        margin_s: float,
    ) -> None:
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
            raise _upstream_failed(job, exc, "refresh", "answer in time for a fresh link", "renew the link") from exc
        if status.status != "completed" or status.output is None:
            raise _refresh_failed(job, f"{job.provider} now reports the video as {status.status}: no fresh link")
        await self._keep(job, status.output)
        return status.output

    async def download(self, job: VideoJob, url: str) -> Asset:
        """An asset only the provider's key opens, fetched through its adapter for the client (a 502/504 when the
        provider cannot give it)."""
        upstream = self._upstreams.get(job.provider or "")
        if upstream is None:
            raise _download_failed(job, f"provider {job.provider!r} is not configured: its asset cannot be fetched")
        try:
            return await upstream.download(url)
        except UpstreamError as exc:
            raise _upstream_failed(job, exc, "download", "send the asset in time", "send the asset") from exc

    async def _keep(self, job: VideoJob, output: Output) -> None:
        """Write the fresh output back (compare-and-set; a lost race only means someone else wrote first)."""
        updated = msgspec.structs.replace(job, output=output, updated_at=self._clock())
        if await self._writer.write(job, updated) is not None:
            log.info("asset_link_refreshed", job_id=job.id, provider=job.provider, expires_at=output.expires_at)


def _download_failed(job: VideoJob, message: str) -> GatewayError:
    return UpstreamFailed(message, code="asset_download_failed", provider=job.provider)


def _upstream_failed(job: VideoJob, exc: UpstreamError, step: str, late: str, failed: str) -> GatewayError:
    """An asset `step` (refresh, download) the provider could not serve: a 504 when it timed out, else a 502."""
    log.warning(f"asset_{step}_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)
    if exc.error_class == ErrorClass.TIMEOUT:
        return UpstreamTimedOut(f"{job.provider} did not {late}", code=f"asset_{step}_timeout", provider=job.provider)
    message = f"{job.provider} could not {failed}: {exc.message}"
    return UpstreamFailed(message, code=f"asset_{step}_failed", provider=job.provider)


def _refresh_failed(job: VideoJob, message: str) -> GatewayError:
    return UpstreamFailed(message, code="asset_refresh_failed", provider=job.provider)

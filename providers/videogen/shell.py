"""The thin async VideoGen shell: build → send → parse over an injected httpx client, the three-step image
upload before generate, and a capacity report on every API reply. Vendor knowledge lives in the pure modules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx

from providers.contract import (
    CapacitySink,
    GenerationRequest,
    HttpCall,
    InlineMedia,
    ProviderSettings,
    ProviderTraits,
    Reply,
    UpstreamJob,
    UpstreamStatus,
    UpstreamTimeout,
    Video,
    VideoData,
    ignore_capacity,
)
from providers.source_video import build_fetch, parse_fetch
from providers.transport import CallObserver, Transport, ignore_calls
from providers.videogen.errors import classify_error, parse_capacity
from providers.videogen.translate import (
    build_cancel,
    build_file,
    build_poll,
    build_put,
    build_submit,
    build_upload,
    check_put,
    parse_cancel,
    parse_file,
    parse_status,
    parse_submit,
    parse_upload,
    plan_uploads,
)
from providers.videogen.wire import (
    SLUG,
    UploadedFiles,
)

# Waits between `GET /v1/files/{id}` checks after the PUT: ~30 s in all, then the upload is given up. The SDK
# polls every 1.5 s for up to an hour (providers.md §2.10); a submit cannot wait that long [inference].
FILE_READY_DELAYS_S: tuple[float, ...] = (0.25, 0.5, 1.0, 1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 5.0, 5.0)


class VideoGenProvider:
    """VideoGen (videogen.io) behind the `VideoProvider` protocol."""

    provider = SLUG
    # providers.md §2.10: the SDK gives up after 1 h, so 3600 s; 5 s cadence is the recommendation there,
    # kinder than the SDK's 1.5 s to the 5,000 status calls/h per key (§2.6). Cancel exists (§2.2).
    traits = ProviderTraits(poll_interval_s=5.0, max_job_duration_s=3600.0, can_cancel=True)

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: ProviderSettings,
        *,
        observe: CallObserver = ignore_calls,
        capacity: CapacitySink = ignore_capacity,
        file_ready_delays_s: Sequence[float] = FILE_READY_DELAYS_S,
    ) -> None:
        self._settings = settings
        self._capacity = capacity
        self._transport = Transport(client, settings, provider=SLUG, observe=observe)
        self._file_ready_delays_s = tuple(file_ready_delays_s)

    async def _send(self, call: HttpCall) -> Reply:
        """One API call: report its rate-limit headers (every reply has them; each rate-limit group of providers.md
        §2.6 the adapter calls is one operation, so the operation is the report's scope), raise on an error reply."""
        reply = await self._transport.send(call)
        if (report := parse_capacity(reply, call.operation)) is not None:
            self._capacity(report)
        if not 200 <= reply.status_code < 300:
            raise classify_error(reply, now_s=time.time())
        return reply

    async def _upload(self, media: InlineMedia, role: str) -> str:
        """Upload one file and wait until VideoGen has processed it (providers.md §2.11); its file id."""
        call = build_upload(media, self._settings, display_name=f"{role}-{media.digest[:16]}")
        ticket = parse_upload(await self._send(call))
        check_put(await self._transport.send(build_put(ticket, media)))  # storage, not the API: no capacity report
        for delay_s in (*self._file_ready_delays_s, None):
            if parse_file(await self._send(build_file(ticket.file_id, self._settings))):
                return ticket.file_id
            if delay_s is not None:
                await asyncio.sleep(delay_s)
        message = f"videogen file {ticket.file_id} was not processed after {len(self._file_ready_delays_s) + 1} checks"
        raise UpstreamTimeout(message, provider=SLUG, outcome_unknown=False)

    async def _upload_all(self, request: GenerationRequest) -> UploadedFiles:
        plan = plan_uploads(request)
        try:
            start = None if plan.start_frame is None else await self._upload(plan.start_frame, "start-frame")
            references = [await self._upload(image, "reference") for image in plan.references]
            video = None if plan.video is None else await self._upload(await self._source(plan.video), "source")
        except UpstreamTimeout as exc:
            # Nothing is generated (or billed) before generate is sent, so an upload timeout is a known outcome.
            raise UpstreamTimeout(exc.message, provider=SLUG, outcome_unknown=False) from exc
        return UploadedFiles(start_frame=start, references=tuple(references), video=video)

    async def _source(self, video: Video) -> VideoData:
        """The source video's bytes: VideoGen takes files only, so a link is fetched first (no credentials sent)."""
        if isinstance(video, VideoData):
            return video
        return parse_fetch(await self._transport.send(build_fetch(video.url)), provider=SLUG, max_bytes=None)

    async def submit(self, request: GenerationRequest) -> UpstreamJob:
        files = await self._upload_all(request)
        reply = await self._send(build_submit(request, self._settings, files))
        return parse_submit(reply, request)

    async def poll(self, job: UpstreamJob) -> UpstreamStatus:
        return parse_status(await self._send(build_poll(job, self._settings)))

    async def cancel(self, job: UpstreamJob) -> bool:
        return parse_cancel(await self._send(build_cancel(job, self._settings)))

"""A job's status changes as server-sent events: the current Video at once, then one event per change of status
or progress seen by reading the store at a modest interval, ending after the terminal event; keep-alive comments
in between. Reads the store only, like every client read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog

from gateway.errors import StoreUnavailable
from gateway.schema.job import VideoJob

log = structlog.get_logger("gateway.events")

WATCH_INTERVAL_S = 0.5
KEEPALIVE_S = 15.0
KEEPALIVE = b": keep-alive\n\n"


def event_frame(job: VideoJob, video_json: bytes) -> bytes:
    """`event: video.<status>`, `id:` the record's version (it only grows), `data:` the Video (one JSON line)."""
    return b"id: %d\nevent: video.%s\ndata: %s\n\n" % (job.version, job.status.encode(), video_json)


async def job_events(
    first: VideoJob,
    *,
    read: Callable[[str], Awaitable[VideoJob | None]],
    render: Callable[[VideoJob], bytes],
    interval_s: float = WATCH_INTERVAL_S,
    keepalive_s: float = KEEPALIVE_S,
) -> AsyncIterator[bytes]:
    """Frames for one job until it is terminal (a client delete ends it as `cancelled`). A store outage only
    skips reads; a client that disconnects cancels this generator at its sleep, which ends it quietly."""
    job = first
    yield event_frame(job, render(job))
    shown = (job.status, job.progress)
    quiet_s = 0.0
    while not job.terminal:
        await asyncio.sleep(interval_s)
        quiet_s += interval_s
        try:
            current = await read(job.id)
        except StoreUnavailable:
            log.warning("event_stream_read_failed", job_id=job.id)
            current = job
        if current is None:
            return  # the record is gone (never the case for an accepted job): nothing more will happen
        job = current
        if (job.status, job.progress) != shown:
            shown = (job.status, job.progress)
            quiet_s = 0.0
            yield event_frame(job, render(job))
        elif quiet_s >= keepalive_s:
            quiet_s = 0.0
            yield KEEPALIVE

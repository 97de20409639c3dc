"""`GET /v1/videos/{id}/events`: a job's status changes as server-sent events (gateway/videos/events.py)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Stream

from gateway.api.videos import Session, content_base
from gateway.schema.job import VideoJob, to_video
from gateway.store.base import JobStore
from gateway.videos.events import job_events

_VideoId = Annotated[str, PathParameter(max_length=64)]
_JSON = msgspec.json.Encoder()


@get(
    "/v1/videos/{video_id:str}/events",
    summary="Stream a video job's status changes (server-sent events)",
    description=(
        "`text/event-stream`: an event with the current Video at once, then one per change of status or progress"
        " (`event: video.<status>`, `data:` the Video), ending after the terminal event; `: keep-alive` comments"
        " while nothing changes."
    ),
    operation_id="streamVideoEvents",
    media_type="text/event-stream",
)
async def stream_video_events(
    request: Request[Any, Any, Any],
    video_id: _VideoId,
    session: NamedDependency[Session],
    store: NamedDependency[JobStore],
) -> Stream:
    caller = session.caller
    caller.require("videos")
    job = await session.service.get(caller, video_id)  # a missing or another team's job: 404 before streaming
    base = content_base(request)

    def render(current: VideoJob) -> bytes:
        return _JSON.encode(to_video(current, content_url=f"{base}/v1/videos/{current.id}/content"))

    return Stream(
        job_events(job, read=store.get, render=render),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

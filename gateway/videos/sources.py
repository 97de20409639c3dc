"""Video-to-video intake: the source video of a remix, edit or extension made ready for routing. A gateway video
of the caller's team (any provider made it) becomes a fresh link to its asset, renewed first when it expires within
the margin; an uploaded file must be a real MP4. Everything a client can get wrong is a 4xx here, before any spend."""

from __future__ import annotations

import hashlib
import math

from gateway.auth import Caller
from gateway.config import LimitsSettings
from gateway.errors import Conflict, InvalidRequest, PayloadTooLarge
from gateway.schema.job import SourceRef
from gateway.schema.wire import ExtendVideoBody, RemixVideoBody
from gateway.videos.assets import AssetLinks
from gateway.videos.intake import Intake, route_query
from gateway.videos.service import VideoService
from providers.contract import GenerationRequest, Scene, Video, VideoData, VideoInput, VideoOperation, VideoUrl
from providers.mp4 import duration_s, is_mp4
from providers.prompts import split_negative_terms
from routing.router import AUTO

Source = tuple[Video, SourceRef]


async def job_source(
    caller: Caller, video_id: str, operation: VideoOperation, *, service: VideoService, assets: AssetLinks
) -> Source:
    """Another team's video is a 404 (as for every read), one not completed a 409 naming its status."""
    job = await service.get(caller, video_id)
    if job.status != "completed" or job.output is None:
        raise Conflict(
            f"source video {job.id} is {job.status}, not completed", code="source_not_completed", param="video"
        )
    output = await assets.output(job)
    ref = SourceRef(
        operation=operation,
        seconds=job.output_seconds or 0,
        video_id=job.id,
        provider=job.provider,
        upstream_id=None if job.upstream is None else job.upstream.upstream_id,
    )
    return VideoUrl(url=output.video_url), ref


def upload_source(data: bytes, operation: VideoOperation, *, limits: LimitsSettings) -> Source:
    """An uploaded source: an MP4 (its `ftyp` box first) whose movie header gives its length."""
    if len(data) > limits.max_video_bytes:
        raise PayloadTooLarge(f"the source video exceeds {limits.max_video_bytes} bytes", param="video")
    if not is_mp4(data):
        raise InvalidRequest("`video` must be an MP4 file", code="invalid_value", param="video")
    seconds = duration_s(data)
    if seconds is None or seconds <= 0:
        raise InvalidRequest("`video` has no readable length (no movie header)", code="invalid_value", param="video")
    digest = hashlib.sha256(data).hexdigest()
    ref = SourceRef(operation=operation, seconds=math.ceil(seconds), digest=digest, size_bytes=len(data))
    return VideoData(mime_type="video/mp4", data=data, digest=digest), ref


def video_intake(body: RemixVideoBody, source: Source) -> Intake:
    """The routing query of a video-to-video request: an extension asks for (and is billed) the seconds it adds,
    a remix or an edit the source's length. Without a `model`, routing picks among every model (`auto`)."""
    video, ref = source
    positive, negatives = split_negative_terms(body.prompt)
    if not positive:
        raise InvalidRequest("the prompt has no positive text", code="invalid_value", param="prompt")
    added_s = int(body.seconds) if isinstance(body, ExtendVideoBody) else None
    request = GenerationRequest(
        upstream_model="",
        scenes=(Scene(prompt=positive, negative_terms=negatives),),
        seconds=ref.seconds if added_s is None else added_s,
        video_input=VideoInput(operation=ref.operation, video=video, source_seconds=ref.seconds),
    )
    routing = body.routing
    return Intake(
        query=route_query(body.model or AUTO, request, routing),
        images=(),
        prompt=body.prompt,
        max_attempts=routing.max_attempts if routing else None,
        source=ref,
    )

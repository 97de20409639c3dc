"""`/v1/videos` routes: decode, authorise, hand to the service, render. No try/except here."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from litestar import Request, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery, HeaderParameter, PathParameter, QueryParameter
from litestar.response import Redirect, Stream
from litestar.response.base import ASGIResponse
from litestar.types import Scope

from gateway.api.bodies import read_body
from gateway.auth import Caller
from gateway.cadence import poll_hint_s
from gateway.config import Settings
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.schema.job import VideoJob, to_video
from gateway.schema.wire import CreateVideoBody, Video, VideoDeleted, VideoList
from gateway.videos.assets import AssetLinks
from gateway.videos.idempotency import IdempotentCreates
from gateway.videos.intake import Intake, image_data, normalize
from gateway.videos.service import VideoService
from gateway.webhooks.targets import requested_webhook
from providers.contract import ImageData

_VideoId = Annotated[str, PathParameter(max_length=64)]
_IdempotencyKey = Annotated[
    str | None,
    # Checked by gateway.videos.idempotency.check_key, which names the header in its 400.
    HeaderParameter(
        name="Idempotency-Key",
        description=(
            "1-255 printable ASCII characters, no spaces. The same key and request within 24 h return the job the"
            " first request made; the same key with another request is a 409."
        ),
    ),
]
_JSON = msgspec.json.Encoder()
# Where the status read's fast lane (gateway/api/fast_status.py) leaves the failure of its store read when it hands
# the request to the route: the route raises it rather than reading again, so a missing job or a store outage
# costs one read (and one wait for a timeout), as without the lane.
LANE_READ_FAILURE = "status_lane_read_failure"
# Where the create's fast lane (gateway/api/fast_create.py) leaves the failure of a create it tried before handing
# the request to the route: the route raises it rather than creating again.
LANE_CREATE_FAILURE = "create_lane_failure"
_REPLAYED = (("idempotent-replayed", "true"),)


class Session(NamedTuple):
    """The authenticated caller with the service and settings, resolved as ONE dependency: litestar resolves
    independent dependencies in a task group, which costs task spawns on every request."""

    caller: Caller
    service: VideoService
    settings: Settings


@post(
    "/v1/videos",
    status_code=202,
    summary="Create a video job",
    operation_id="createVideo",
    responses={202: ResponseSpec(data_container=Video, description="Request accepted, processing continues off-line")},
)
async def create_video(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    idempotency_key: _IdempotencyKey = None,
) -> ASGIResponse:
    """Route the request to a provider offering the model, submit it and answer 202 with the queued Video; follow
    it with `GET /v1/videos/{video_id}`, its events, or a webhook. The body is JSON or the OpenAI SDK's multipart.

    With `Idempotency-Key`, a repeat of the same request within 24 h answers 202 with the job the first one
    made (its current state) and `Idempotent-Replayed: true`; the same key with another request is a 409.

    Gateway fields sent as multipart (the OpenAI SDK's `extra_body`) use bracketed keys: `metadata[project]=x`,
    `routing[providers][]=nanogpt`. When no configured offering could ever serve the request as asked (mode,
    seconds, size, a field), the reply is a 400 `unsupported_request` naming what does not fit per offering and
    the models that could serve it. When offerings fit but none can take it at once and one's block lapses within
    the gateway's capacity wait (a 429 cooldown, a full rate window; 5 s by default), the reply waits for it;
    otherwise 503 `no_provider_available` (with `Retry-After` when a block lapses on its own)."""
    caller = session.caller
    caller.require("videos")
    failed = request.scope.get("state", {}).get(LANE_CREATE_FAILURE)
    if failed is not None:  # the create's fast lane decoded this very body and tried the create: its outcome, not a
        raise failed  # second create
    settings = session.settings
    # A create's own CPU is measured (bench/create_cpu.py): the base URL is worked out once, and the reply is
    # encoded here and handed over finished, as `get_video` does, rather than through litestar's Response.
    body, upload = await read_create(request, settings)
    state = request.app.state
    base = content_base(request)
    intake = create_intake(body, upload, caller=caller, settings=settings, state=state, base=base)
    creates: IdempotentCreates = state.creates
    job, replayed = await creates.create(caller, intake, metadata=dict(body.metadata), idempotency_key=idempotency_key)
    reply = create_reply(job, base)
    headers = _REPLAYED if replayed else None
    return ASGIResponse(body=reply, status_code=202, media_type=MediaType.JSON, headers=headers)


def create_intake(
    body: CreateVideoBody, upload: ImageData | None, *, caller: Caller, settings: Settings, state: State, base: str
) -> Intake:
    """The create body checked and normalized, its webhook included: one function for the route and the fast lane
    (gateway/api/fast_create.py)."""
    intake = normalize(body, limits=settings.limits, default_model=settings.default_model, upload=upload)
    if body.webhook is None:
        return intake
    webhook = requested_webhook(
        body.webhook,
        team=caller.team,
        settings=settings.webhooks,
        content_base=base,
        allow_loopback=state.webhook_loopback,
    )
    return msgspec.structs.replace(intake, webhook=webhook)


def create_reply(job: VideoJob, base: str) -> bytes:
    """The 202's body: the job as a Video."""
    return _JSON.encode(to_video(job, content_url=content_url(base, job.id)))


@get(
    "/v1/videos/{video_id:str}",
    summary="Retrieve a video job",
    operation_id="getVideo",
    responses={200: ResponseSpec(data_container=Video, description="The video job")},
)
async def get_video(
    request: Request[Any, Any, Any],
    video_id: _VideoId,
    session: NamedDependency[Session],
) -> ASGIResponse:
    """The job's current state. While it is not terminal, `openai-poll-after-ms` and `Retry-After` say when the
    next reading from the provider is due, so a poll then sees it."""
    # The status-poll hot path: encodes the Video itself and hands litestar a finished ASGI response
    # (bench/status_poll.py measures it against a bare route). Its happy path is usually answered before litestar
    # by gateway/api/fast_status.py, with the same `status_reply`.
    caller, service = session.caller, session.service
    caller.require("videos")
    failed = request.scope["state"].get(LANE_READ_FAILURE)
    if failed is not None:  # the fast lane's read of this job failed: its outcome, not a second read
        raise failed
    job = await service.get(caller, video_id)
    body, headers = status_reply(job, base=content_base(request), now=service.now())
    return ASGIResponse(body=body, media_type=MediaType.JSON, headers=headers)


def status_reply(job: VideoJob, *, base: str, now: float) -> tuple[bytes, list[tuple[str, str]]]:
    """The status read's body and poll headers: one function for the route and the fast lane, so the two replies
    cannot drift apart."""
    return _JSON.encode(to_video(job, content_url=content_url(base, job.id))), _poll_headers(job, now)


@get("/v1/videos", summary="List the team's video jobs", operation_id="listVideos")
async def list_videos(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    after: Annotated[str | None, QueryParameter(max_length=64)] = None,
    order: FromQuery[Literal["asc", "desc"]] = "desc",
    status: FromQuery[Literal["queued", "in_progress", "completed", "failed", "cancelled"] | None] = None,
) -> VideoList:
    """The caller's team's jobs, newest first unless `order=asc`, `limit` per page; pass the last id of a page as
    `after` for the next one while `has_more`. Deleted jobs are not listed."""
    caller, service = session.caller, session.service
    caller.require("videos")
    jobs, more = await service.list(caller, limit=limit, after=after, order=order, status=status)
    data = [to_video(job, content_url=_content_url(request, job.id)) for job in jobs]
    return VideoList(
        data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None, has_more=more
    )


@delete(
    "/v1/videos/{video_id:str}",
    status_code=200,
    summary="Cancel and delete a video job",
    operation_id="deleteVideo",
)
async def delete_video(video_id: _VideoId, session: NamedDependency[Session]) -> VideoDeleted:
    """Cancel the job at the provider where it can be (a job not yet finished is cancelled and settled) and remove
    it from the team's view: later reads answer 404."""
    caller, service = session.caller, session.service
    caller.require("videos")
    job = await service.delete(caller, video_id)
    return VideoDeleted(id=job.id)


@get(
    "/v1/videos/{video_id:str}/content",
    summary="Download the video or its thumbnail",
    operation_id="getVideoContent",
    status_code=302,
    responses={
        200: ResponseSpec(
            data_container=bytes,
            media_type="video/mp4",
            description="The asset itself, streamed, where the provider serves it only with its credential",
            generate_examples=False,
        )
    },
)
async def get_video_content(
    request: Request[Any, Any, Any],
    video_id: _VideoId,
    session: NamedDependency[Session],
    variant: FromQuery[Literal["video", "thumbnail", "spritesheet"]] = "video",
    index: Annotated[int, QueryParameter(ge=0, le=100, description="0: the video; N: `output.extra[]` result N")] = 0,
) -> Redirect | Stream:
    """A 302 to the provider's asset (an expired or expiring link is renewed first), or the asset itself where the
    provider serves it only with its credential. 409 `video_not_ready` until the job completes. A variant the
    provider did not make (no provider makes a spritesheet; some no thumbnail) is a 404 `variant_not_available`
    naming the variant and the provider."""
    # Redirect or stream: gateway/videos/assets.py decides.
    caller, service = session.caller, session.service
    caller.require("videos")
    job = await service.get(caller, video_id)
    if job.status != "completed" or job.output is None:
        raise Conflict(f"video {job.id} is {job.status}, not completed", code="video_not_ready")
    assets: AssetLinks = request.app.state.assets
    output = await assets.output(job)
    if index > len(output.extra):
        raise InvalidRequest(f"video {job.id} has {len(output.extra)} extra result(s), not {index}", param="index")
    asset = output if index == 0 else output.extra[index - 1]  # `index` 1..N: the `output.extra[]` results
    url = {"video": asset.video_url, "thumbnail": asset.thumbnail_url}.get(variant)
    if url is None:
        raise NotFound(
            f"{job.provider} made no {variant} for video {job.id}",
            code="variant_not_available",
            param="variant",
            provider=job.provider,
        )
    download = await assets.download(job, url)
    if download is not None:  # the provider serves it only with its credential: streamed, never redirected
        return Stream(
            download.chunks, status_code=200, media_type=download.media_type, background=BackgroundTask(download.close)
        )
    return Redirect(path=url, status_code=302)


async def read_create(request: Request[Any, Any, Any], settings: Settings) -> tuple[CreateVideoBody, ImageData | None]:
    """The create body (gateway/api/bodies.py) and, in multipart, an optional `input_reference` image file."""
    body, upload = await read_body(request, CreateVideoBody, file_field="input_reference")
    if upload is None:
        return body, None
    max_bytes = settings.limits.max_image_bytes
    return body, image_data(upload.data, upload.mime, param="input_reference", max_bytes=max_bytes)


def _content_url(request: Request[Any, Any, Any], job_id: str) -> str:
    return content_url(content_base(request), job_id)


def content_url(base: str, job_id: str) -> str:
    """Where the job's asset is fetched through the gateway, under `base` (see `content_base`)."""
    return f"{base}/v1/videos/{job_id}/content"


def content_base(request: Request[Any, Any, Any]) -> str:
    """Where clients reach the gateway (asset links point there): the configured public URL, else the host the
    client called."""
    base: str = request.app.state.public_base_url or _origin(request)
    return base


def _origin(request: Request[Any, Any, Any]) -> str:
    return origin(request.scope, request.headers.get("host"))


def origin(scope: Scope, host: str | None) -> str:
    """The scheme, host and root path the client called, from the ASGI scope and its `Host` header value.
    Cheaper than request.base_url (which parses a URL object per request) on the status-poll hot path."""
    host = host or "{}:{}".format(*scope["server"] or ("localhost", 80))
    return f"{scope['scheme']}://{host}{scope.get('root_path', '')}"


def _poll_headers(job: VideoJob, now: float) -> list[tuple[str, str]]:
    """Tell pollers when the next upstream reading is due, so their polls land just after it."""
    if job.terminal:
        return []
    wait_s = poll_hint_s(job.next_poll_at, now)
    return [("openai-poll-after-ms", str(int(wait_s * 1000))), ("retry-after", str(math.ceil(wait_s)))]

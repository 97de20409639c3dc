"""Video-to-video routes in the OpenAI shapes (remix, edits, extensions) and the character routes no configured
provider serves yet: decode, authorise, hand to the service, render. No try/except here."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency

# The path and header parameter types are the create route's, so both document them alike.
from gateway.api.bodies import read_body
from gateway.api.videos import Session, _IdempotencyKey, _VideoId, content_base
from gateway.errors import InvalidRequest, NotFound
from gateway.schema.job import to_video
from gateway.schema.wire import Character, EditVideoBody, ExtendVideoBody, RemixVideoBody, Video
from gateway.videos.idempotency import IdempotentCreates
from gateway.videos.sources import Source, job_source, upload_source, video_intake
from gateway.webhooks.targets import requested_webhook
from providers.contract import VideoOperation

_NO_CHARACTERS = "no configured provider offers characters"


@post(
    "/v1/videos/{video_id:str}/remix",
    status_code=202,
    summary="Remix a completed video with a new prompt",
    operation_id="remixVideo",
)
async def remix_video(
    request: Request[Any, Any, Any],
    video_id: _VideoId,
    session: NamedDependency[Session],
    idempotency_key: _IdempotencyKey = None,
) -> Response[Video]:
    """The source (any provider made it) keeps its length; routed to offerings that take `remix`."""
    session.caller.require("videos")
    body, upload = await read_body(request, RemixVideoBody, file_field="video")
    if upload is not None:
        raise InvalidRequest("a remix's source is the video in the path, not a file", param="video")
    source = await _job_source(request, session, video_id, "remix")
    return await _create(request, session, body, source, idempotency_key)


@post("/v1/videos/edits", status_code=202, summary="Edit a video", operation_id="editVideo")
async def edit_video(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    idempotency_key: _IdempotencyKey = None,
) -> Response[Video]:
    """`video` is `{"id": ...}` of a completed video (JSON) or an uploaded MP4 (multipart); the output keeps the
    source's length."""
    return await _from_source(request, session, EditVideoBody, "edit", idempotency_key)


@post("/v1/videos/extensions", status_code=202, summary="Extend a video", operation_id="extendVideo")
async def extend_video(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    idempotency_key: _IdempotencyKey = None,
) -> Response[Video]:
    """`seconds` are added to the source and billed; the Video's `seconds` is the stitched total."""
    return await _from_source(request, session, ExtendVideoBody, "extend", idempotency_key)


@post("/v1/videos/characters", status_code=201, summary="Create a character", operation_id="createCharacter")
async def create_character(session: NamedDependency[Session]) -> Character:
    """Always 400 `unsupported_operation` while no configured provider offers characters."""
    session.caller.require("videos")
    raise InvalidRequest(f"{_NO_CHARACTERS}: characters cannot be created", code="unsupported_operation")


@get("/v1/videos/characters/{character_id:str}", summary="Retrieve a character", operation_id="getCharacter")
async def get_character(character_id: _VideoId, session: NamedDependency[Session]) -> Character:
    """Always 404 while no configured provider offers characters: none exists."""
    session.caller.require("videos")
    raise NotFound(f"no character {character_id!r}: {_NO_CHARACTERS}", param="character_id")


async def _from_source(
    request: Request[Any, Any, Any],
    session: Session,
    body_type: type[EditVideoBody],
    operation: VideoOperation,
    idempotency_key: str | None,
) -> Response[Video]:
    """An edit or an extension: the source is `video` (a completed video's id) or the uploaded file."""
    session.caller.require("videos")
    body, upload = await read_body(request, body_type, file_field="video")
    if upload is not None and body.video is not None:
        raise InvalidRequest("give the source video once", code="conflicting_fields", param="video")
    if upload is not None:
        source = upload_source(upload.data, operation, limits=session.settings.limits)
    elif body.video is not None:
        source = await _job_source(request, session, body.video.id, operation)
    else:
        raise InvalidRequest(
            "`video` is required: {'id': <a completed video>} or an MP4 file", code="missing_field", param="video"
        )
    return await _create(request, session, body, source, idempotency_key)


async def _job_source(
    request: Request[Any, Any, Any], session: Session, video_id: str, operation: VideoOperation
) -> Source:
    return await job_source(
        session.caller, video_id, operation, service=session.service, assets=request.app.state.assets
    )


async def _create(
    request: Request[Any, Any, Any],
    session: Session,
    body: RemixVideoBody,
    source: Source,
    idempotency_key: str | None,
) -> Response[Video]:
    """As a create: admission, routing, submit, store; usage is metered on the new job."""
    caller, settings = session.caller, session.settings
    if len(body.metadata) > settings.limits.max_metadata_entries:
        limit = settings.limits.max_metadata_entries
        raise InvalidRequest(f"metadata has more than {limit} entries", code="invalid_value", param="metadata")
    base = content_base(request)
    loopback = request.app.state.webhook_loopback
    webhook = requested_webhook(
        body.webhook, team=caller.team, settings=settings.webhooks, content_base=base, allow_loopback=loopback
    )
    creates: IdempotentCreates = request.app.state.creates
    job, replayed = await creates.create(
        caller,
        msgspec.structs.replace(video_intake(body, source), webhook=webhook),
        metadata=dict(body.metadata),
        idempotency_key=idempotency_key,
    )
    video = to_video(job, content_url=f"{base}/v1/videos/{job.id}/content")
    return Response(video, status_code=202, headers={"Idempotent-Replayed": "true"} if replayed else None)

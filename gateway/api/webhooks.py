"""`GET /v1/videos/{id}/webhook`: the job's webhook and its delivery log. A sub-resource, so the status-poll
path never reads the outbox and the webhook body (the final Video) does not change between attempts."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter

from gateway.api.videos import Session
from gateway.errors import NotFound
from gateway.schema.wire import WebhookAttemptView, WebhookDeliveryView
from gateway.store.outbox import Outbox, delivery_id

_VideoId = Annotated[str, PathParameter(max_length=64)]


@get(
    "/v1/videos/{video_id:str}/webhook",
    summary="A video job's webhook delivery log",
    operation_id="getVideoWebhook",
)
async def get_video_webhook(
    request: Request[Any, Any, Any],
    video_id: _VideoId,
    session: NamedDependency[Session],
) -> WebhookDeliveryView:
    """The webhook the job was created with and every delivery attempt: state `waiting` until the job is terminal,
    then `pending`, `delivered` or `failed`, with each attempt's status code or error. 404 `no_webhook` when the
    job has none."""
    caller = session.caller
    caller.require("videos")
    job = await session.service.get(caller, video_id)
    if job.webhook is None:
        raise NotFound(f"video {job.id} has no webhook", code="no_webhook", param="video_id")
    outbox: Outbox = request.app.state.outbox
    message_id = delivery_id(job.id)
    delivery = await outbox.get(message_id)
    if delivery is None:
        # Not terminal yet (or its terminal effects are still running): nothing to send so far.
        return WebhookDeliveryView(
            video_id=job.id,
            url=job.webhook.url,
            id=message_id,
            state="waiting",
            attempts=[],
            next_attempt_at=None,
            finished_at=None,
        )
    return WebhookDeliveryView(
        video_id=job.id,
        url=delivery.url,
        id=delivery.id,
        state=delivery.state,
        attempts=[
            WebhookAttemptView(at=a.at, duration_ms=a.duration_ms, status_code=a.status_code, error=a.error)
            for a in delivery.attempts
        ],
        next_attempt_at=delivery.next_attempt_at,
        finished_at=delivery.finished_at,
    )

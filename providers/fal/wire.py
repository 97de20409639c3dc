"""fal's queue API wire (docs.fal.ai queue and error pages, docs/providers.md §fal): its fixed facts and JSON shapes
as msgspec structs. Vendor structs tolerate unknown fields because vendors add fields; no I/O or translation."""

from __future__ import annotations

import msgspec

SLUG = "fal"
# https://fal.ai/docs/api-reference/inference-api: "Authorization: Key $FAL_KEY"; base URL https://queue.fal.run.
AUTH_SCHEME = "Key"
# Cancel reply statuses (https://fal.ai/docs/inference-api/queue/cancel): OK, CANCELLATION_REQUESTED, ALREADY_COMPLETED.
CANCELLED_OK = "OK"
CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
ALREADY_COMPLETED = "ALREADY_COMPLETED"
# Model error `type` (https://fal.ai/docs/model-apis/errors) and request `error_type`
# (https://fal.ai/docs/documentation/model-apis/request-errors) values the adapter acts on.
CONTENT_POLICY_VIOLATION = "content_policy_violation"
CLIENT_CANCELLED = "client_cancelled"
TIMEOUT_ERROR_TYPES = frozenset({"request_timeout", "startup_timeout"})  # the request ran out of time


class SubmitReply(msgspec.Struct):
    """The submit reply: `request_id` and the status, result and cancel URLs (queue docs' example)."""

    request_id: str | None = None
    status: str | None = None
    response_url: str | None = None
    status_url: str | None = None
    cancel_url: str | None = None
    queue_position: int | None = None


class LogLine(msgspec.Struct):
    message: str | None = None
    level: str | None = None
    timestamp: str | None = None


class Metrics(msgspec.Struct):
    inference_time: float | None = None  # seconds the runner spent (only when COMPLETED)


class StatusReply(msgspec.Struct):
    """GET .../requests/{id}/status: IN_QUEUE with `queue_position`, IN_PROGRESS with `logs`, COMPLETED."""

    status: str | None = None
    queue_position: int | None = None
    response_url: str | None = None
    logs: list[LogLine] | None = None
    metrics: Metrics | None = None


class File(msgspec.Struct):
    """fal's File output: `{"url", "content_type", "file_name", "file_size"}` (each video model's output schema)."""

    url: str | None = None
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


class VideoOutput(msgspec.Struct):
    """A video model's result (the output schema of the Kling, Wan and Veo endpoints): `video`, some with `seed`."""

    video: File | None = None
    seed: int | None = None


class ErrorItem(msgspec.Struct):
    """One model error (https://fal.ai/docs/model-apis/errors): `loc`, `msg`, `type`, `url`, optional `ctx`."""

    loc: list[str | int] = []
    msg: str | None = None
    type: str | None = None
    url: str | None = None
    input: object = None


class ErrorReply(msgspec.Struct):
    """Model errors carry `detail` as a list of ErrorItem; request errors a string `detail` and `error_type`."""

    detail: list[ErrorItem] | str | None = None
    error_type: str | None = None


class CancelReply(msgspec.Struct):
    status: str | None = None

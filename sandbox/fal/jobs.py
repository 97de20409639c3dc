"""The fal emulator's job logic (fal's queue, error and model pages; docs/providers.md §fal): the endpoint table
with each model's input schema, validation as the model would answer it, error bodies, job records and the
replies built from them. Pure: no HTTP, no clock reads, no randomness."""

from __future__ import annotations

from typing import Literal

import msgspec

from sandbox.clock import JobTimeline
from sandbox.faults import Outcome

State = Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
FieldType = Literal["string", "integer", "number", "boolean"]
# pydantic's error type and message per JSON type [inference: fal apps validate their input with pydantic]
_TYPE_CHECKS: dict[str, tuple[tuple[type, ...], str, str]] = {
    "string": ((str,), "string_type", "Input should be a valid string"),
    "integer": ((int,), "int_type", "Input should be a valid integer"),
    "number": ((int, float), "float_type", "Input should be a valid number"),
    "boolean": ((bool,), "bool_type", "Input should be a valid boolean"),
}


class EndpointSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One fal model endpoint's input schema (its fal.ai model page): enum fields, required image, other fields."""

    app: str  # owner/app: where status, result and cancel live
    enums: dict[str, tuple[str | int, ...]]
    image: bool = False  # `image_url` required
    fields: dict[str, FieldType] = {}  # other documented inputs and their JSON type
    max_prompt_chars: int | None = None
    seed: bool = False  # the output echoes `seed`


_KLING = "fal-ai/kling-video"
_KLING_FIELDS: dict[str, FieldType] = {"negative_prompt": "string", "cfg_scale": "number"}
_WAN = "fal-ai/wan-25-preview"
_WAN_FIELDS: dict[str, FieldType] = {
    "negative_prompt": "string",
    "seed": "integer",
    "enable_prompt_expansion": "boolean",
    "audio_url": "string",
}
_VEO = "fal-ai/veo3.1"
_VEO_FIELDS: dict[str, FieldType] = {
    "negative_prompt": "string",
    "seed": "integer",
    "generate_audio": "boolean",
    "auto_fix": "boolean",
}
_LTX = "fal-ai/ltx-2"
_LTX_ENUMS: dict[str, tuple[str | int, ...]] = {
    "duration": (6, 8, 10, 12, 14, 16, 18, 20),  # integers, unlike the other models' strings
    "resolution": ("1080p", "1440p", "2160p"),
    "fps": (25, 50),
}


def default_endpoints() -> dict[str, EndpointSpec]:
    """The endpoints of docs/providers.md §fal, by model id."""
    two = ("5", "10")
    return {
        "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": EndpointSpec(
            app=_KLING, enums={"duration": two, "aspect_ratio": ("16:9", "9:16", "1:1")}, fields=_KLING_FIELDS
        ),
        "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": EndpointSpec(
            app=_KLING, enums={"duration": two}, image=True, fields={**_KLING_FIELDS, "tail_image_url": "string"}
        ),
        "fal-ai/wan-25-preview/text-to-video": EndpointSpec(
            app=_WAN,
            enums={"duration": two, "aspect_ratio": ("16:9", "9:16", "1:1"), "resolution": ("480p", "720p", "1080p")},
            fields=_WAN_FIELDS,
            max_prompt_chars=800,
            seed=True,
        ),
        "fal-ai/wan-25-preview/image-to-video": EndpointSpec(
            app=_WAN,
            enums={"duration": two, "resolution": ("480p", "720p", "1080p")},
            image=True,
            fields=_WAN_FIELDS,
            max_prompt_chars=800,
            seed=True,
        ),
        "fal-ai/veo3.1/fast": EndpointSpec(
            app=_VEO,
            enums={
                "duration": ("4s", "6s", "8s"),
                "aspect_ratio": ("16:9", "9:16"),
                "resolution": ("720p", "1080p", "4k"),
            },
            fields=_VEO_FIELDS,
            seed=True,
        ),
        "fal-ai/veo3.1/fast/image-to-video": EndpointSpec(
            app=_VEO,
            enums={
                "duration": ("4s", "6s", "8s"),
                "aspect_ratio": ("auto", "16:9", "9:16"),
                "resolution": ("720p", "1080p", "4k"),
            },
            image=True,
            fields=_VEO_FIELDS,
            seed=True,
        ),
        "fal-ai/ltx-2/text-to-video/fast": EndpointSpec(
            app=_LTX, enums={**_LTX_ENUMS, "aspect_ratio": ("16:9",)}, fields={"generate_audio": "boolean"}
        ),
        "fal-ai/ltx-2/image-to-video/fast": EndpointSpec(
            app=_LTX, enums=_LTX_ENUMS, image=True, fields={"generate_audio": "boolean"}
        ),
    }


# ------------------------------------------------------------------------------------------------- errors


class FalError(Exception):
    """A reply that is not a success: its status and JSON body."""

    def __init__(self, status_code: int, body: object) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


class ModelError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """https://fal.ai/docs/model-apis/errors "Error Object Structure"."""

    loc: list[str]
    msg: str
    type: str
    url: str | None = None
    input: object = None


def request_error(status_code: int, detail: str, error_type: str | None = None) -> FalError:
    """A request error: string `detail`, `error_type` (https://fal.ai/docs/documentation/model-apis/request-errors).
    Auth and routing errors carry `detail` only [inference]."""
    body: dict[str, str] = {"detail": detail} if error_type is None else {"detail": detail, "error_type": error_type}
    return FalError(status_code, body)


def model_error(*errors: ModelError, status_code: int = 422) -> FalError:
    return FalError(status_code, {"detail": list(errors)})


def _invalid(field: str, msg: str, kind: str, value: object) -> ModelError:
    # Pydantic's validation item shape (fal apps validate input with pydantic) [inference]
    return ModelError(loc=["body", field], msg=msg, type=kind, input=value)


def policy_violation(prompt: str) -> ModelError:
    """The error reference's content_policy_violation on the prompt."""
    return ModelError(
        loc=["body", "prompt"],
        msg="The content could not be processed because it contained material flagged by a content checker.",
        type="content_policy_violation",
        url="https://docs.fal.ai/errors#content_policy_violation",
        input=prompt,
    )


def validate(spec: EndpointSpec, body: dict[str, object]) -> list[ModelError]:
    """What the model rejects in its input, as it would: unknown fields are ignored (pydantic's default)."""
    errors: list[ModelError] = []
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        errors.append(_invalid("prompt", "Field required", "missing", prompt))
    elif spec.max_prompt_chars is not None and len(prompt) > spec.max_prompt_chars:
        errors.append(
            _invalid(
                "prompt", f"String should have at most {spec.max_prompt_chars} characters", "string_too_long", prompt
            )
        )
    if spec.image and not isinstance(body.get("image_url"), str):
        errors.append(_invalid("image_url", "Field required", "missing", None))
    for field, kind in spec.fields.items():
        value = body.get(field)
        accepted, error_type, message = _TYPE_CHECKS[kind]
        wrong_bool = isinstance(value, bool) and kind != "boolean"  # JSON true is not a number
        if value is not None and (wrong_bool or not isinstance(value, accepted)):
            errors.append(_invalid(field, message, error_type, value))
    for field, allowed in spec.enums.items():
        value = body.get(field)
        if value is not None and value not in allowed:
            expected = " or ".join(repr(option) for option in allowed)  # pydantic's quoting: '5' or 10
            errors.append(_invalid(field, f"Input should be {expected}", "literal_error", value))
    return errors


# --------------------------------------------------------------------------------------------------- jobs


class Job(msgspec.Struct, kw_only=True):
    request_id: str
    key: str
    app: str
    created_at: float
    timeline: JobTimeline
    outcome: Outcome | None
    errors: list[ModelError]
    prompt: str
    seed: int | None
    cancelled_at: float | None = None


def job_state(job: Job, now: float) -> State:
    if job.cancelled_at is not None and now >= job.cancelled_at:
        return "COMPLETED"
    phase = job.timeline.at(now).phase
    if phase == "queued":
        return "IN_QUEUE"
    if phase == "running" or job.outcome is Outcome.STUCK:
        return "IN_PROGRESS"
    return "COMPLETED"


def _failure(job: Job) -> FalError | None:
    """How a COMPLETED request ended when it did not produce a video."""
    if job.cancelled_at is not None or job.outcome is Outcome.CANCELLED:
        # A cancelled request's result: the `client_cancelled` request error [inference: status 499 per its table].
        return request_error(499, "The request was cancelled by the client.", "client_cancelled")
    if job.errors:
        return model_error(*job.errors)
    match job.outcome:
        case Outcome.BLOCKED | Outcome.UNSAFE:
            return model_error(policy_violation(job.prompt))
        case Outcome.FAILED:
            return request_error(500, "The runner encountered an internal server error.", "runner_server_error")
        case Outcome.TIMED_OUT:
            return request_error(504, "Request timed out", "request_timeout")
        case _:
            return None


class Urls(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    response_url: str
    status_url: str
    cancel_url: str


def urls(job: Job, base_url: str) -> Urls:
    """The queue URLs of a request: under the app id, whatever sub-path the submit used."""
    response_url = f"{base_url}/{job.app}/requests/{job.request_id}"
    return Urls(
        request_id=job.request_id,
        response_url=response_url,
        status_url=f"{response_url}/status",
        cancel_url=f"{response_url}/cancel",
    )


class SubmitBody(msgspec.Struct, frozen=True, kw_only=True):
    request_id: str
    response_url: str
    status_url: str
    cancel_url: str
    status: State
    queue_position: int


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    message: str
    level: str
    source: str
    timestamp: str


class Metrics(msgspec.Struct, frozen=True, kw_only=True):
    inference_time: float


class StatusBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: State
    request_id: str
    response_url: str
    status_url: str
    cancel_url: str
    queue_position: int | None = None
    logs: list[LogLine] | None = None
    metrics: Metrics | None = None


def status_body(job: Job, state: State, position: int, base_url: str, logs: list[LogLine] | None) -> StatusBody:
    links = urls(job, base_url)
    return StatusBody(
        status=state,
        request_id=job.request_id,
        response_url=links.response_url,
        status_url=links.status_url,
        cancel_url=links.cancel_url,
        queue_position=position if state == "IN_QUEUE" else None,
        logs=None if state == "IN_QUEUE" else logs,
        metrics=Metrics(inference_time=job.timeline.run_s * job.timeline.time_scale) if state == "COMPLETED" else None,
    )


class VideoFile(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    content_type: str
    file_name: str
    file_size: int


class VideoResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    video: VideoFile
    seed: int | None = None


def result_body(job: Job, video_url: str, size_bytes: int) -> VideoResult:
    """The output schema of the video models: `video` as a File, plus `seed` where the model has one."""
    failure = _failure(job)
    if failure is not None:
        raise failure
    video = VideoFile(url=video_url, content_type="video/mp4", file_name="output.mp4", file_size=size_bytes)
    return VideoResult(video=video, seed=job.seed)

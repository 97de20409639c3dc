"""The OpenAI video emulator's wire (docs/providers.md §11): error envelopes, the create parameters and their
checks, the video object over a job's timeline. Pure: no HTTP, clock reading or randomness."""

from __future__ import annotations

import http
from typing import Literal

import msgspec

from sandbox.clock import JobTimeline
from sandbox.faults import Outcome

MODELS = ("sora-2", "sora-2-pro")  # `model`: "allowed values: sora-2, sora-2-pro. Defaults to sora-2"
SECONDS = ("4", "8", "12")  # `seconds`: "allowed values: 4, 8, 12. Defaults to 4 seconds"
SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")  # `size`: "Defaults to 720x1280"
PRO_ONLY_SIZES = frozenset({"1024x1792", "1792x1024"})  # the pricing page lists them for sora-2-pro only
CREATE_FIELDS = frozenset({"prompt", "model", "seconds", "size", "input_reference"})
VARIANTS = {"video": "video/mp4", "thumbnail": "image/jpeg", "spritesheet": "image/jpeg"}
Flavour = Literal["openai", "azure"]


# ------------------------------------------------------------------------------------------ error bodies


class ApiError(msgspec.Struct, frozen=True, kw_only=True):
    """`{"error": {"message", "type", "param", "code"}}`; `param` and `code` are null when they do not apply."""

    message: str
    type: str | None
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    error: ApiError


class VendorError(Exception):
    """An error reply raised anywhere in a handler and rendered by the app, with its headers."""

    def __init__(self, status_code: int, error: ApiError, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.message)
        self.status_code = status_code
        self.body = ErrorEnvelope(error=error)
        self.headers = headers or {}


def invalid(message: str, *, param: str | None = None, code: str | None = None, status: int = 400) -> VendorError:
    return VendorError(status, ApiError(message=message, type="invalid_request_error", param=param, code=code))


def not_found(video_id: str) -> VendorError:
    # [inference] the wording; the 404 and envelope are the API's for an unknown id.
    return invalid(f"Video with id '{video_id}' not found.", param="video_id", status=404)


def rate_limited(model: str, limit: int, wait_s: int) -> ApiError:
    """OpenAI's RPM refusal wording (rate-limits guide), for the create call."""
    message = (
        f"Rate limit reached for {model} on requests per min (RPM): Limit {limit}, Used {limit}, Requested 1."
        f" Please try again in {wait_s}s."
    )
    return ApiError(message=message, type="requests", code="rate_limit_exceeded")


INSUFFICIENT_QUOTA = ApiError(
    message="You exceeded your current quota, please check your plan and billing details.",
    type="insufficient_quota",
    code="insufficient_quota",
)
MODERATION_BLOCKED = ApiError(  # the Sora guide's moderation refusal of a prompt or input
    message="Your request was blocked by our moderation system.",
    type="invalid_request_error",
    code="moderation_blocked",
)
# The error-codes guide's server-side replies, by status.
_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    503: "The engine is currently overloaded, please try again later.",
}


def fault_body(status_code: int, flavour: Flavour) -> ApiError:
    """The vendor's own error for a status a fault switch forces."""
    if status_code == 401:
        return unauthorized(flavour, missing=False).body.error
    if status_code == 429:
        return rate_limited(MODELS[0], 1, 60)
    if status_code >= 500:
        message = _SERVER_ERRORS.get(status_code) or http.HTTPStatus(status_code).phrase
        return ApiError(message=message, type="server_error")
    try:
        phrase = http.HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Sandbox fault"
    return ApiError(message=phrase, type="invalid_request_error")


def unauthorized(flavour: Flavour, *, missing: bool) -> VendorError:
    if flavour == "azure":  # Azure OpenAI's 401 for a missing or wrong `api-key`
        message = (
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key"
            " for an active subscription and use a correct regional API endpoint for your resource."
        )
        return VendorError(401, ApiError(message=message, type=None, code="401"))
    if missing:
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization header using"
            " Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        return invalid(message, status=401)
    # OpenAI quotes a masked key here; the emulator quotes none, so no key ever reaches a log.
    message = "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
    return invalid(message, code="invalid_api_key", status=401)


# ---------------------------------------------------------------------------------------- create requests


class CreateSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A validated create, after the API's defaults."""

    prompt: str
    model: str
    seconds: str
    size: str
    has_reference: bool


def _choice(value: str, allowed: tuple[str, ...], param: str) -> str:
    if value not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
        raise invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", param=param, code="invalid_value")
    return value


def check_create(fields: dict[str, str], has_reference: bool) -> CreateSettings:
    """The create parameters checked in the API reference's order; unknown ones are refused as OpenAI's JSON APIs
    refuse them (`unknown_parameter`) [inference: the wording of these 400s for the video route]."""
    unknown = sorted(set(fields) - CREATE_FIELDS)
    if unknown:
        raise invalid(f"Unknown parameter: '{unknown[0]}'.", param=unknown[0], code="unknown_parameter")
    prompt = fields.get("prompt", "")
    if not prompt.strip():
        raise invalid("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    model = _choice(fields.get("model", MODELS[0]), MODELS, "model")
    seconds = _choice(fields.get("seconds", SECONDS[0]), SECONDS, "seconds")
    size = _choice(fields.get("size", SIZES[0]), SIZES, "size")
    if size in PRO_ONLY_SIZES and model != "sora-2-pro":  # [inference] the status and wording
        raise invalid(f"Size '{size}' is only supported by sora-2-pro.", param="size", code="invalid_value")
    return CreateSettings(prompt=prompt, model=model, seconds=seconds, size=size, has_reference=has_reference)


class ImageReference(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The JSON create's `input_reference`: `{"image_url": ...}` or `{"file_id": ...}`."""

    image_url: str | None = None
    file_id: str | None = None


def json_reference(raw: object) -> bool:
    """Whether a JSON `input_reference` is present; a malformed one is a 400."""
    if raw is None:
        return False
    try:
        reference = msgspec.convert(raw, ImageReference)
    except msgspec.ValidationError as exc:
        raise invalid(f"Invalid 'input_reference': {exc}.", param="input_reference", code="invalid_value") from exc
    if (reference.image_url is None) == (reference.file_id is None):
        raise invalid("Provide exactly one of 'image_url' or 'file_id'.", param="input_reference", code="invalid_value")
    if reference.image_url is not None and not reference.image_url.startswith(("https://", "http://", "data:")):
        raise invalid("'image_url' must be a URL or a data URL.", param="input_reference", code="invalid_value")
    return True


# ------------------------------------------------------------------------------------------- job records


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    key: str
    created_at: float  # job clock
    created_wall: int  # unix seconds
    outcome: Outcome | None
    settings: CreateSettings


class VideoError(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


class VideoObject(msgspec.Struct, frozen=True, kw_only=True):
    """The `Video` object, every key present (nulls included) as the API reference lists them."""

    id: str
    object: str
    model: str
    status: str
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str
    seconds: str
    size: str
    remixed_from_video_id: str | None
    error: VideoError | None


class Deleted(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    object: str
    deleted: bool


class VideoList(msgspec.Struct, frozen=True, kw_only=True):
    object: str
    data: list[VideoObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


# [inference] no failed video body is documented beyond `error` {code, message}: these codes and texts.
FAILURES = {
    Outcome.UNSAFE: VideoError(code="moderation_blocked", message="The generated video was blocked by moderation."),
    Outcome.FAILED: VideoError(code="video_generation_failed", message="Video generation failed."),
    Outcome.TIMED_OUT: VideoError(code="video_generation_timeout", message="Video generation timed out."),
    Outcome.CANCELLED: VideoError(code="video_generation_cancelled", message="Video generation was cancelled."),
}


def video_status(job: Job, timeline: JobTimeline, now: float) -> tuple[str, int]:
    """(status, progress) over the timeline; a stuck job never leaves in_progress."""
    progress = timeline.at(now)
    if progress.phase == "queued":
        return "queued", 0
    if progress.phase == "running" or job.outcome is Outcome.STUCK:
        return "in_progress", min(99, int(progress.fraction * 100))
    return ("failed", 0) if job.outcome in FAILURES else ("completed", 100)


def video_object(job: Job, timeline: JobTimeline, now: float, expiry_s: float) -> VideoObject:
    status, progress = video_status(job, timeline, now)
    done_wall = job.created_wall + round(timeline.finished_at - job.created_at)
    finished = status in ("completed", "failed")
    return VideoObject(
        id=job.id,
        object="video",
        model=job.settings.model,
        status=status,
        progress=progress,
        created_at=job.created_wall,
        completed_at=done_wall if finished else None,
        expires_at=done_wall + round(expiry_s) if status == "completed" else None,
        prompt=job.settings.prompt,
        seconds=job.settings.seconds,
        size=job.settings.size,
        remixed_from_video_id=None,
        error=FAILURES.get(job.outcome) if status == "failed" and job.outcome is not None else None,
    )

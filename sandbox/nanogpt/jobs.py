"""The NanoGPT emulator's vendor logic (providers.md §4): model entries, request validation, job records and the
bodies it answers with (both status shapes, the error envelopes, the catalogue). Pure: no HTTP, clock or randomness."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Annotated, Literal

import msgspec

from providers.mp4 import duration_s
from sandbox.clock import Phase
from sandbox.faults import Outcome
from sandbox.nanogpt.errors import MICROS_PER_USD, envelope, invalid

# Source videos: §4.3 "API uploads ≤4 MB", decoded bytes [inference: seed 003 gives no videoDataUrl size].
MAX_UPLOAD_BYTES = 4 * 1024 * 1024
MAX_SOURCE_S = 120  # seed 003: "Max source video length: 120 seconds"
_USD = Annotated[float, msgspec.Meta(ge=0)]


class VideoModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One catalogue entry: what its submit accepts (docs "Model Directory") and its invented price."""

    name: str
    per_video_usd: _USD = 0.0
    per_second_usd: _USD = 0.0
    duration_field: Literal["duration", "seconds"] = "duration"
    durations: tuple[str, ...]
    default_duration: str
    aspect_field: Literal["aspect_ratio", "orientation"] | None = "aspect_ratio"
    aspects: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    text_to_video: bool = True
    image_to_video: bool = True
    audio: bool = False
    negative_prompt: bool = False
    seed: bool = False
    last_frame_field: Literal["image_tail", "last_image"] | None = None
    reference_images: bool = False
    # Seed 003: video-to-video models "create, extend, or edit a video" from a source (`videoUrl`, `videoDataUrl`).
    video_operation: Literal["extend", "edit"] | None = None

    def price_micros(self, seconds: int) -> int:
        """Per video plus per second, rounded per unit like the gateway's price table."""
        return round(self.per_video_usd * MICROS_PER_USD) + round(self.per_second_usd * MICROS_PER_USD) * seconds


# ---------------------------------------------------------------------------------------- request bodies


class GenerateBody(msgspec.Struct, kw_only=True):
    """§4.3 submit fields the emulator reads; unknown keys are ignored, as the docs say the vendor does."""

    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    duration: str | float | None = None  # a number is a wire-type error the validator names
    seconds: str | float | None = None
    aspect_ratio: str | None = None
    orientation: str | None = None
    resolution: str | None = None
    image_url: str | None = msgspec.field(default=None, name="imageUrl")
    image_data_url: str | None = msgspec.field(default=None, name="imageDataUrl")
    image_tail: str | None = None
    last_image: str | None = None
    reference_images: list[str] | None = msgspec.field(default=None, name="referenceImages")
    video_url: str | None = msgspec.field(default=None, name="videoUrl")
    video_data_url: str | None = msgspec.field(default=None, name="videoDataUrl")
    video_attachment_id: str | None = msgspec.field(default=None, name="videoAttachmentId")
    mode: str | None = None


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    model_id: str
    model: VideoModel
    duration: str
    billed_s: int
    output_s: float | None = None  # a video-to-video job's output length; None: the model's sample as is


def decode_media(field: str, value: str) -> bytes:
    """A base64 data URL's bytes; over 4 MB decoded is a 413 (§4.6)."""
    header, comma, payload = value.partition(",")
    try:
        if not value.startswith("data:") or not comma or not header.endswith(";base64"):
            raise ValueError(header)
        data = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise invalid(f"{field} is not a valid base64 data URL", param=field) from None
    if len(data) > MAX_UPLOAD_BYTES:
        raise invalid(f"{field} exceeds the 4 MB upload limit", param=field, status_code=413)
    return data


def source_seconds(field: str, data: bytes) -> float:
    """The source video's length; anything but a readable MP4 is refused [inference: the docs name no error]."""
    seconds = duration_s(data)
    if seconds is None:
        raise invalid(f"{field} is not a readable MP4 video", param=field)
    if seconds > MAX_SOURCE_S:
        raise invalid(f"Max source video length: {MAX_SOURCE_S} seconds", param=field)
    return seconds


def _check_media(field: str, value: str, *, url_ok: bool = True, data_ok: bool = True) -> None:
    """HTTPS URLs or base64 data URLs of any size: seed 003 recommends `imageDataUrl` "for private assets or files
    larger than 4 MB", so no 4 MB cap applies to a data URL."""
    if data_ok and value.startswith("data:"):
        header, comma, payload = value.partition(",")
        try:
            if not comma or not header.endswith(";base64"):
                raise ValueError(header)
            base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error):
            raise invalid(f"{field} is not a valid base64 data URL", param=field) from None
        return
    if not (url_ok and value.startswith("https://")):
        kinds = " or ".join(kind for kind, ok in (("an HTTPS URL", url_ok), ("a data URL", data_ok)) if ok)
        raise invalid(f"{field} must be {kinds}", param=field)


def _check_images(body: GenerateBody, model_id: str, model: VideoModel) -> bool:
    """Media fields in the docs' rules; True when the job is image-conditioned."""
    if body.image_url is not None:
        _check_media("imageUrl", body.image_url, data_ok=False)
    if body.image_data_url is not None:
        _check_media("imageDataUrl", body.image_data_url, url_ok=False)
    first = body.image_url or body.image_data_url
    for field, value in (("image_tail", body.image_tail), ("last_image", body.last_image)):
        if value is None:
            continue
        if field != model.last_frame_field:  # "some models fail when extra media fields are present"
            raise invalid(f"{field} is not supported by {model_id}", param=field)
        if first is None:
            raise invalid(f"{field} needs a first frame (imageUrl or imageDataUrl)", param=field)
        _check_media(field, value)
    for reference in body.reference_images or []:
        if not model.reference_images:
            raise invalid(f"referenceImages are not supported by {model_id}", param="referenceImages")
        _check_media("referenceImages", reference)
    if first is not None and not model.image_to_video:
        raise invalid(f"{model_id} does not take an input image", param="imageUrl")
    return first is not None


def _check_duration(body: GenerateBody, model_id: str, model: VideoModel) -> str:
    field = model.duration_field
    raw = body.seconds if field == "seconds" else body.duration
    if raw is None:
        return model.default_duration
    if not isinstance(raw, str):  # §4.3: the wire type matters, "5" is not 5
        raise invalid(f'{field} must be a string such as "{model.default_duration}"', param=field)
    if raw not in model.durations:
        raise invalid(f"{field} {raw!r} is not allowed for {model_id} ({', '.join(model.durations)})", param=field)
    return raw


def _check_choice(field: str, value: str | None, allowed: tuple[str, ...], model_id: str) -> None:
    if value is not None and value not in allowed:
        raise invalid(f"{field} {value!r} is not supported by {model_id} ({', '.join(allowed)})", param=field)


def find_model(body: GenerateBody, models: dict[str, VideoModel]) -> VideoModel:
    if not body.model:
        raise invalid("model is required", param="model")
    model = models.get(body.model)
    if model is None:
        raise envelope(404, f"Model '{body.model}' not found", "not_found_error", code="model_not_found")
    return model


def source_field(body: GenerateBody, model_id: str, model: VideoModel) -> tuple[str, str] | None:
    """The one source-video field a video-to-video model was given (its name and value); a model without a video
    operation refuses one ("some models fail when extra media fields are present")."""
    given = [(f, v) for f, v in (("videoUrl", body.video_url), ("videoDataUrl", body.video_data_url)) if v]
    if body.video_attachment_id:
        raise invalid("videoAttachmentId names no library video of this account", param="videoAttachmentId")
    if model.video_operation is None:
        if given:
            raise invalid(f"{given[0][0]} is not supported by {model_id}", param=given[0][0])
        return None
    if len(given) != 1:
        raise invalid(f"{model_id} needs one source video: videoUrl or videoDataUrl", param="videoUrl")
    field, value = given[0]
    if field == "videoUrl" and not value.startswith("https://"):
        raise invalid("videoUrl must be an HTTPS URL", param=field)
    return field, value


def _accept_video(body: GenerateBody, model_id: str, model: VideoModel, source_s: float) -> Accepted:
    """An extend adds its `duration` to the source; an edit keeps the source's length and bills it [inference]."""
    if not (body.prompt or "").strip():
        raise invalid("prompt is required for video edit and extend models", param="prompt")
    if model.video_operation == "edit":
        billed_s = math.ceil(source_s)
        return Accepted(model_id=model_id, model=model, duration=str(billed_s), billed_s=billed_s, output_s=source_s)
    duration = _check_duration(body, model_id, model)
    added_s = int(duration.removesuffix("s"))
    return Accepted(model_id=model_id, model=model, duration=duration, billed_s=added_s, output_s=source_s + added_s)


def accept(body: GenerateBody, models: dict[str, VideoModel], *, source_s: float | None = None) -> Accepted:
    """Validate a submit in a fixed order: model, media, prompt, duration, shape; fields a model lacks are ignored.

    `source_s`: the length of the source video a video-to-video model was given (fetched and read by the app)."""
    model = find_model(body, models)
    assert body.model is not None
    if model.video_operation is not None and source_s is not None:
        return _accept_video(body, body.model, model, source_s)
    conditioned = _check_images(body, body.model, model)
    if not conditioned and not (body.prompt or "").strip():
        raise invalid("prompt is required for text-to-video", param="prompt")
    if not conditioned and not model.text_to_video:
        raise invalid(f"{body.model} needs an input image", param="imageUrl")
    duration = _check_duration(body, body.model, model)
    if model.aspect_field == "aspect_ratio":
        _check_choice("aspect_ratio", body.aspect_ratio, model.aspects, body.model)
    elif model.aspect_field == "orientation":
        _check_choice("orientation", body.orientation, model.aspects, body.model)
    if model.resolutions:
        _check_choice("resolution", body.resolution, model.resolutions, body.model)
    return Accepted(model_id=body.model, model=model, duration=duration, billed_s=int(duration.removesuffix("s")))


# ------------------------------------------------------------------------------------------- job records

State = Literal["queued", "running", "completed", "failed", "unsafe", "cancelled"]
REFUNDED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.UNSAFE, Outcome.TIMED_OUT, Outcome.CANCELLED})


class Job(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    api_key: str
    model_id: str
    cost_micros: int
    outcome: Outcome | None
    created_at: float  # emulator clock
    created_wall: float  # unix seconds
    output_s: float | None = None


def job_state(outcome: Outcome | None, phase: Phase) -> State:
    """Where a job stands; NanoGPT has no timed-out state, so `[sandbox:timeout]` ends FAILED [inference]."""
    if phase == "queued":
        return "queued"
    if phase == "running" or outcome is Outcome.STUCK:
        return "running"
    match outcome:
        case Outcome.UNSAFE:
            return "unsafe"
        case Outcome.FAILED | Outcome.TIMED_OUT:
            return "failed"
        case Outcome.CANCELLED:
            return "cancelled"
        case _:
            return "completed"


# ------------------------------------------------------------------------------------------------ replies


class SubmitReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    run_id: str
    id: str
    status: str
    model: str
    cost: float
    payment_source: str
    remaining_balance: float


class VideoRef(msgspec.Struct, frozen=True):
    url: str


class VideoOutput(msgspec.Struct, frozen=True):
    video: VideoRef


class NestedData(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    status: str
    request_id: str
    details: str | None = None
    progress: int | None = None
    output: VideoOutput | None = None
    cost: float | None = None
    payment_source: str | None = None
    remaining_balance: float | None = None
    error: str | None = None
    is_nsfw_error: bool | None = msgspec.field(default=None, name="isNSFWError")
    user_friendly_error: str | None = None


class NestedReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """§4.5 Shape A (docs prose and examples): everything under `data`, upper-case states."""

    request_id: str
    model: str
    data: NestedData


class FlatReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """§4.5 Shape B (OpenAPI `UnifiedVideoStatusResponse`): flat, lower-case states, every key present."""

    request_id: str
    status: str
    progress: int
    estimated_time_remaining: int
    video_url: str | None
    error: str | None
    created_at: str
    completed_at: str | None


NESTED_STATES = {"queued": "IN_QUEUE", "running": "IN_PROGRESS", "completed": "COMPLETED", "cancelled": "CANCELED"}
FLAT_STATES = {"queued": "queued", "running": "processing", "completed": "completed", "cancelled": "cancelled"}
_FLAGGED = "Content flagged as inappropriate. Please modify your prompt and try again."  # §4.5 example
FAILURES = {  # state -> (error, isNSFWError, userFriendlyError)
    "failed": ("Generation failed", False, "Video generation failed. Your balance has been refunded."),
    "unsafe": ("Content policy violation", True, _FLAGGED),
}


def catalogue_card(model_id: str, model: VideoModel) -> dict[str, object]:
    """One §4.9 catalogue entry; the `pricing` and `supported_parameters` sub-schemas are invented (§7 q14)."""
    params: dict[str, object] = {model.duration_field: list(model.durations)}
    if model.aspect_field is not None:
        params[model.aspect_field] = list(model.aspects)
    if model.resolutions:
        params["resolution"] = list(model.resolutions)
    flags = {"negative_prompt": model.negative_prompt, "seed": model.seed, "generateAudio": model.audio}
    params |= {name: True for name, on in flags.items() if on}
    if model.last_frame_field is not None:
        params[model.last_frame_field] = True
    pricing: dict[str, object] = {"currency": "USD"}
    pricing |= {"per_generation": model.per_video_usd} if model.per_video_usd else {}
    pricing |= {"per_second": model.per_second_usd} if model.per_second_usd else {}
    inputs = ["text", "image"] if model.image_to_video else ["text"]
    inputs += ["video"] if model.video_operation else []
    return {
        "id": model_id,
        "object": "model",
        "name": model.name,
        "description": f"{model.name} video generation (sandbox)",
        "architecture": {"modality": "video", "input_modalities": inputs, "output_modalities": ["video"]},
        "pricing": pricing,
        "capabilities": {
            "video_generation": True,
            "text_to_video": model.text_to_video,
            "image_to_video": model.image_to_video,
            "video_to_video": model.video_operation is not None,
            "audio_generation": model.audio,
        },
        "supported_parameters": params,
    }

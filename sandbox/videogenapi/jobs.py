"""The videogenapi emulator's job logic (seeds 002/004, providers.md §3): the model table, request validation,
error bodies, job records and the replies built from them. Pure: no HTTP, no clock reads, no randomness."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from sandbox.clock import JobTimeline
from sandbox.faults import Outcome

Resolution = Literal["480p", "720p", "1080p", "4K"]
RESOLUTIONS: tuple[Resolution, ...] = ("480p", "720p", "1080p", "4K")
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "9:21")  # seed 002 `aspect_ratio`
DEFAULT_MODEL, DEFAULT_DURATION_S, DEFAULT_RESOLUTION, DEFAULT_ASPECT = "sora-2", 5, "720p", "16:9"  # seed 002
MAX_PROMPT_CHARS, MAX_REFERENCE_IMAGES = 1000, 5  # seed 002
VEO_REFERENCE_MIN = 3  # seed 002: Veo 3.1 with 3+ images is REFERENCE_2_VIDEO and forces 16:9
STYLE, FPS = "realistic", 30  # echoed by seed 002's replies; output is 30 fps (seed 002)
WALL_FORMAT = "%Y-%m-%d %H:%M:%S"  # seed 002 `completed_at`, seed 004 `reset_time`: no timezone (we use UTC)


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One row of the seed 002 model table; `resolutions` are the tiers up to the listed one [inference]."""

    name: str
    provider: str
    min_duration_s: Annotated[int, msgspec.Meta(ge=1)]
    max_duration_s: Annotated[int, msgspec.Meta(ge=1)]
    resolutions: tuple[Resolution, ...]
    t2v: bool = True
    i2v: bool = True
    multi_image: bool = False  # `reference_image_urls`: seed 002 names Veo 3.1 only
    tier: Literal["free", "premium"] = "free"


def _spec(
    name: str,
    provider: str,
    durations: tuple[int, int],
    top: Resolution,
    *,
    i2v: bool = True,
    multi_image: bool = False,
    tier: Literal["free", "premium"] = "free",
) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider=provider,
        min_duration_s=durations[0],
        max_duration_s=durations[1],
        resolutions=RESOLUTIONS[: RESOLUTIONS.index(top) + 1],
        i2v=i2v,
        multi_image=multi_image,
        tier=tier,
    )


def default_models() -> dict[str, ModelSpec]:
    """Seed 002 "AI Models" (key, display name, t2v/i2v, resolution, duration, free/premium)."""
    return {
        "sora-2": _spec("Sora 2", "OpenAI", (10, 10), "1080p"),
        "higgsfield_v1": _spec("Higgsfield", "Higgsfield", (5, 15), "1080p", i2v=False),
        "kling_25": _spec("Kling 2.5", "Kuaishou", (5, 10), "1080p"),
        "veo_3": _spec("Veo 3 Fast", "Google", (8, 8), "1080p", tier="premium"),
        "veo-31": _spec("Veo 3.1 Fast", "Google", (8, 8), "1080p", multi_image=True, tier="premium"),
        "nanobanana-video": _spec("Nano Banana", "Google", (5, 10), "720p"),
        "ltxv-2": _spec("LTV Video 2", "Lightricks", (6, 10), "4K"),  # sic: the docs' spelling
        "ltxv-13b": _spec("LTX-Video 13B", "Lightricks", (1, 60), "480p", i2v=False),
        "seedance": _spec("Seedance", "ByteDance", (5, 10), "1080p"),
        "wan-25": _spec("Wan 2.5", "Alibaba", (5, 10), "1080p"),
        # Seed 004's keys; it gives no names, lengths or resolutions for them, so these are [inference].
        "kling-3": _spec("Kling 3", "Kuaishou", (5, 10), "1080p"),
        "veo3": _spec("Veo 3", "Google", (8, 8), "1080p", tier="premium"),
        "seedance-2": _spec("Seedance 2", "ByteDance", (5, 10), "1080p"),
        "veo2": _spec("Veo 2", "Google", (5, 8), "720p", tier="premium"),
    }


class UsageBody(msgspec.Struct, frozen=True, kw_only=True):
    current_month_usage: int
    monthly_limit: int


class LimitDetails(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 004's model-specific 429 `details`, key for key."""

    current_usage: int
    limit: int
    window: str
    reset_time: str
    seconds_until_reset: int
    upgrade_required: bool
    upgrade_plan: str


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`{"error", "message"}` (clients read both, providers.md §3.5), plus a 429's `details` or `usage`."""

    error: str
    message: str
    details: LimitDetails | None = None
    usage: UsageBody | None = None


class VendorError(Exception):
    """A vendor error reply, raised anywhere in a handler and rendered by the app."""

    def __init__(self, status_code: int, body: ErrorBody) -> None:
        super().__init__(body.message)
        self.status_code = status_code
        self.body = body


def vendor_error(status_code: int, error: str, message: str) -> VendorError:
    return VendorError(status_code, ErrorBody(error=error, message=message))


# ---------------------------------------------------------------------------------------- request bodies


class GenerateBody(msgspec.Struct, kw_only=True):
    """Seed 002 `POST /generate` parameters; unknown fields are ignored, as the vendor's server does."""

    model: str | None = None
    prompt: str | None = None
    image_url: str | None = None
    reference_image_urls: list[str] | None = None
    veo_model: str | None = None
    duration: int | None = None
    resolution: str | None = None
    aspect_ratio: str | None = None
    seed: int | None = None
    camera_fixed: bool = False
    add_audio: bool = False
    audio_prompt: str | None = None


def decode_generate(body: bytes) -> GenerateBody:
    try:
        return msgspec.json.decode(body, type=GenerateBody, strict=False)
    except msgspec.ValidationError as exc:
        raise vendor_error(400, "Invalid parameter", str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise vendor_error(400, "Invalid JSON", "The request body must be a JSON object.") from exc


def resolve_model(requested: str | None, models: Mapping[str, ModelSpec]) -> str:
    """A key, or a display name as the docs' Python samples send ("Sora 2") [inference: they are shown working]."""
    wanted = requested if requested is not None else DEFAULT_MODEL
    if wanted in models:
        return wanted
    by_name = {spec.name: key for key, spec in models.items()}
    if wanted in by_name:
        return by_name[wanted]
    available = ", ".join(models)
    raise vendor_error(400, "Invalid model", f"Model '{wanted}' is not available. Available models: {available}")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A validated generate request, after the vendor's defaults."""

    model: str
    prompt: str
    type: str
    image_urls: tuple[str, ...]
    duration: int
    resolution: str
    aspect_ratio: str | None
    add_audio: bool


def _check_prompt(prompt: str | None) -> str:
    if prompt is None or not prompt.strip():
        raise vendor_error(400, "Missing required parameter", "The prompt parameter is required.")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise vendor_error(400, "Invalid parameter", f"Prompt must be {MAX_PROMPT_CHARS} characters or less.")
    return prompt


def _check_images(body: GenerateBody, spec: ModelSpec) -> tuple[str, ...]:
    """Seed 002 mode detection: image_url (single image), reference_image_urls (1-5, multi-image models)."""
    if body.image_url is not None and body.reference_image_urls is not None:
        raise vendor_error(400, "Invalid parameter", "Send either image_url or reference_image_urls, not both.")
    if body.image_url is not None and not spec.i2v:
        raise vendor_error(400, "Image-to-video not supported", f"{spec.name} supports text-to-video only.")
    refs = body.reference_image_urls
    if body.image_url is None and refs is None and not spec.t2v:
        raise vendor_error(400, "Text-to-video not supported", f"{spec.name} needs image_url.")
    if refs is not None and not spec.multi_image:
        raise vendor_error(400, "Multi-image not supported", f"{spec.name} does not support reference_image_urls.")
    if refs is not None and not 1 <= len(refs) <= MAX_REFERENCE_IMAGES:
        raise vendor_error(400, "Invalid parameter", f"reference_image_urls takes 1-{MAX_REFERENCE_IMAGES} images.")
    urls = tuple(refs) if refs is not None else (body.image_url,) if body.image_url is not None else ()
    for url in urls:
        if not url.startswith(("https://", "http://")):
            raise vendor_error(400, "Invalid image URL", f"'{url}' is not a public image URL.")
    return urls


def _check_duration(requested: int | None, spec: ModelSpec) -> int:
    low, high = spec.min_duration_s, spec.max_duration_s
    if requested is None:  # the documented default 5, else the model's shortest [inference]
        return DEFAULT_DURATION_S if low <= DEFAULT_DURATION_S <= high else low
    if not low <= requested <= high:
        raise vendor_error(
            400, "Invalid duration", f"Duration for {spec.name} must be between {low} and {high} seconds."
        )
    return requested


def _check_resolution(requested: str | None, spec: ModelSpec) -> str:
    if requested is None:  # the documented default 720p, else the model's highest [inference]
        return DEFAULT_RESOLUTION if DEFAULT_RESOLUTION in spec.resolutions else spec.resolutions[-1]
    if requested not in spec.resolutions:
        offered = ", ".join(spec.resolutions)
        raise vendor_error(400, "Invalid resolution", f"Resolution for {spec.name} must be one of: {offered}.")
    return requested


def _check_aspect(body: GenerateBody, image_count: int) -> str | None:
    """t2v only (seed 002); Veo 3.1 honours it with 1-2 images and forces 16:9 with 3+ (seed 004)."""
    if body.aspect_ratio is not None and body.aspect_ratio not in ASPECT_RATIOS:
        raise vendor_error(400, "Invalid aspect ratio", f"aspect_ratio must be one of: {', '.join(ASPECT_RATIOS)}.")
    if body.reference_image_urls is not None and image_count >= VEO_REFERENCE_MIN:
        return DEFAULT_ASPECT
    if image_count == 0 or body.reference_image_urls is not None:
        return body.aspect_ratio or DEFAULT_ASPECT
    return None


def resolve_settings(body: GenerateBody, models: Mapping[str, ModelSpec]) -> Settings:
    """Seed 002 parameters checked in order; each failure is a 400 `{"error", "message"}` [inference]."""
    prompt = _check_prompt(body.prompt)
    model = resolve_model(body.model, models)
    spec = models[model]
    urls = _check_images(body, spec)
    return Settings(
        model=model,
        prompt=prompt,
        type="image-to-video" if urls else "text-to-video",
        image_urls=urls,
        duration=_check_duration(body.duration, spec),
        resolution=_check_resolution(body.resolution, spec),
        aspect_ratio=_check_aspect(body, len(urls)),
        add_audio=body.add_audio,
    )


def wall_text(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime(WALL_FORMAT)


# ------------------------------------------------------------------------------------------- job records


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `status` needs, fixed at submit; `created_at` is on the job clock, `created_wall` unix s."""

    id: str
    request_id: str
    key: str
    created_at: float
    created_wall: float
    outcome: Outcome | None
    settings: Settings
    seed: int


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str
    provider: str


class AcceptedReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Seed 002 "Response Example (Text-to-Video)", key for key and in the same order."""

    success: bool
    generation_id: str
    request_id: str
    status: str
    type: str
    model: ModelInfo
    prompt: str
    duration: int
    resolution: str
    style: str
    fps: int
    aspect_ratio: str | None = None
    seed: int
    status_url: str
    message: str
    usage: UsageBody


class StatusEnvelope(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Seed 002 "Response Example (Completed)"; earlier states are the same without the result fields."""

    success: bool
    generation_id: str
    status: str
    type: str
    model: ModelInfo
    video_url: str | None = None
    prompt: str
    duration: int
    resolution: str
    style: str
    fps: int
    aspect_ratio: str | None = None
    processing_time: int | None = None
    completed_at: str | None = None
    seed: int


class FailedReply(msgspec.Struct, frozen=True, kw_only=True):
    """Undocumented; the shape providers.md §3.4 prescribes for the emulator."""

    success: bool
    generation_id: str
    status: str
    error: str


def model_info(key: str, models: Mapping[str, ModelSpec]) -> ModelInfo:
    spec = models[key]
    return ModelInfo(key=key, name=spec.name, provider=spec.provider)


def accepted_reply(job: Job, models: Mapping[str, ModelSpec], usage: UsageBody) -> AcceptedReply:
    s = job.settings
    return AcceptedReply(
        success=True,
        generation_id=job.id,
        request_id=job.request_id,
        status="pending",
        type=s.type,
        model=model_info(s.model, models),
        prompt=s.prompt,
        duration=s.duration,
        resolution=s.resolution,
        style=STYLE,
        fps=FPS,
        aspect_ratio=s.aspect_ratio,
        seed=job.seed,
        status_url=f"/v1/status/{job.id}",  # seed 002: relative to https://videogenapi.com/api
        message="Video generation request submitted successfully.",
        usage=usage,
    )


# The failed reasons are invented (no failed body is documented); `error` carries them (§3.4, §3.9).
FAILURE_REASONS = {
    Outcome.FAILED: "Video generation failed. Please try again.",
    Outcome.TIMED_OUT: "Video generation timed out.",
    Outcome.UNSAFE: "The generated video was flagged by content moderation.",
}


def job_status(job: Job, timeline: JobTimeline, now: float) -> str:
    """Seed 002 vocabulary over the timeline: the queue's first half `pending`, then `in_queue`."""
    progress = timeline.at(now)
    if progress.phase == "queued":
        return "pending" if now < (job.created_at + timeline.started_at) / 2 else "in_queue"
    if progress.phase == "running" or job.outcome is Outcome.STUCK:
        return "in_progress"
    return "failed" if job.outcome in FAILURE_REASONS else "completed"


def status_reply(
    job: Job, timeline: JobTimeline, now: float, models: Mapping[str, ModelSpec], video_url: str
) -> object:
    """Seed 002 status bodies: the envelope while running, plus the result fields once completed."""
    status = job_status(job, timeline, now)
    if status == "failed" and job.outcome is not None:
        return FailedReply(success=True, generation_id=job.id, status=status, error=FAILURE_REASONS[job.outcome])
    s, done = job.settings, status == "completed"
    elapsed_s = timeline.finished_at - job.created_at
    return StatusEnvelope(
        success=True,
        generation_id=job.id,
        status=status,
        type=s.type,
        model=model_info(s.model, models),
        video_url=video_url if done else None,
        prompt=s.prompt,
        duration=s.duration,
        resolution=s.resolution,
        style=STYLE,
        fps=FPS,
        aspect_ratio=s.aspect_ratio,
        processing_time=round(elapsed_s) if done else None,
        completed_at=wall_text(job.created_wall + elapsed_s) if done else None,
        seed=job.seed,
    )

"""The Vidgen v2 emulator's job logic (seed 000): request bodies, the vendor's silent fallbacks, job
records and the replies built from them. Pure: no HTTP, no clock reads, no randomness of its own."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping

import msgspec

from providers.prompts import join_negatives, split_negative_terms
from sandbox.clock import Phase
from sandbox.faults import Outcome

# Seed 000 "Completed (Safe)" prints the model's built-in negatives literally as "base negatives".
BASE_NEGATIVES = "base negatives"
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_SIZE = 832, 480, 720
DIMENSION_RANGE, SIZE_RANGE = (320, 1280), (720, 1280)
# C2PA fields "When omitted, server-configured defaults are used" (seed 000): those of its example.
CS_AUTHOR, CS_TITLE, CS_DESCRIPTION = "Author", "AI Video", "Text to Video - Generative AI"
UNSAFE_CATEGORY, UNSAFE_CATEGORY_IDS = "Violence", ["violence"]


class VendorError(Exception):
    """A documented vendor error reply: rendered as `{"error": message}` with `status_code`."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


# ---------------------------------------------------------------------------------------- request bodies
# Vendor request bodies: unknown fields are ignored and defaults apply, as a lenient JS server would.


class SceneBody(msgspec.Struct, kw_only=True):
    prompt: str = ""
    negative: str = ""
    start_frame: str | None = None
    end_frame: str | None = None


class ToggleBody(msgspec.Struct, kw_only=True):
    enabled: bool = False


class GenerateBody(msgspec.Struct, kw_only=True):
    scenes: msgspec.Raw = msgspec.Raw()  # decoded on its own so each failure maps to its documented error
    model: str | None = None
    optimize: bool = False
    size: float | None = None
    width: float | None = None
    height: float | None = None
    upscale: bool = False
    music: ToggleBody | None = None
    fx_sound: ToggleBody | None = None
    wm_position: str = "bottom-right"
    wm_scale: int = 5
    wm_transparency: int = 100
    cs_author: str = ""
    cs_title: str = ""
    cs_description: str = ""
    cs_organization: str = ""
    cs_vendor: str = ""


def parse_scenes(raw: msgspec.Raw, max_scenes: int) -> tuple[SceneBody, ...]:
    """Scenes in the order of the seed's error table: present, within the cap, each with a prompt."""
    try:
        items = msgspec.json.decode(raw, type=list[msgspec.Raw]) if raw else []
    except msgspec.DecodeError:
        items = []
    if not items:
        raise VendorError(400, "scenes array is required")
    if len(items) > max_scenes:
        raise VendorError(400, f"Maximum {max_scenes} scenes allowed")
    scenes = []
    for item in items:
        try:
            scene = msgspec.json.decode(item, type=SceneBody, strict=False)
        except msgspec.DecodeError:
            scene = SceneBody()
        if not scene.prompt.strip():
            raise VendorError(400, "Each scene requires a prompt")
        scenes.append(scene)
    return tuple(scenes)


# -------------------------------------------------------------------------------------- silent fallbacks


def resolve_model(requested: str | None, models: Mapping[str, str]) -> str:
    """Seed 000: an invalid or omitted model silently becomes the first configured model."""
    if not models:
        raise VendorError(500, "No models configured")
    if requested is not None and requested in models:
        return requested
    return next(iter(models))


def fit_dimension(value: float | None, default: int) -> int:
    """Seed 000: rounded to the nearest multiple of 8 (halves up, like JS Math.round), clamped to 320-1280."""
    if value is None:
        return default
    low, high = DIMENSION_RANGE
    return min(max(math.floor(value / 8 + 0.5) * 8, low), high)


def fit_size(value: float | None) -> int:
    """`size` is documented as 720-1280; out-of-range values are clamped silently like the dimensions."""
    if value is None:
        return DEFAULT_SIZE
    low, high = SIZE_RANGE
    return min(max(math.floor(value + 0.5), low), high)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A generate request after the vendor's defaults and silent fallbacks; `meta` echoes it."""

    model: str
    size: int
    width: int
    height: int
    upscale: bool
    music_enabled: bool
    fx_sound_enabled: bool
    optimized: bool
    wm_position: str
    wm_scale: int
    wm_transparency: int
    cs_author: str
    cs_title: str
    cs_description: str
    cs_organization: str
    cs_vendor: str


def resolve_settings(body: GenerateBody, models: Mapping[str, str]) -> Settings:
    return Settings(
        model=resolve_model(body.model, models),
        size=fit_size(body.size),
        width=fit_dimension(body.width, DEFAULT_WIDTH),
        height=fit_dimension(body.height, DEFAULT_HEIGHT),
        upscale=body.upscale,
        music_enabled=bool(body.music and body.music.enabled),
        fx_sound_enabled=bool(body.fx_sound and body.fx_sound.enabled),
        optimized=body.optimize,
        wm_position=body.wm_position,
        wm_scale=body.wm_scale,
        wm_transparency=body.wm_transparency,
        cs_author=body.cs_author or CS_AUTHOR,
        cs_title=body.cs_title or CS_TITLE,
        cs_description=body.cs_description or CS_DESCRIPTION,
        cs_organization=body.cs_organization,
        cs_vendor=body.cs_vendor,
    )


# ----------------------------------------------------------------------------------------------- prompts

_ENHANCEMENT = "cinematic lighting, smooth camera motion, shallow depth of field, highly detailed"
SEED_ACTIONS = ("dancing gracefully", "walking slowly", "turning to the camera", "laughing softly", "running")
SEED_CLOTHING = ("flowing silk dress", "leather jacket", "linen summer shirt", "wool coat", "denim overalls")
SEED_FRAMING = ("medium close-up", "wide establishing shot", "low-angle shot", "over-the-shoulder shot")
SEED_LOCATIONS = (
    "on a sunlit rooftop terrace",
    "in a neon-lit alley",
    "on a misty beach",
    "in an autumn forest",
)


def enhance_prompt(text: str) -> str:
    """A deterministic stand-in for the vendor's LLM enhancement (seed 000 `optimize`)."""
    return f"{text.strip()}, {_ENHANCEMENT}"


def random_prompt(rng: random.Random) -> str:
    """Seed 000 `random`: one pick from each category, in the order of the seed's example."""
    return ", ".join(rng.choice(category) for category in (SEED_ACTIONS, SEED_CLOTHING, SEED_FRAMING, SEED_LOCATIONS))


# ------------------------------------------------------------------------------------------- job records


class JobScene(msgspec.Struct, frozen=True, kw_only=True):
    prompt: str
    positive: str
    negative: str
    has_start_frame: bool
    has_end_frame: bool


def build_scene(scene: SceneBody, *, optimize: bool) -> JobScene:
    """Seed 000 "Prompt Construction": negatives are base, then parsed `-terms`, then the scene's own."""
    positive, terms = split_negative_terms(scene.prompt)
    negative = ", ".join(part for part in (BASE_NEGATIVES, join_negatives(terms, scene.negative)) if part)
    return JobScene(
        prompt=scene.prompt,
        positive=enhance_prompt(positive) if optimize else positive,
        negative=negative,
        has_start_frame=bool(scene.start_frame),
        has_end_frame=bool(scene.end_frame),
    )


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `status` needs to build the completed `meta`, fixed at submit time."""

    id: str
    gen_id: str
    created_at: float
    time: str
    outcome: Outcome | None
    scenes: tuple[JobScene, ...]
    settings: Settings

    @property
    def fingerprint(self) -> str:
        # Stable across polls, so the filenames (which embed it, seed 000) do not change between polls.
        return hashlib.sha256(self.gen_id.encode()).hexdigest()[:16]

    @property
    def video_filename(self) -> str:
        return f"{self.gen_id}_{self.fingerprint}_00001.mp4"

    @property
    def thumbnail_filename(self) -> str:
        return f"{self.gen_id}_{self.fingerprint}_00001_thumb.jpg"


# ----------------------------------------------------------------------------------------------- replies


class MetaImage(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    filename: str
    type: str


class Meta(msgspec.Struct, frozen=True, kw_only=True):
    """Seed 000 "Completed (Safe)" `meta`, key for key and in the same order."""

    id: str
    gen_id: str
    time: str
    prompt: str
    scenes: tuple[JobScene, ...]
    model: str
    size: int
    width: int
    height: int
    upscale: bool
    music_enabled: bool
    fx_sound_enabled: bool
    scene_count: int
    optimized: bool
    compliance: str
    compliance_codes: list[str]
    fingerprint: str
    flagged: bool
    images: list[MetaImage]
    enable_watermark: bool
    enable_c2pa: bool
    compute_fingerprint: bool
    wm_position: str
    wm_scale: int
    wm_transparency: int
    cs_author: str
    cs_title: str
    cs_description: str
    cs_organization: str
    cs_vendor: str


class StatusReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    status: str
    meta: Meta | None = None
    compliance: str | None = None
    error: str | None = None
    filter_categories: list[str] | None = None


def build_meta(job: Job, sign: Callable[[str], str]) -> Meta:
    """The completed `meta`: the job's resolved settings plus freshly presigned asset URLs."""
    s = job.settings
    return Meta(
        id=job.id,
        gen_id=job.gen_id,
        time=job.time,
        prompt=job.scenes[0].prompt,
        scenes=job.scenes,
        model=s.model,
        size=s.size,
        width=s.width,
        height=s.height,
        upscale=s.upscale,
        music_enabled=s.music_enabled,
        fx_sound_enabled=s.fx_sound_enabled,
        scene_count=len(job.scenes),
        optimized=s.optimized,
        compliance="safe",
        compliance_codes=[],
        fingerprint=job.fingerprint,
        flagged=False,
        images=[
            MetaImage(url=sign(job.video_filename), filename=job.video_filename, type="signed"),
            MetaImage(url=sign(job.thumbnail_filename), filename=job.thumbnail_filename, type="thumbnail"),
        ],
        enable_watermark=True,
        enable_c2pa=True,
        compute_fingerprint=True,
        wm_position=s.wm_position,
        wm_scale=s.wm_scale,
        wm_transparency=s.wm_transparency,
        cs_author=s.cs_author,
        cs_title=s.cs_title,
        cs_description=s.cs_description,
        cs_organization=s.cs_organization,
        cs_vendor=s.cs_vendor,
    )


def status_reply(job: Job, phase: Phase, sign: Callable[[str], str]) -> StatusReply:
    """Seed 000 `status` bodies; TIMED_OUT and CANCELLED have no documented body (providers.md §1.2)."""
    if phase == "queued":
        return StatusReply(status="IN_QUEUE")
    if phase == "running" or job.outcome is Outcome.STUCK:
        return StatusReply(status="IN_PROGRESS")
    match job.outcome:
        case Outcome.UNSAFE:
            error = f"Content blocked — flagged for: {UNSAFE_CATEGORY}."
            return StatusReply(
                status="COMPLETED", compliance="unsafe", error=error, filter_categories=UNSAFE_CATEGORY_IDS
            )
        case Outcome.FAILED:
            return StatusReply(status="FAILED", error="Generation failed")
        case Outcome.TIMED_OUT:
            return StatusReply(status="TIMED_OUT", error="Job execution timed out")
        case Outcome.CANCELLED:
            return StatusReply(status="CANCELLED")
        case _:
            return StatusReply(status="COMPLETED", meta=build_meta(job, sign))

"""videogenapi's wire (seeds 002/004, providers.md §3): its fixed facts and its JSON shapes as msgspec structs.
Vendor structs tolerate unknown fields because vendors add fields; nothing here does I/O or translation."""

from __future__ import annotations

from typing import Literal

import msgspec

from providers.contract import ImageTransport

SLUG = "videogenapi"
GENERATE_PATH = "/api/v1/generate"  # seed 002 "Generate Video"; base URL is `https://videogenapi.com/api/v1/`
STATUS_PATH = "/api/v1/status"  # /{generation_id} (seed 002 "Check Status")
USER_PATH = "/api/v1/user"  # seed 002 "User Information": user information and usage statistics
IMAGE_TRANSPORTS: frozenset[ImageTransport] = frozenset({"url"})  # seed 002 `image_url`: public URLs only
MAX_PROMPT_CHARS = 1000  # seed 002 `prompt`: "max 1000 characters"
MAX_REFERENCE_IMAGES = 5  # seed 002 `reference_image_urls`: "1-5 images"
# Seed 002: only Veo 3.1 documents `reference_image_urls` semantics by count: 1-2 images are
# FIRST_AND_LAST_FRAMES_2_VIDEO, 3+ are REFERENCE_2_VIDEO (which forces 16:9).
FIRST_LAST_MODELS = frozenset({"veo-31"})
VEO_REFERENCE_MIN_IMAGES = 3
VEO_REFERENCE_ASPECT = "16:9"

Resolution = Literal["480p", "720p", "1080p", "4K"]
AspectRatio = Literal["16:9", "4:3", "1:1", "9:21"]

# Every size this adapter can express: seed 002 `resolution` (480p, 720p, 1080p, 4K) x `aspect_ratio`
# (16:9, 4:3, 1:1, 9:21). The tier is the short side (4K = 2160); 480p 16:9 is 832x480 like the gateway's
# own tier table. Anything else (9:16 included) is refused, never mapped to a neighbour.
_SHORT_SIDES: dict[Resolution, int] = {"480p": 480, "720p": 720, "1080p": 1080, "4K": 2160}
_LONG_16_9: dict[Resolution, int] = {"480p": 832, "720p": 1280, "1080p": 1920, "4K": 3840}


def _size(resolution: Resolution, aspect: AspectRatio) -> str:
    short = _SHORT_SIDES[resolution]
    match aspect:
        case "16:9":
            return f"{_LONG_16_9[resolution]}x{short}"
        case "4:3":
            return f"{short * 4 // 3}x{short}"
        case "1:1":
            return f"{short}x{short}"
        case "9:21":
            return f"{short}x{short * 21 // 9}"


SIZES: dict[str, tuple[Resolution, AspectRatio]] = {
    _size(resolution, aspect): (resolution, aspect)
    for resolution in _SHORT_SIDES
    for aspect in ("16:9", "4:3", "1:1", "9:21")
}


class Usage(msgspec.Struct):
    """Seed 002 accepted reply `usage`; also in a monthly-limit 429 (shape invented, providers.md §3.9)."""

    current_month_usage: int | None = None
    monthly_limit: int | None = None


class WindowCounter(msgspec.Struct):
    """A per-model moving window: seed 004 429 `details`, or the undocumented 200 `rate_limit` (§3.4)."""

    current_usage: int | None = None
    limit: int | None = None
    window: str | None = None
    reset_time: str | None = None  # "YYYY-MM-DD HH:MM:SS" with no timezone: not parsed
    seconds_until_reset: float | None = None
    upgrade_required: bool | None = None
    upgrade_plan: str | None = None


class ErrorObject(msgspec.Struct):
    """Tolerated in place of the usual error string (clients read `error` as a string or its `message`)."""

    message: str | None = None
    code: str | None = None


ErrorField = str | ErrorObject | None


class ErrorReply(msgspec.Struct):
    """Error bodies: `error` and `message` strings (§3.5), plus the 429 `details` (seed 004) or `usage`."""

    success: bool | None = None
    error: ErrorField = None
    message: str | None = None
    details: WindowCounter | None = None
    usage: Usage | None = None


class LimitCarrier(msgspec.Struct):
    """Any reply that may carry counters: the accepted envelope or a 429."""

    usage: Usage | None = None
    rate_limit: WindowCounter | None = None
    details: WindowCounter | None = None


class ModelEcho(msgspec.Struct):
    key: str | None = None
    name: str | None = None
    provider: str | None = None


class GenerateReply(msgspec.Struct):
    """Seed 002 "Response Example (Text-to-Video)": the accepted (200) envelope."""

    success: bool | None = None
    generation_id: str | None = None
    status: str | None = None
    type: str | None = None
    model: ModelEcho | str | None = None
    error: ErrorField = None


class StatusReply(msgspec.Struct):
    """Seed 002 "Response Example (Completed)"; failed bodies are undocumented (providers.md §3.4)."""

    success: bool | None = None
    generation_id: str | None = None
    status: str | None = None
    video_url: str | None = None
    processing_time: float | None = None
    completed_at: str | None = None
    seed: int | None = None
    error: ErrorField = None
    message: str | None = None
    failed_reason: str | None = None


def error_text(error: ErrorField) -> str | None:
    """The text of an `error` field, whichever of the tolerated shapes it came in."""
    return error.message if isinstance(error, ErrorObject) else error

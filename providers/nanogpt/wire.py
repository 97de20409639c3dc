"""NanoGPT's wire (providers.md §4): its fixed facts, per-model field names and JSON shapes as msgspec structs.
Vendor structs tolerate unknown fields because vendors add fields; nothing here does I/O or translation."""

from __future__ import annotations

from typing import Literal

import msgspec

# Source videos sent inline (`videoDataUrl`): the docs page's "API uploads ≤4 MB" (§4.3) [inference: seed 003 gives
# no video size; images have no cap, since seed 003 recommends `imageDataUrl` for files larger than 4 MB].
MAX_SOURCE_VIDEO_BYTES = 4 * 1024 * 1024
SLUG = "nanogpt"
SUBMIT_PATH = "/api/generate-video"  # §4.2; settings.base_url is the host root
STATUS_PATH = "/api/video/status"  # §4.2 unified status: `?requestId=` (alias `runId=`)
API_KEY_HEADER = "x-api-key"  # §4.1: the video pages and every observed video client use it

# ------------------------------------------------------------------------------------------- model rules


class ModelRule(msgspec.Struct, frozen=True, kw_only=True):
    """Which request fields one model family takes (Nano-GPT-com/docs video-generation.mdx "Model Directory").

    A model without an aspect or resolution field produces one native shape; a request for any other is refused.
    """

    duration_field: Literal["duration", "seconds"] = "duration"
    duration_suffix: str = ""
    aspect_field: Literal["aspect_ratio", "orientation"] | None = "aspect_ratio"
    resolution_field: bool = True
    native_aspect: str | None = None
    native_resolution: str | None = None
    last_frame_field: str | None = None


DEFAULT_RULE = ModelRule()
# First matching prefix wins. Sources: the docs' model directory (sora-2: `seconds`, `orientation`, `resolution`;
# veo2/veo3-video: "5s" durations; kling-v25-turbo-pro: `aspect_ratio` only; wan-wavespeed-25: `resolution`
# only; lightricks-ltx-2: `duration` and `generateAudio` only) and §4.3 for the last-frame keys.
MODEL_RULES: tuple[tuple[str, ModelRule], ...] = (
    ("sora", ModelRule(duration_field="seconds", aspect_field="orientation")),
    ("veo2-video", ModelRule(duration_suffix="s")),
    ("veo3-video", ModelRule(duration_suffix="s")),
    ("kling", ModelRule(resolution_field=False, native_resolution="1080p", last_frame_field="image_tail")),
    ("wan-wavespeed-25", ModelRule(aspect_field=None, native_aspect="16:9")),
    (
        "lightricks-ltx-2",
        ModelRule(aspect_field=None, resolution_field=False, native_aspect="16:9", native_resolution="1080p"),
    ),
    ("bytedance-seedance-2", ModelRule(last_frame_field="last_image")),
    ("seedance-2", ModelRule(last_frame_field="last_image")),
    ("minimax", ModelRule(last_frame_field="last_image")),
)

# Exact pixel sizes the adapter can name with §4.3's `aspect_ratio` and `resolution` tokens; nothing else is
# guessed. Long sides are multiples of 8 (480p 16:9 is 832x480, as the gateway's intake resolves it).
_SIZES_BY_ASPECT: dict[str, dict[str, tuple[int, int]]] = {
    "16:9": {"480p": (832, 480), "720p": (1280, 720), "1080p": (1920, 1080)},
    "4:3": {"480p": (640, 480), "720p": (960, 720), "1080p": (1440, 1080)},
    "21:9": {"480p": (1120, 480), "720p": (1680, 720), "1080p": (2520, 1080)},
    "1:1": {"480p": (480, 480), "720p": (720, 720), "1080p": (1080, 1080)},
}
# Seed 003 `aspect_ratio` lists 16:9, 9:16, 1:1, 3:4, 4:3, 21:9 and auto: 21:9 has no portrait token (no 9:21).
_PORTRAIT = {"16:9": "9:16", "4:3": "3:4"}


def _size_tokens() -> dict[tuple[int, int], tuple[str, str]]:
    tokens: dict[tuple[int, int], tuple[str, str]] = {}
    for aspect, tiers in _SIZES_BY_ASPECT.items():
        for resolution, (width, height) in tiers.items():
            tokens[(width, height)] = (aspect, resolution)
            if aspect in _PORTRAIT:
                tokens[(height, width)] = (_PORTRAIT[aspect], resolution)
    return tokens


SIZE_TOKENS: dict[tuple[int, int], tuple[str, str]] = _size_tokens()
ORIENTATIONS = {"16:9": "landscape", "9:16": "portrait"}  # the docs: Sora's `orientation` is landscape|portrait

# ------------------------------------------------------------------------------------------- replies


class ErrorObject(msgspec.Struct):
    """§4.6 shapes 1 and 2: `{"message","type"}` (video guide) or `{"message","type","code","param"}` (OpenAI)."""

    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None


# §4.6: `error` is an object (shapes 1, 2), a string (legacy `"Insufficient balance"`) or an int (OpenAPI `Error`).
ErrorField = ErrorObject | str | int | None
# USD amounts are JSON numbers in every example; a numeric string is accepted too, so an accepted (pre-charged)
# job is never turned into a protocol error by a formatting change.
Money = float | str | None


class ErrorReply(msgspec.Struct):
    error: ErrorField = None
    message: str | None = None
    status: int | str | None = None  # legacy shape: `{"error": "...", "requiredBalance": 0.0035, "status": 402}`
    required_balance: float | None = msgspec.field(default=None, name="requiredBalance")
    refund_message: str | None = msgspec.field(default=None, name="refundMessage")


class SubmitReply(msgspec.Struct):
    """§4.4: `{runId, id, status, model, cost, paymentSource, remainingBalance}`; `error` when it is not one."""

    run_id: str | None = msgspec.field(default=None, name="runId")
    id: str | None = None
    status: str | int | None = None  # an int only in the legacy error shape
    model: str | None = None
    cost: Money = None
    payment_source: str | None = msgspec.field(default=None, name="paymentSource")
    remaining_balance: Money = msgspec.field(default=None, name="remainingBalance")
    error: ErrorField = None


class VideoRef(msgspec.Struct):
    url: str | None = None


class StatusOutput(msgspec.Struct):
    video: VideoRef | None = None
    url: str | None = None


class StatusFields(msgspec.Struct):
    """The job fields, found in `data` (Shape A, nested uppercase) or at the top level (Shape B, flat lowercase)."""

    status: str | int | None = None  # an int only in the legacy error shape
    output: StatusOutput | None = None
    video_url: str | None = msgspec.field(default=None, name="videoUrl")
    url: str | None = None
    error: ErrorField = None
    user_friendly_error: str | None = msgspec.field(default=None, name="userFriendlyError")
    message: str | None = None
    is_nsfw_error: bool | None = msgspec.field(default=None, name="isNSFWError")
    cost: Money = None
    progress: float | None = None


class StatusReply(StatusFields):
    data: StatusFields | None = None
    request_id: str | None = msgspec.field(default=None, name="requestId")
    model: str | None = None

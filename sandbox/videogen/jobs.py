"""The VideoGen emulator's vendor logic (seed 001, providers.md §2): request bodies and their validation,
hourly rate windows, execution and file records, and the replies built from them. Pure: no HTTP, no clock
reads (`now` is passed in), no randomness of its own."""

from __future__ import annotations

import collections
import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

import msgspec

from providers.mp4 import duration_s
from sandbox.clock import Progress
from sandbox.faults import Outcome

WINDOW_S = 3600.0  # every limit of providers.md §2.6 is per key, per endpoint group, per hour
DURATION_RANGE_S = (1, 30)
NUM_RESULTS_RANGE = (1, 100)
WATERMARK_MODES = frozenset({"AUTO", "VIDEO_GEN", "NONE"})
QUALITIES = frozenset({"LOW", "STANDARD", "HIGH", "MAX"})
AUTO_DURATION_S = 5.0  # `durationSeconds` omitted = "auto" (providers.md §2.3): what auto picks [inference]
TOOL_TYPE = "GENERATE_VIDEO_CLIP"
# No content-policy, timeout or failure codes are documented (providers.md §2.4 and §7 q5): these are
# plausible snake_case codes [inference], matched by the adapter's code table.
BLOCKED_ERROR = ("The prompt was rejected by the content policy.", "content_policy_violation")
UNSAFE_ERROR = ("The generated clip was blocked by the content policy.", "content_policy_violation")
TIMEOUT_ERROR = ("The execution timed out before the clip was generated.", "execution_timed_out")
FAILED_ERROR = ("Video clip generation failed.", None)


class VendorError(Exception):
    """A documented error reply: `{message, code?, requirement?}` with `status_code` (providers.md §2.5)."""

    def __init__(self, status_code: int, message: str, code: str | None = None, requirement: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.code = code
        self.requirement = requirement


def invalid(message: str) -> VendorError:
    return VendorError(400, message, "invalid_parameters")


class RequirementBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str
    details: dict[str, str] | None = None


class ApiErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """`ApiError`: `code` is "not present on all errors yet" (providers.md §2.5), so it is left out when None."""

    message: str
    code: str | None = None
    requirement: RequirementBody | None = None


def error_body(error: VendorError) -> bytes:
    requirement = None
    if error.requirement is not None:
        requirement = RequirementBody(type=error.requirement, details={"addOn": "PRODUCTION_API"})
    return msgspec.json.encode(ApiErrorBody(message=error.message, code=error.code, requirement=requirement))


# ------------------------------------------------------------------------------------------ rate windows


class WindowState(msgspec.Struct, frozen=True, kw_only=True):
    """One call's view of its window: `reset_in_s` is when the oldest counted call leaves it."""

    allowed: bool
    limit: int
    remaining: int
    reset_in_s: float


class HourlyWindows:
    """Moving one-hour windows per (key, endpoint group): a call counts when admitted, leaves an hour later."""

    def __init__(self, limits: Mapping[str, int], window_s: float = WINDOW_S) -> None:
        self._limits = dict(limits)
        self._window_s = window_s
        self._hits: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(collections.deque)

    def hit(self, key: str, group: str, now: float) -> WindowState:
        limit, hits = self._limits[group], self._hits[(key, group)]
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        allowed = len(hits) < limit
        if allowed:
            hits.append(now)
        reset_in_s = hits[0] + self._window_s - now if hits else self._window_s
        return WindowState(allowed=allowed, limit=limit, remaining=limit - len(hits), reset_in_s=reset_in_s)


# ---------------------------------------------------------------------------------------- request bodies


class AspectRatioBody(msgspec.Struct, forbid_unknown_fields=True):
    width: float
    height: float


class GenerateBody(msgspec.Struct, kw_only=True, rename="camel"):
    """seed 001 fields plus those the vendor's MCP sends (providers.md §2.3); other fields are ignored."""

    prompt: str | None = None
    image_file_ids: list[str] | None = None
    video_file_id: str | None = None
    video_file_ids: list[str] | None = None
    start_frame_file_id: str | None = None
    generate_audio: bool = False
    aspect_ratio: msgspec.Raw = msgspec.Raw()  # decoded on its own so its shape gets its own message
    watermark_mode: str = "AUTO"
    num_results: int = 1
    is_output_temporary: bool = False
    duration_seconds: int | None = None
    quality: str | None = None
    suppress_background_music: bool = False


_Body = TypeVar("_Body", "GenerateBody", "UploadBody")


class UploadBody(msgspec.Struct, kw_only=True, rename="camel"):
    display_name: str | None = None
    type: Literal["IMAGE", "VIDEO", "AUDIO", "PDF", "SLIDESHOW", "LOTTIE"] | None = None
    is_temporary: bool = False


def decode_body(raw: bytes, body_type: type[_Body]) -> _Body:
    try:
        return msgspec.json.decode(raw or b"{}", type=body_type)
    except msgspec.DecodeError as exc:
        raise invalid(f"Invalid request body: {exc}") from exc


class Clip(msgspec.Struct, frozen=True, kw_only=True):
    """A validated generate request: what the execution will produce."""

    prompt: str
    ratio: tuple[float, float]
    duration_s: float
    num_results: int
    temporary: bool
    file_ids: tuple[str, ...]
    restyled: bool = False  # made from a source video (`videoFileId`): its output lasts `duration_s`


def _ratio(raw: msgspec.Raw) -> tuple[float, float]:
    if not raw or bytes(raw) == b"null":
        return (16.0, 9.0)  # "Defaults to 16:9 when omitted" (seed 001)
    try:
        ratio = msgspec.json.decode(raw, type=AspectRatioBody)
    except msgspec.DecodeError as exc:
        raise invalid("aspectRatio must be an object { width, height } in ratio units") from exc
    if ratio.width <= 0 or ratio.height <= 0:
        raise invalid("aspectRatio width and height must be positive")
    return (ratio.width, ratio.height)


def _check_ranges(body: GenerateBody) -> None:
    low, high = DURATION_RANGE_S
    if body.duration_seconds is not None and not low <= body.duration_seconds <= high:
        raise invalid(f"durationSeconds must be between {low} and {high}")
    low, high = NUM_RESULTS_RANGE
    if not low <= body.num_results <= high:
        raise invalid(f"numResults must be between {low} and {high}")
    if body.quality is not None and body.quality not in QUALITIES:
        raise invalid(f"quality must be one of {', '.join(sorted(QUALITIES))}")
    if body.watermark_mode not in WATERMARK_MODES:
        raise invalid(f"watermarkMode must be one of {', '.join(sorted(WATERMARK_MODES))}")


def video_seconds(stored: StoredFile) -> float | None:
    """An uploaded source video's length: a VIDEO file whose bytes are a readable MP4, else None."""
    return duration_s(stored.content) if stored.type == "VIDEO" else None


def validate_generate(
    body: GenerateBody,
    *,
    add_on: bool,
    file_ready: Callable[[str], bool],
    video_length: Callable[[str], float | None] = lambda file_id: None,
) -> Clip:
    """seed 001 rules: at least one input, ratio shape, ranges, the add-on for NONE, files that exist; a source
    video must be a real MP4 (`video_length` reads it), and a restyle keeps its length unless
    `durationSeconds` says otherwise [inference: the seed says only "restyles or transforms the input video"]."""
    videos = [*(body.video_file_ids or ()), *([body.video_file_id] if body.video_file_id else [])]
    images = [*([body.start_frame_file_id] if body.start_frame_file_id else []), *(body.image_file_ids or ())]
    prompt = (body.prompt or "").strip()
    if not prompt and not images and not videos:
        raise invalid("At least one of prompt, imageFileIds, or videoFileId must be provided.")
    ratio = _ratio(body.aspect_ratio)
    _check_ranges(body)
    if body.watermark_mode == "NONE" and not add_on:
        message = "watermarkMode NONE requires the Production API add-on."
        raise VendorError(403, message, requirement="purchase_add_on")  # status undocumented (§7 q5)
    for file_id in (*images, *videos):
        if not file_ready(file_id):
            raise invalid(f"File {file_id} does not exist or has not finished processing.")
    lengths = [video_length(file_id) for file_id in videos]
    if any(length is None for length in lengths):
        raise invalid("videoFileId must name an uploaded VIDEO file holding an MP4.")  # [inference]
    default_s = next((length for length in lengths if length is not None), AUTO_DURATION_S)
    clip_s = float(body.duration_seconds) if body.duration_seconds is not None else default_s
    return Clip(
        prompt=prompt,
        ratio=ratio,
        duration_s=clip_s,
        num_results=body.num_results,
        temporary=body.is_output_temporary,
        file_ids=(*images, *videos),
        restyled=bool(videos),
    )


# ------------------------------------------------------------------------------------------------ records


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    owner: str
    created_at: float
    clip: Clip
    outcome: Outcome | None
    cancelled_progress: float | None = None  # set by the cancel call: the progress it stopped at

    def result_file_id(self, index: int) -> str:
        # Derived, not random, so the ids stay the same from one poll to the next.
        return "vg_file_" + hashlib.sha256(f"{self.id}/{index}".encode()).hexdigest()[:20]


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """An uploaded file: created by `POST /v1/files/upload`, filled by the PUT, ready `ready_s` later."""

    id: str
    owner: str
    display_name: str
    type: str | None
    temporary: bool
    upload_token: str
    upload_expires_at: float
    uploaded_at: float | None = None
    content: bytes = b""
    content_type: str = "application/octet-stream"


# ------------------------------------------------------------------------------------------------ replies

Signer = Callable[[str], tuple[str, int]]  # storage object name -> (signed URL, unix expiry)


class SourceReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    status: str
    url: str | None = None
    expires_at: int | None = None
    width: int | None = None
    height: int | None = None
    file_bytes: int | None = None


class FileReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """FileInfo (providers.md §2.4); unknown values are null, as in the vendor's schema."""

    file_id: str
    type: str | None
    scope: str
    display_name: str
    duration_seconds: float | None
    download_url: str | None
    download_url_expires_at: int | None
    thumbnail_url: str | None
    thumbnail_url_expires_at: int | None
    download_source: SourceReply
    preview_source: SourceReply | None = None
    thumbnail_source: SourceReply | None = None
    hls_source: SourceReply | None = None
    is_public_preview_enabled: bool = False
    source_tool_type: str | None = None
    source_tool_execution_id: str | None = None


class ResultReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    file_id: str
    type: str
    download_url: str
    download_url_expires_at: int
    thumbnail_url: str
    thumbnail_url_expires_at: int
    file: FileReply


class ExecutedToolReply(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    tool_execution_id: str
    status: str
    tool_type: str
    progress_percentage: float
    attempt_index: int
    results: list[ResultReply]
    error: ApiErrorBody | None


FileState = Literal["pending", "ready", "failed"]


def file_state(stored: StoredFile, *, now: float, ready_s: float) -> FileState:
    """Processing starts at the PUT and takes `ready_s`; an empty upload cannot be processed [inference]."""
    if stored.uploaded_at is None or now < stored.uploaded_at + ready_s:
        return "pending"
    return "ready" if stored.content else "failed"


def file_reply(stored: StoredFile, *, state: FileState, sign: Signer) -> FileReply:
    url, expires_at = sign(stored.id) if state == "ready" else (None, None)
    source = SourceReply(
        status=state,
        url=url,
        expires_at=expires_at,
        file_bytes=len(stored.content) if state == "ready" else None,
    )
    return FileReply(
        file_id=stored.id,
        type=stored.type,
        scope="TEMPORARY" if stored.temporary else "TEAM",
        display_name=stored.display_name,
        duration_seconds=None,  # "null for images"
        download_url=url,
        download_url_expires_at=expires_at,
        thumbnail_url=None,
        thumbnail_url_expires_at=None,
        download_source=source,
    )


def _frame(ratio: tuple[float, float]) -> tuple[int, int]:
    """A 720p rendition of the ratio, even sides (outputs report their size; none can be asked for)."""
    width, height = ratio
    long_side = 2 * round(720 * max(width, height) / min(width, height) / 2)
    return (long_side, 720) if width >= height else (720, long_side)


def _result(execution: Execution, index: int, sign: Signer) -> ResultReply:
    file_id = execution.result_file_id(index)
    video_url, video_expires = sign(f"{file_id}.mp4")
    thumb_url, thumb_expires = sign(f"{file_id}.jpg")
    width, height = _frame(execution.clip.ratio)
    file = FileReply(
        file_id=file_id,
        type="VIDEO",
        scope="TEMPORARY" if execution.clip.temporary else "TEAM",
        display_name=execution.clip.prompt[:60] or "Generated clip",
        duration_seconds=execution.clip.duration_s,
        download_url=video_url,
        download_url_expires_at=video_expires,
        thumbnail_url=thumb_url,
        thumbnail_url_expires_at=thumb_expires,
        download_source=SourceReply(
            status="ready", url=video_url, expires_at=video_expires, width=width, height=height
        ),
        source_tool_type=TOOL_TYPE,
        source_tool_execution_id=execution.id,
    )
    return ResultReply(
        file_id=file_id,
        type="VIDEO",
        download_url=video_url,
        download_url_expires_at=video_expires,
        thumbnail_url=thumb_url,
        thumbnail_url_expires_at=thumb_expires,
        file=file,
    )


def _reply(
    execution: Execution, status: str, percent: float, error: tuple[str, str | None] | None = None
) -> ExecutedToolReply:
    return ExecutedToolReply(
        tool_execution_id=execution.id,
        status=status,
        tool_type=TOOL_TYPE,
        progress_percentage=percent,
        attempt_index=0,
        results=[],
        error=None if error is None else ApiErrorBody(message=error[0], code=error[1]),
    )


def execution_reply(execution: Execution, progress: Progress, sign: Signer) -> ExecutedToolReply:
    """pending → running (progress rising) → a terminal state that never changes (providers.md §2.4)."""
    if execution.cancelled_progress is not None:
        return _reply(execution, "cancelled", execution.cancelled_progress)
    if execution.outcome is Outcome.BLOCKED:  # refused by the pre-generation check, before any progress
        return _reply(execution, "failed", 0.0, BLOCKED_ERROR)
    if progress.phase == "queued":
        return _reply(execution, "pending", 0.0)
    if progress.phase == "running" or execution.outcome is Outcome.STUCK:
        return _reply(execution, "running", math.floor(min(progress.fraction, 0.99) * 1000) / 10)
    match execution.outcome:
        case Outcome.UNSAFE:
            return _reply(execution, "failed", 100.0, UNSAFE_ERROR)
        case Outcome.FAILED:
            return _reply(execution, "failed", 100.0, FAILED_ERROR)
        case Outcome.TIMED_OUT:
            return _reply(execution, "failed", 100.0, TIMEOUT_ERROR)
        case Outcome.CANCELLED:
            return _reply(execution, "cancelled", 100.0)
    results = [_result(execution, index, sign) for index in range(execution.clip.num_results)]
    return msgspec.structs.replace(_reply(execution, "succeeded", 100.0), results=results)

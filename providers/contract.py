"""The vocabulary shared by every layer: the canonical generation request, upstream job and status, the
upstream error taxonomy and provider capabilities. Pure data; no I/O, no clock, no HTTP serving."""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable
from typing import Annotated, ClassVar, Literal, Protocol, runtime_checkable

import msgspec

Mode = Literal["t2v", "i2v", "first_last", "reference", "multi_scene"]
CanonicalStatus = Literal["queued", "in_progress", "completed", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
ImageTransport = Literal["data_uri", "url"]
# Video-to-video: what is done to a source video, and how an offering takes the source (a link it fetches, an
# upload through its own file flow, or inline data).
VideoOperation = Literal["remix", "edit", "extend"]
VideoTransport = Literal["url", "upload", "data"]


# ---------------------------------------- request


class ImageUrl(msgspec.Struct, frozen=True, kw_only=True, tag="url"):
    """An image the provider fetches itself from a public URL."""

    url: str


class InlineMedia(msgspec.Struct, frozen=True, kw_only=True):
    """Media carried as bytes; `data` are the decoded bytes, `digest` is their sha256 hex."""

    mime_type: str
    data: bytes
    digest: str

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    def as_data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


class ImageData(InlineMedia, frozen=True, kw_only=True, tag="data"):
    """An image carried inline."""


Image = ImageUrl | ImageData


class VideoUrl(msgspec.Struct, frozen=True, kw_only=True, tag="url"):
    """A source video behind a link (a fresh one to another job's asset): the provider, or its adapter, fetches it."""

    url: str


class VideoData(InlineMedia, frozen=True, kw_only=True, tag="data"):
    """A source video carried as bytes (a client's upload, or a link's content fetched by an adapter)."""


Video = VideoUrl | VideoData


class VideoInput(msgspec.Struct, frozen=True, kw_only=True):
    """The source of a video-to-video request: what to do with it, the video and its length. For `extend` the
    request's `seconds` are the added seconds; for `remix` and `edit` the output keeps the source's length."""

    operation: VideoOperation
    video: Video
    source_seconds: int


class Scene(msgspec.Struct, frozen=True, kw_only=True):
    """One shot of a video; single-prompt requests are one scene."""

    prompt: str
    negative_terms: tuple[str, ...] = ()
    image: Image | None = None
    end_image: Image | None = None
    seconds: int | None = None


class Audio(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    prompt: str | None = None
    negative_prompt: str | None = None


class Music(msgspec.Struct, frozen=True, kw_only=True):
    enabled: bool = True
    tags: str | None = None
    lyrics: str | None = None
    bpm: int | None = None
    keyscale: str | None = None


class WatermarkOverlay(msgspec.Struct, frozen=True, kw_only=True):
    """A custom visible watermark (seed 000 `wm_*`): the image and where and how it is drawn; None = vendor default."""

    image: ImageData | None = None
    position: Literal["top-left", "top-right", "center", "bottom-left", "bottom-right"] | None = None
    scale: int | None = None
    opacity: int | None = None
    rotation_deg: int | None = None
    padding_x: int | None = None
    padding_y: int | None = None


class ContentCredentials(msgspec.Struct, frozen=True, kw_only=True):
    """Overrides of the C2PA manifest's fields (seed 000 `cs_*`); None keeps the provider's configured default."""

    author: str | None = None
    title: str | None = None
    description: str | None = None
    organization: str | None = None
    vendor: str | None = None


class Dimensions(msgspec.Struct, frozen=True, kw_only=True):
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What an adapter consumes: normalised, validated, images decoded, `-term` negatives already split out.

    `upstream_model` is the provider's own model id for the chosen offering."""

    upstream_model: str
    # A provider's own sub-model selector set by the offering's configuration (videogenapi `veo_model`).
    upstream_variant: str | None = None
    scenes: tuple[Scene, ...]
    multi_scene: bool = False
    seconds: int | None = None
    dimensions: Dimensions | None = None
    reference_images: tuple[Image, ...] = ()
    seed: int | None = None
    audio: Audio | None = None
    music: Music | None = None
    enhance_prompt: bool = False
    watermark: bool | None = None
    watermark_overlay: WatermarkOverlay | None = None
    content_credentials: ContentCredentials | None = None
    upscale: bool = False
    results: int = 1
    temporary_output: bool = False
    camera_fixed: bool | None = None
    video_input: VideoInput | None = None

    @property
    def mode(self) -> Mode:
        if self.multi_scene:
            return "multi_scene"
        first = self.scenes[0]
        if first.image is not None and first.end_image is not None:
            return "first_last"
        if first.image is not None:
            return "i2v"
        if self.reference_images:
            return "reference"
        return "t2v"

    @property
    def images(self) -> tuple[Image, ...]:
        framed = (img for s in self.scenes for img in (s.image, s.end_image) if img is not None)
        return (*framed, *self.reference_images)

    @property
    def extras(self) -> tuple[str, ...]:
        """The provider-specific features this request asks for, named, for an adapter that offers none of them to
        refuse at once rather than drop them silently (routing filters on the capability flags first)."""
        asked = {
            "a source video": self.video_input is not None,
            "a watermark overlay": self.watermark_overlay is not None,
            "content credentials": self.content_credentials is not None,
            "upscaling": self.upscale,
            "several results": self.results != 1,
            "temporary output": self.temporary_output,
            "a fixed camera": self.camera_fixed is not None,
            "a sub-model variant": self.upstream_variant is not None,
        }
        return tuple(name for name, wanted in asked.items() if wanted)


# ---------------------------------------- capabilities


_Positive = Annotated[int, msgspec.Meta(ge=1)]
_Pixels = Annotated[int, msgspec.Meta(ge=16, le=8192)]
_Size = Annotated[str, msgspec.Meta(pattern="^[0-9]{2,5}x[0-9]{2,5}$")]


class Capabilities(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What one offering (provider x model) can do; routing filters on this, adapters never clamp.

    An offering that only transforms videos (an extend or edit model) has no `modes`, only `video_operations`."""

    modes: frozenset[Mode] = frozenset()
    """Generation modes offered (text, image, first and last frame, reference images, several scenes)."""
    seconds: frozenset[_Positive] = frozenset()
    """The video lengths (seconds) the offering takes; empty with `seconds_per_scene` or when the provider picks."""
    default_seconds: _Positive | None = None
    """The length used (and priced) when a request names none."""
    seconds_per_scene: _Positive | None = None
    """Fixed seconds per scene, for providers whose length is scenes x this."""
    max_scenes: _Positive = 1
    """The most scenes of a multi-scene request."""
    sizes: frozenset[_Size] = frozenset()
    """The sizes offered, `WIDTHxHEIGHT`."""
    default_size: _Size | None = None
    """The size used when a request names none."""
    size_range: tuple[_Pixels, _Pixels] | None = None
    """Instead of a list: the low and high bounds of each side in pixels."""
    size_multiple: _Positive = 1
    """With `size_range`: each side must be a multiple of this."""
    audio: bool = False
    """The offering can generate audio with the video."""
    audio_prompt: bool = False
    """A separate prompt for the audio is accepted."""
    audio_negative_prompt: bool = False
    """A negative prompt for the audio is accepted."""
    music: bool = False
    """Background music can be asked for."""
    negative_prompt: bool = False
    """A negative prompt is accepted."""
    seed: bool = False
    """A seed is accepted."""
    enhance_prompt: bool = False
    """The provider can enhance the prompt before generating."""
    prompt_enhancement: bool = False
    """Prompt enhancement on its own (`POST /v1/prompts/enhance`), without generating."""
    watermark_control: bool = False
    """The provider's watermark can be turned off."""
    watermark_overlay: bool = False
    """A custom watermark overlay can be asked for."""
    content_credentials: bool = False
    """C2PA content credentials can be set."""
    upscale: bool = False
    """AI upscaling can be asked for."""
    max_results: _Positive = 1
    """The most videos one call can return (`n`)."""
    temporary_output: bool = False
    """Output that the provider deletes early can be asked for."""
    camera_fixed: bool = False
    """A fixed camera can be asked for."""
    seconds_control: bool = True
    """False where the provider's documents name no length field: the provider picks the length (priced at
    `default_seconds`) and none is sent; an operator who knows the field works turns it on."""
    image_transports: frozenset[ImageTransport] = frozenset({"data_uri", "url"})
    """How images may be sent upstream."""
    max_image_bytes: _Positive | None = None
    """The largest image the provider takes; unset, only `[limits] max_image_bytes` applies."""
    video_operations: frozenset[VideoOperation] = frozenset()
    """Video-to-video operations offered."""
    video_transports: frozenset[VideoTransport] = frozenset()
    """How a source video may be sent upstream."""
    max_source_seconds: _Positive | None = None
    """The longest source video the provider takes."""
    max_source_bytes: _Positive | None = None
    """The largest source video the provider takes."""

    def __post_init__(self) -> None:
        if not self.modes and not self.video_operations:
            raise ValueError("an offering needs modes or video_operations")
        if self.video_operations and not self.video_transports:
            raise ValueError("video_operations need video_transports (url, upload or data)")
        if self.size_range is not None and self.size_range[0] > self.size_range[1]:
            raise ValueError("size_range must be [low, high]")
        if not self.seconds_control and self.default_seconds is None:
            raise ValueError("seconds_control = false needs default_seconds (the length that is priced)")


# ---------------------------------------- jobs and status


class UpstreamJob(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider handed back at submit: enough to poll and cancel it later."""

    provider: str
    upstream_id: str
    upstream_model: str
    reported_cost_micros: int | None = None
    # The model the gateway asked for, kept only when the provider's reply named another (`upstream_model`):
    # the job was accepted and is followed; the difference is recorded and logged, never a failure.
    requested_model: str | None = None


class ExtraOutput(msgspec.Struct, frozen=True, kw_only=True):
    """A further result of a call that made several (VideoGen `numResults`)."""

    video_url: str
    thumbnail_url: str | None = None
    expires_at: int | None = None


class Output(msgspec.Struct, frozen=True, kw_only=True):
    video_url: str
    thumbnail_url: str | None = None
    expires_at: int | None = None
    provenance: dict[str, str] = {}
    extra: tuple[ExtraOutput, ...] = ()


class ErrorClass(enum.StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTH = "auth"
    CONTENT_POLICY = "content_policy"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"
    INTERNAL = "internal"


class Failure(msgspec.Struct, frozen=True, kw_only=True):
    """Why an accepted upstream job ended badly, as data (the job record keeps it)."""

    error_class: ErrorClass
    message: str
    code: str | None = None
    # What the provider said about why, as lists of its own ids (Vidgen `filter_categories`, `compliance_codes`).
    details: dict[str, list[str]] = {}


class UpstreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    status: CanonicalStatus
    progress: int | None = None
    output: Output | None = None
    failure: Failure | None = None
    reported_cost_micros: int | None = None


# ---------------------------------------- errors


class UpstreamError(Exception):
    """A provider call failed. The class decides retry and failover, never the message."""

    error_class: ClassVar[ErrorClass] = ErrorClass.INTERNAL
    failover: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.retry_after_s = retry_after_s

    def as_failure(self) -> Failure:
        return Failure(error_class=self.error_class, message=self.message, code=self.code)


class InvalidUpstreamRequest(UpstreamError):
    error_class = ErrorClass.INVALID_REQUEST
    failover = False


class UpstreamAuthError(UpstreamError):
    error_class = ErrorClass.AUTH


class ContentPolicyError(UpstreamError):
    error_class = ErrorClass.CONTENT_POLICY
    failover = False


class UpstreamRateLimited(UpstreamError):
    error_class = ErrorClass.RATE_LIMITED


class QuotaExhausted(UpstreamError):
    error_class = ErrorClass.QUOTA_EXHAUSTED


class UpstreamUnavailable(UpstreamError):
    error_class = ErrorClass.UPSTREAM_UNAVAILABLE


class UpstreamTimeout(UpstreamError):
    """The call timed out. `outcome_unknown` means the request may have been accepted (and billed)."""

    error_class = ErrorClass.TIMEOUT

    def __init__(self, message: str, *, provider: str, outcome_unknown: bool = True) -> None:
        super().__init__(message, provider=provider)
        self.outcome_unknown = outcome_unknown


class UpstreamProtocolError(UpstreamError):
    """The provider replied with something its documents do not describe."""

    error_class = ErrorClass.PROTOCOL


class UpstreamInternalError(UpstreamError):
    error_class = ErrorClass.INTERNAL


# ---------------------------------------- wire and adapters


class Operation(enum.StrEnum):
    """The kinds of call an adapter makes: metric labels, rate-limit scopes of windows and capacity reports, and
    the status window the poller and asset renewal spend all use these names."""

    GENERATE = "generate"
    STATUS = "status"
    CANCEL = "cancel"
    UPLOAD = "upload"
    UPLOAD_PUT = "upload_put"  # the presigned PUT of an upload's bytes
    FILE = "file"
    MODELS = "models"
    ENHANCE = "enhance"  # prompt enhancement on its own (Vidgen `optimize`)
    ACCOUNT = "account"  # a read-only account check (videogenapi `/user`)
    SOURCE = "source"  # fetching a source video from its link, for a provider that cannot take the link itself


class HttpCall(msgspec.Struct, frozen=True, kw_only=True):
    """One HTTP request an adapter wants sent; built by pure functions, sent by the adapter shell.

    `path` is relative to the provider's base URL, or an absolute URL (a presigned upload target).
    `content` is a raw body (bytes upload); `json` an encoded one; never both."""

    method: Literal["GET", "POST", "PUT", "DELETE"]
    path: str
    operation: Operation
    json: object | None = None
    content: bytes | None = None
    params: dict[str, str] = {}
    headers: dict[str, str] = {}


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    headers: dict[str, str]
    body: bytes


class ProviderSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What an adapter needs to reach its provider; the key is resolved from the environment by the caller."""

    base_url: str
    api_key: str
    timeout_s: float = 30.0
    # Adapter-specific settings (`[providers.<slug>.options]`), decoded and validated by the adapter itself.
    options: dict[str, str] = {}
    # For adapter kinds configured under several slugs (the generic OpenAI-compatible one): the configured slug,
    # the header that carries the key (None or `Authorization` -> `Bearer <key>`, any other -> the bare key, as
    # Azure's `api-key`) and query parameters sent on every call (Azure's `api-version`). Other adapters ignore them.
    name: str | None = None
    key_header: str | None = None
    query: dict[str, str] = {}


class ProviderTraits(msgspec.Struct, frozen=True, kw_only=True):
    """Facts about a provider that do not depend on the model: cadence, limits of its API."""

    poll_interval_s: float
    max_job_duration_s: float
    can_cancel: bool


class CapacityReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one provider reply said about remaining capacity; every field is optional (providers say little).

    Adapters parse it with a pure function and hand it to the injected `CapacitySink`; routing keeps it."""

    provider: str
    """The provider slug the reading is from."""
    scope: str = "account"
    """What the figures count: `account`, or a narrower scope the provider names (a model, an endpoint)."""
    limit: int | None = None
    """The allowance of the current window, when the provider states it."""
    remaining: int | None = None
    """What is left of that allowance."""
    reset_at: float | None = None
    """When the window resets, unix seconds."""
    retry_after_s: float | None = None
    """The wait the provider asked for (a 429 `Retry-After` or its equivalent), seconds."""
    used: int | None = None
    """What was used in the current window or month, when the provider states it."""
    balance_micros: int | None = None
    """The account balance the provider reported, micro-dollars (NanoGPT)."""


CapacitySink = Callable[[CapacityReport], None]


def ignore_capacity(report: CapacityReport) -> None:
    return None


class VideoProvider(Protocol):
    """The thin async shell every adapter exposes."""

    provider: str
    traits: ProviderTraits

    async def submit(self, request: GenerationRequest) -> UpstreamJob: ...

    async def poll(self, job: UpstreamJob) -> UpstreamStatus: ...

    async def cancel(self, job: UpstreamJob) -> bool:
        """Ask the provider to stop the job; False (and no call) where the provider has no cancel API."""
        ...


@runtime_checkable
class AssetSource(Protocol):
    """An adapter whose provider serves finished videos only with its own credential (Google Veo): the gateway
    downloads through `asset_call` and streams the bytes, never redirecting a client there. Adapters whose asset
    URLs are public or presigned do not implement it."""

    def asset_call(self, url: str) -> HttpCall:
        """The authenticated GET of `url`; raises UpstreamProtocolError for a URL outside the provider's hosts."""
        ...


@runtime_checkable
class PromptEnhancer(Protocol):
    """An adapter whose provider enhances a prompt on its own, without generating (Vidgen `optimize`)."""

    provider: str

    async def enhance_prompt(self, prompt: str, *, upstream_model: str) -> str: ...

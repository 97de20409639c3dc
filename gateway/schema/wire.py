"""Public wire schemas of /v1: the canonical create body (strict: unknown fields are a 400) and the Video
object, a superset of OpenAI's `video`."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from routing.rules import Strategy

_Prompt = Annotated[str, msgspec.Meta(min_length=1, max_length=8_000)]
_Text = Annotated[str, msgspec.Meta(max_length=2_000)]
_ProviderSlug = Annotated[str, msgspec.Meta(pattern="^[a-z0-9_-]{1,32}$")]
_MetaKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_MetaValue = Annotated[str, msgspec.Meta(max_length=512)]


class ImageBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An image by public URL or inline data URI; exactly one of the two."""

    url: Annotated[str, msgspec.Meta(max_length=4_096)] | None = None
    data_uri: str | None = None


class SceneBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    prompt: _Prompt
    negative_prompt: _Text | None = None
    image: ImageBody | None = None
    end_image: ImageBody | None = None
    seconds: Annotated[int, msgspec.Meta(ge=1, le=120)] | None = None


class AudioBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    prompt: _Text | None = None
    negative_prompt: _Text | None = None


class MusicBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    tags: _Text | None = None
    lyrics: _Text | None = None
    bpm: Annotated[int, msgspec.Meta(ge=20, le=300)] | None = None
    keyscale: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class WatermarkOverlayBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A custom visible watermark (Vidgen `wm_*`); unset fields keep the provider's defaults."""

    image_data_uri: str | None = None
    position: Literal["top-left", "top-right", "center", "bottom-left", "bottom-right"] | None = None
    scale: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None
    opacity: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    rotation_deg: Annotated[int, msgspec.Meta(ge=-360, le=360)] | None = None
    padding_x: Annotated[int, msgspec.Meta(ge=0, le=500)] | None = None
    padding_y: Annotated[int, msgspec.Meta(ge=0, le=500)] | None = None


class ContentCredentialsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Overrides of the C2PA manifest (Vidgen `cs_*`); unset fields keep the provider's configured defaults."""

    author: _Text | None = None
    title: _Text | None = None
    description: _Text | None = None
    organization: _Text | None = None
    vendor: _Text | None = None


class RoutingBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # The rules' own Literal: typing caches Literals by their members, so a second spelling in another order would
    # make the OpenAPI enum order depend on which module was imported first.
    strategy: Strategy | None = None
    providers: Annotated[list[_ProviderSlug], msgspec.Meta(max_length=16)] = []
    exclude: Annotated[list[_ProviderSlug], msgspec.Meta(max_length=16)] = []
    max_cost_usd: Annotated[float, msgspec.Meta(gt=0, le=10_000)] | None = None
    allow_fallbacks: bool = True
    # Providers the request may be sent to in all: submit-time failover and failover after acceptance together.
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] | None = None


class WebhookBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(max_length=2_048, pattern="^https?://")]


class CreateVideoBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The canonical create request (DESIGN §3)."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    prompt: _Prompt | None = None
    negative_prompt: _Text | None = None
    scenes: Annotated[list[SceneBody], msgspec.Meta(min_length=1, max_length=12)] | None = None
    image: ImageBody | None = None
    end_image: ImageBody | None = None
    reference_images: Annotated[list[ImageBody], msgspec.Meta(max_length=9)] = []
    seconds: Annotated[int, msgspec.Meta(ge=1, le=120)] | Literal["4", "8", "12"] | None = None
    size: Annotated[str, msgspec.Meta(pattern="^[0-9]{2,5}x[0-9]{2,5}$")] | None = None
    resolution: Literal["480p", "720p", "1080p", "2160p"] | None = None
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)] | None = None
    audio: AudioBody | None = None
    music: MusicBody | None = None
    enhance_prompt: bool = False
    watermark: bool | None = None
    watermark_overlay: WatermarkOverlayBody | None = None
    content_credentials: ContentCredentialsBody | None = None
    upscale: bool = False
    # Several results of one call where offered (VideoGen `numResults`); the first is `output`, the others
    # `output.extra[]`, each priced as one video.
    n: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    temporary_output: bool = False
    camera_fixed: bool | None = None
    best_effort: bool = False
    routing: RoutingBody | None = None
    webhook: WebhookBody | None = None
    metadata: dict[_MetaKey, _MetaValue] = {}


class VideoExtraOutput(msgspec.Struct, kw_only=True):
    """A further result of a several-results call: `GET /v1/videos/{id}/content?index=N` (N from 1)."""

    index: int
    video_url: str
    thumbnail_url: str | None


class SourceRefBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A completed gateway video of the caller's team, by id (the OpenAI SDK's `{"id": ...}`)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class RemixVideoBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/{id}/remix`: the source video again, as `prompt` now says (it keeps its length). `model`
    defaults to `auto`: routing picks among the offerings that take the operation."""

    prompt: _Prompt
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    routing: RoutingBody | None = None
    webhook: WebhookBody | None = None
    metadata: dict[_MetaKey, _MetaValue] = {}


class EditVideoBody(RemixVideoBody, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/edits`: `video` is `{"id": ...}` in JSON; in multipart, an uploaded MP4 file part (or a
    `video[id]` field)."""

    video: SourceRefBody | None = None


class ExtendVideoBody(EditVideoBody, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/extensions`: `seconds` are the seconds added to the source, 1-120 (the SDK documents 4, 8,
    12, 16, 20 and sends them as strings; routing decides which lengths an offering takes)."""

    seconds: (
        Annotated[int, msgspec.Meta(ge=1, le=120)]
        | Annotated[str, msgspec.Meta(pattern="^[1-9][0-9]?$|^1[01][0-9]$|^120$")]
    )


class Character(msgspec.Struct, kw_only=True):
    """OpenAI's character object; never produced while no provider offers characters."""

    id: str | None
    created_at: int
    name: str | None


class VideoOutput(msgspec.Struct, kw_only=True):
    video_url: str
    thumbnail_url: str | None
    provenance: dict[str, str]
    extra: list[VideoExtraOutput] = []


class VideoError(msgspec.Struct, kw_only=True):
    code: str
    message: str
    provider: str | None
    retryable: bool
    # What the provider said about why, in its own ids (a blocked video: `filter_categories`, `compliance_codes`).
    details: dict[str, list[str]] = {}


class PromptEnhanceBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/prompts/enhance`: a prompt enhanced on its own by a provider that offers it."""

    prompt: _Prompt
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    routing: RoutingBody | None = None


class EnhancedPrompt(msgspec.Struct, kw_only=True):
    object: Literal["prompt.enhancement"] = "prompt.enhancement"
    prompt: str
    model: str
    provider: str


class VideoUsage(msgspec.Struct, kw_only=True):
    video_seconds: int
    cost_usd: float
    cost_source: Literal["provider", "price_table"]


class RoutingAttempt(msgspec.Struct, kw_only=True):
    provider: str
    outcome: str
    error_code: str | None = None


class VideoRouting(msgspec.Struct, kw_only=True):
    strategy: str
    attempts: list[RoutingAttempt]


class VideoWebhook(msgspec.Struct, kw_only=True):
    """The webhook the final Video is POSTed to; its delivery log is `GET /v1/videos/{id}/webhook`."""

    url: str


class Video(msgspec.Struct, kw_only=True):
    """The job as clients see it; OpenAI SDK compatible."""

    id: str
    object: Literal["video"] = "video"
    status: Literal["queued", "in_progress", "completed", "failed", "cancelled"]
    progress: int
    model: str
    provider: str | None
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str | None
    seconds: str | None
    size: str | None
    output: VideoOutput | None
    error: VideoError | None
    usage: VideoUsage | None
    routing: VideoRouting
    warnings: list[str]
    metadata: dict[str, str]
    webhook: VideoWebhook | None = None
    # Video-to-video: the gateway video this one was made from (OpenAI's field, set for edits and extensions
    # too), and what was done to it.
    remixed_from_video_id: str | None = None
    operation: Literal["remix", "edit", "extend"] | None = None


class VideoList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


class WebhookAttemptView(msgspec.Struct, kw_only=True):
    at: float
    duration_ms: int
    status_code: int | None
    error: str | None


class WebhookDeliveryView(msgspec.Struct, kw_only=True):
    """A job's webhook and its delivery log: `waiting` until the job is terminal, then `pending` (retrying with
    backoff), `delivered` (a 2xx) or `failed` (the retry schedule ran out)."""

    object: Literal["video.webhook"] = "video.webhook"
    video_id: str
    url: str
    id: str
    state: Literal["waiting", "pending", "delivered", "failed"]
    attempts: list[WebhookAttemptView]
    next_attempt_at: float | None
    finished_at: float | None


class Health(msgspec.Struct, kw_only=True):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}

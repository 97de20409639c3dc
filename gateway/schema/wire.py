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


def about(text: str) -> msgspec.Meta:
    """A field's description in the OpenAPI document: `Annotated[int, about("...")]`."""
    return msgspec.Meta(description=text)


_MODEL = "A canonical model id (`GET /v1/models`), or `auto` (or none): routing picks among the offerings that fit"
_IMAGE_URL = "A public http(s) URL of the image"


class ImageBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An image by public URL or inline data URI; exactly one of the two."""

    url: Annotated[str, msgspec.Meta(max_length=4_096, description=_IMAGE_URL)] | None = None
    data_uri: Annotated[str, about("The image inline: `data:image/png;base64,...` (PNG, JPEG, WebP or GIF)")] | None = (
        None
    )


class SceneBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One scene of a multi-scene video, rendered in order into one clip."""

    prompt: Annotated[_Prompt, about("What this scene shows")]
    negative_prompt: Annotated[_Text, about("What this scene must not show")] | None = None
    image: Annotated[ImageBody, about("The scene's first frame")] | None = None
    end_image: Annotated[ImageBody, about("The scene's last frame")] | None = None
    seconds: (
        Annotated[int, msgspec.Meta(ge=1, le=120, description="The scene's length; default the model's")] | None
    ) = None


class AudioBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Generated sound effects and ambience, where the offering makes audio."""

    enabled: Annotated[bool, about("Whether to make audio at all")] = True
    prompt: Annotated[_Text, about("What the audio should sound like")] | None = None
    negative_prompt: Annotated[_Text, about("What the audio must not contain")] | None = None


class MusicBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A generated music track, where the offering makes music (Vidgen)."""

    enabled: Annotated[bool, about("Whether to add music at all")] = True
    tags: Annotated[_Text, about("Style tags, comma separated: `ambient, piano`")] | None = None
    lyrics: Annotated[_Text, about("Lyrics to sing; none for an instrumental")] | None = None
    bpm: Annotated[int, msgspec.Meta(ge=20, le=300, description="Tempo in beats per minute")] | None = None
    keyscale: Annotated[str, msgspec.Meta(max_length=32, description="Key and scale: `C major`")] | None = None


class WatermarkOverlayBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A custom visible watermark (Vidgen `wm_*`); unset fields keep the provider's defaults."""

    image_data_uri: Annotated[str, about("The watermark image inline, as a `data:image/...` URI")] | None = None
    position: (
        Annotated[
            Literal["top-left", "top-right", "center", "bottom-left", "bottom-right"],
            about("Where on the frame the watermark sits"),
        ]
        | None
    ) = None
    scale: Annotated[int, msgspec.Meta(ge=1, le=100, description="Size, percent of the frame")] | None = None
    opacity: Annotated[int, msgspec.Meta(ge=0, le=100, description="Opacity, percent")] | None = None
    rotation_deg: Annotated[int, msgspec.Meta(ge=-360, le=360, description="Rotation in degrees")] | None = None
    padding_x: Annotated[int, msgspec.Meta(ge=0, le=500, description="Horizontal margin, pixels")] | None = None
    padding_y: Annotated[int, msgspec.Meta(ge=0, le=500, description="Vertical margin, pixels")] | None = None


class ContentCredentialsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Overrides of the C2PA manifest (Vidgen `cs_*`); unset fields keep the provider's configured defaults."""

    author: Annotated[_Text, about("The manifest's author")] | None = None
    title: Annotated[_Text, about("The manifest's title")] | None = None
    description: Annotated[_Text, about("The manifest's description")] | None = None
    organization: Annotated[_Text, about("The manifest's organization")] | None = None
    vendor: Annotated[_Text, about("The manifest's vendor")] | None = None


class RoutingBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How this request is routed, within what the gateway's rules allow for the team."""

    # The rules' own Literal: typing caches Literals by their members, so a second spelling in another order would
    # make the OpenAPI enum order depend on which module was imported first.
    strategy: Annotated[Strategy, about("How candidates are ranked; default the team's rules'")] | None = None
    providers: Annotated[
        list[_ProviderSlug], msgspec.Meta(max_length=16, description="Only these providers, tried in this order")
    ] = []
    exclude: Annotated[list[_ProviderSlug], msgspec.Meta(max_length=16, description="Never these providers")] = []
    max_cost_usd: (
        Annotated[float, msgspec.Meta(gt=0, le=10_000, description="Skip offerings whose estimate is above this")]
        | None
    ) = None
    allow_fallbacks: Annotated[bool, about("Whether another provider may take it when the first fails")] = True
    # Providers the request may be sent to in all: submit-time failover and failover after acceptance together.
    max_attempts: (
        Annotated[
            int,
            msgspec.Meta(ge=1, le=10, description="At most this many providers tried, before and after one accepts"),
        ]
        | None
    ) = None


class WebhookBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the final Video is POSTed, signed with the team's webhook secret."""

    url: Annotated[str, msgspec.Meta(max_length=2_048, pattern="^https?://", description="The receiver, http(s)")]


class CreateVideoBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The canonical create request (DESIGN §3)."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description=_MODEL, examples=["scenex"])] | None = (
        None
    )
    prompt: (
        Annotated[
            _Prompt,
            about("What the video shows (`-term` excludes a term)"),
            msgspec.Meta(examples=["a red fox in snow"]),
        ]
        | None
    ) = None
    negative_prompt: Annotated[_Text, about("What the video must not show")] | None = None
    scenes: (
        Annotated[
            list[SceneBody],
            msgspec.Meta(min_length=1, max_length=12, description="A multi-scene video, instead of `prompt`"),
        ]
        | None
    ) = None
    image: Annotated[ImageBody, about("The first frame: image-to-video")] | None = None
    end_image: Annotated[ImageBody, about("The last frame, with `image`: first-and-last-frame video")] | None = None
    reference_images: Annotated[
        list[ImageBody], msgspec.Meta(max_length=9, description="Images whose subjects or style the video keeps")
    ] = []
    seconds: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=120)] | Literal["4", "8", "12"] | None,
        about('Length in seconds, 1-120, or the OpenAI SDK\'s strings "4", "8", "12"; default the model\'s'),
    ] = None
    size: (
        Annotated[str, msgspec.Meta(pattern="^[0-9]{2,5}x[0-9]{2,5}$", description="`WIDTHxHEIGHT` in pixels")] | None
    ) = None
    resolution: (
        Annotated[Literal["480p", "720p", "1080p", "2160p"], about("Instead of `size`: the short side")] | None
    ) = None
    aspect_ratio: (
        Annotated[Literal["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"], about("With `resolution`")] | None
    ) = None
    seed: (
        Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1, description="For repeatable output, where offered")] | None
    ) = None
    audio: Annotated[AudioBody, about("Generated audio")] | None = None
    music: Annotated[MusicBody, about("A generated music track")] | None = None
    enhance_prompt: Annotated[bool, about("Let the provider rewrite the prompt first, where offered")] = False
    watermark: Annotated[bool, about("The provider's visible watermark on or off; default the provider's")] | None = (
        None
    )
    watermark_overlay: Annotated[WatermarkOverlayBody, about("A custom visible watermark")] | None = None
    content_credentials: Annotated[ContentCredentialsBody, about("C2PA manifest fields")] | None = None
    upscale: Annotated[bool, about("2x AI upscaling of the result, where offered")] = False
    # Several results of one call where offered (VideoGen `numResults`); the first is `output`, the others
    # `output.extra[]`, each priced as one video.
    n: Annotated[int, msgspec.Meta(ge=1, le=100, description="Results of one call; each is priced as a video")] = 1
    temporary_output: Annotated[bool, about("Ask the provider to keep the result only briefly, where offered")] = False
    camera_fixed: Annotated[bool, about("Keep the camera still, where offered")] | None = None
    best_effort: Annotated[
        bool, about("Serve even if an offering cannot honour some optional fields; they are listed in `warnings`")
    ] = False
    routing: Annotated[RoutingBody, about("How to route this request")] | None = None
    webhook: Annotated[WebhookBody, about("Where to POST the final Video")] | None = None
    metadata: Annotated[dict[_MetaKey, _MetaValue], about("Your string labels, returned on the Video and ledger")] = {}


class VideoExtraOutput(msgspec.Struct, kw_only=True):
    """A further result of a several-results call: `GET /v1/videos/{id}/content?index=N` (N from 1)."""

    index: Annotated[int, about("N, from 1: `GET /v1/videos/{id}/content?index=N`")]
    video_url: Annotated[str, about("Where the result is served")]
    thumbnail_url: Annotated[str | None, about("Its thumbnail, where the provider makes one")]


class SourceRefBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A completed gateway video of the caller's team, by id (the OpenAI SDK's `{"id": ...}`)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A completed video's id")]


class RemixVideoBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/{id}/remix`: the source video again, as `prompt` now says (it keeps its length). `model`
    defaults to `auto`: routing picks among the offerings that take the operation."""

    prompt: Annotated[_Prompt, about("What the new video shows")]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description=_MODEL)] | None = None
    routing: Annotated[RoutingBody, about("How to route this request")] | None = None
    webhook: Annotated[WebhookBody, about("Where to POST the final Video")] | None = None
    metadata: Annotated[dict[_MetaKey, _MetaValue], about("Your string labels, returned on the Video and ledger")] = {}


class EditVideoBody(RemixVideoBody, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/edits`: `video` is `{"id": ...}` in JSON; in multipart, an uploaded MP4 file part (or a
    `video[id]` field)."""

    video: (
        Annotated[SourceRefBody, about("The source video (JSON); in multipart, a file part or `video[id]`")] | None
    ) = None


class ExtendVideoBody(EditVideoBody, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/videos/extensions`: `seconds` are the seconds added to the source, 1-120 (the SDK documents 4, 8,
    12, 16, 20 and sends them as strings; routing decides which lengths an offering takes)."""

    seconds: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=120)]
        | Annotated[str, msgspec.Meta(pattern="^[1-9][0-9]?$|^1[01][0-9]$|^120$")],
        about("Seconds added to the source, 1-120, as a number or a string"),
    ]


class Character(msgspec.Struct, kw_only=True):
    """OpenAI's character object; never produced while no provider offers characters."""

    id: Annotated[str | None, about("The character's id")]
    created_at: Annotated[int, about("Unix seconds")]
    name: Annotated[str | None, about("The character's name")]


class VideoOutput(msgspec.Struct, kw_only=True):
    """The result of a completed job."""

    video_url: Annotated[str, about("Where the video is served; `GET /v1/videos/{id}/content` renews it")]
    thumbnail_url: Annotated[str | None, about("Its thumbnail, where the provider makes one")]
    provenance: Annotated[dict[str, str], about("What the provider says of the file: C2PA, watermark, ids")]
    extra: Annotated[list[VideoExtraOutput], about("Further results when `n` > 1")] = []


class VideoError(msgspec.Struct, kw_only=True):
    """Why a job failed."""

    code: Annotated[str, about("Stable for programs: `content_policy`, `upstream_timeout`...")]
    message: Annotated[str, about("For people")]
    provider: Annotated[str | None, about("The provider that failed it, if one did")]
    retryable: Annotated[bool, about("Whether the same request may succeed if sent again")]
    # What the provider said about why, in its own ids (a blocked video: `filter_categories`, `compliance_codes`).
    details: Annotated[dict[str, list[str]], about("The provider's own reasons, by its names")] = {}


class PromptEnhanceBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /v1/prompts/enhance`: a prompt enhanced on its own by a provider that offers it."""

    prompt: Annotated[_Prompt, about("The prompt to enhance")]
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description=_MODEL)] | None = None
    routing: Annotated[RoutingBody, about("`providers` and `exclude` narrow who enhances it")] | None = None


class EnhancedPrompt(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["prompt.enhancement"], about("Always `prompt.enhancement`")] = "prompt.enhancement"
    prompt: Annotated[str, about("The enhanced prompt")]
    model: Annotated[str, about("The canonical model whose offering enhanced it")]
    provider: Annotated[str, about("The provider that enhanced it")]


class VideoUsage(msgspec.Struct, kw_only=True):
    """What the job is billed."""

    video_seconds: Annotated[int, about("Seconds of video made")]
    cost_usd: Annotated[float, about("Its cost in USD")]
    cost_source: Annotated[
        Literal["provider", "price_table"], about("The provider's reported cost, or the gateway's price table")
    ]


class RoutingAttempt(msgspec.Struct, kw_only=True):
    provider: Annotated[str, about("The provider tried")]
    outcome: Annotated[str, about("`accepted` or `failed`")]
    error_code: Annotated[str | None, about("Why it failed (the upstream error class), if it did")] = None


class VideoRouting(msgspec.Struct, kw_only=True):
    """How the job was routed."""

    strategy: Annotated[str, about("The ranking strategy used")]
    attempts: Annotated[list[RoutingAttempt], about("Each provider tried, in order")]


class VideoWebhook(msgspec.Struct, kw_only=True):
    """The webhook the final Video is POSTed to; its delivery log is `GET /v1/videos/{id}/webhook`."""

    url: Annotated[str, about("The receiver")]


class Video(msgspec.Struct, kw_only=True):
    """The job as clients see it; OpenAI SDK compatible."""

    id: Annotated[str, about("The job's id")]
    object: Annotated[Literal["video"], about("Always `video`")] = "video"
    status: Annotated[Literal["queued", "in_progress", "completed", "failed", "cancelled"], about("Where the job is")]
    progress: Annotated[int, about("Percent done, 0-100")]
    model: Annotated[str, about("The canonical model")]
    provider: Annotated[str | None, about("The provider making it, once one accepted it")]
    created_at: Annotated[int, about("Unix seconds")]
    completed_at: Annotated[int | None, about("Unix seconds, once terminal")]
    expires_at: Annotated[int | None, about("Unix seconds when `output.video_url` stops working, if known")]
    prompt: Annotated[str | None, about("The prompt as sent")]
    seconds: Annotated[str | None, about("The video's length in seconds, as a string (as OpenAI's)")]
    size: Annotated[str | None, about("`WIDTHxHEIGHT`")]
    output: Annotated[VideoOutput | None, about("The result, once completed")]
    error: Annotated[VideoError | None, about("Why it failed, once failed")]
    usage: Annotated[VideoUsage | None, about("What it is billed, once settled")]
    routing: Annotated[VideoRouting, about("How it was routed")]
    warnings: Annotated[list[str], about("Fields a provider could not honour (`best_effort`)")]
    metadata: Annotated[dict[str, str], about("Your labels from the create")]
    webhook: Annotated[VideoWebhook | None, about("The webhook the final Video is sent to")] = None
    # Video-to-video: the gateway video this one was made from (OpenAI's field, set for edits and extensions
    # too), and what was done to it.
    remixed_from_video_id: Annotated[str | None, about("The video this one was made from")] = None
    operation: Annotated[Literal["remix", "edit", "extend"] | None, about("What was done to that video")] = None


class VideoList(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["list"], about("Always `list`")] = "list"
    data: Annotated[list[Video], about("This page of jobs")]
    first_id: Annotated[str | None, about("The first job's id on this page")]
    last_id: Annotated[str | None, about("The last job's id: `after` for the next page")]
    has_more: Annotated[bool, about("Whether another page follows")]


class VideoDeleted(msgspec.Struct, kw_only=True):
    id: Annotated[str, about("The deleted job's id")]
    object: Annotated[Literal["video.deleted"], about("Always `video.deleted`")] = "video.deleted"
    deleted: Annotated[bool, about("Always true")] = True


class WebhookAttemptView(msgspec.Struct, kw_only=True):
    at: Annotated[float, about("Unix seconds")]
    duration_ms: Annotated[int, about("How long the receiver took")]
    status_code: Annotated[int | None, about("The receiver's HTTP status, if it answered")]
    error: Annotated[str | None, about("Why the attempt failed, if it did")]


class WebhookDeliveryView(msgspec.Struct, kw_only=True):
    """A job's webhook and its delivery log: `waiting` until the job is terminal, then `pending` (retrying with
    backoff), `delivered` (a 2xx) or `failed` (the retry schedule ran out)."""

    object: Annotated[Literal["video.webhook"], about("Always `video.webhook`")] = "video.webhook"
    video_id: Annotated[str, about("The job's id")]
    url: Annotated[str, about("The receiver")]
    id: Annotated[str, about("The delivery's id, sent as `webhook-id`")]
    state: Annotated[Literal["waiting", "pending", "delivered", "failed"], about("Where the delivery is")]
    attempts: Annotated[list[WebhookAttemptView], about("Every attempt so far")]
    next_attempt_at: Annotated[float | None, about("Unix seconds of the next attempt, while `pending`")]
    finished_at: Annotated[float | None, about("Unix seconds, once `delivered` or `failed`")]


class Health(msgspec.Struct, kw_only=True):
    status: Annotated[Literal["ok", "unavailable"], about("`ok` when the check passes")]
    checks: Annotated[dict[str, str], about("Each dependency checked and its state")] = {}

"""Pure translation between canonical types and NanoGPT's video API (providers.md §4): `build_*` make HttpCalls,
`parse_*` read Replies. No I/O, env, clock or globals; a request NanoGPT would silently alter is refused."""

from __future__ import annotations

from providers.contract import (
    CanonicalStatus,
    CapacityReport,
    ErrorClass,
    Failure,
    GenerationRequest,
    HttpCall,
    Image,
    ImageData,
    ImageUrl,
    InvalidUpstreamRequest,
    Operation,
    Output,
    ProviderSettings,
    Reply,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamStatus,
    VideoData,
    VideoUrl,
)
from providers.nanogpt.errors import SCOPE_BALANCE, classify_error, error_message
from providers.nanogpt.wire import (
    API_KEY_HEADER,
    DEFAULT_RULE,
    MAX_SOURCE_VIDEO_BYTES,
    MODEL_RULES,
    ORIENTATIONS,
    SIZE_TOKENS,
    SLUG,
    STATUS_PATH,
    SUBMIT_PATH,
    ErrorObject,
    ModelRule,
    StatusFields,
    StatusReply,
    SubmitReply,
)
from providers.prompts import join_negatives
from providers.transport import decode_reply

MICROS_PER_USD = 1_000_000

# --------------------------------------------------------------------------------------------- requests


def _headers(settings: ProviderSettings) -> dict[str, str]:
    return {API_KEY_HEADER: settings.api_key}


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"nanogpt cannot take this request: {message}", provider=SLUG)


def model_rule(model: str) -> ModelRule:
    """The field rules of the model's family (first matching prefix); unknown models get §4.3's generic fields."""
    return next((rule for prefix, rule in MODEL_RULES if model.startswith(prefix)), DEFAULT_RULE)


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    # §4.5 unified status: no `model` needed; `requestId` is the documented name (`runId` an alias).
    params = {"requestId": job.upstream_id}
    return HttpCall(
        method="GET", path=STATUS_PATH, operation=Operation.STATUS, params=params, headers=_headers(settings)
    )


def _check_unsupported(request: GenerationRequest) -> None:
    if request.multi_scene or len(request.scenes) > 1:
        raise _invalid("one prompt per job: NanoGPT has no scenes")
    if request.music is not None and request.music.enabled:
        raise _invalid("music is not supported")
    if request.watermark is not None or request.watermark_overlay is not None:
        raise _invalid("the watermark cannot be controlled")
    if request.content_credentials is not None or request.upscale or request.temporary_output:
        raise _invalid("content credentials, upscaling and temporary outputs are not request options")
    if request.results != 1 or request.upstream_variant is not None:
        raise _invalid("one video per job, and no sub-model selector")
    audio = request.audio
    if audio is not None and (audio.prompt or audio.negative_prompt):
        raise _invalid("audio is a `generateAudio` switch; an audio prompt cannot be sent")


def _duration_fields(request: GenerationRequest, rule: ModelRule) -> dict[str, object]:
    source = request.video_input
    if source is not None and source.operation != "extend":
        return {}  # an edit keeps its source's length: no duration is asked for
    scene_s = request.scenes[0].seconds
    if request.seconds is not None and scene_s not in (None, request.seconds):
        raise _invalid(f"the scene asks {scene_s}s but the request {request.seconds}s")
    seconds = request.seconds if request.seconds is not None else scene_s
    if seconds is None:
        return {}  # the model's own default length
    # §4.3: a string ("5" is not 5); Sora names it `seconds`, veo2-video writes "5s".
    return {rule.duration_field: f"{seconds}{rule.duration_suffix}"}


def _aspect_fields(model: str, aspect: str, rule: ModelRule) -> dict[str, object]:
    match rule.aspect_field:
        case None if aspect != rule.native_aspect:
            raise _invalid(f"{model} only makes {rule.native_aspect or 'its default'} videos, not {aspect}")
        case None:
            return {}
        case "orientation" if aspect not in ORIENTATIONS:
            raise _invalid(f"{model} takes landscape or portrait, not {aspect}")
        case "orientation":
            return {"orientation": ORIENTATIONS[aspect]}
        case field:
            return {field: aspect}


def _shape_fields(request: GenerationRequest, rule: ModelRule) -> dict[str, object]:
    """Exact sizes only (SIZE_TOKENS); a model without a field must natively make the size asked for."""
    dims = request.dimensions
    if dims is None:
        return {}
    tokens = SIZE_TOKENS.get((dims.width, dims.height))
    if tokens is None:
        raise _invalid(f"size {dims} matches no aspect_ratio/resolution token")
    aspect, resolution = tokens
    fields = _aspect_fields(request.upstream_model, aspect, rule)
    if rule.resolution_field:
        fields["resolution"] = resolution
    elif resolution != rule.native_resolution:
        native = rule.native_resolution or "its default"
        raise _invalid(f"{request.upstream_model} only makes {native}, not {resolution}")
    return fields


def _image_value(image: Image) -> str:
    match image:
        case ImageUrl(url=url):
            if not url.lower().startswith("https://"):
                raise _invalid(f"image URLs must be HTTPS (§4.3 imageUrl), not {url.split(':', 1)[0]}")
            return url
        case ImageData():
            # Seed 003 recommends `imageDataUrl` "for private assets or files larger than 4 MB": no cap here.
            return image.as_data_uri()


def _image_fields(request: GenerationRequest, rule: ModelRule) -> dict[str, object]:
    scene = request.scenes[0]
    fields: dict[str, object] = {}
    if scene.image is not None:
        fields["imageUrl" if isinstance(scene.image, ImageUrl) else "imageDataUrl"] = _image_value(scene.image)
    if scene.end_image is not None:
        if scene.image is None:
            raise _invalid("a last frame needs a first frame")
        if rule.last_frame_field is None:  # §4.3: no generic field; the key is named per model
            raise _invalid(f"no known last-frame field for {request.upstream_model}")
        fields[rule.last_frame_field] = _image_value(scene.end_image)
    if request.reference_images:
        fields["referenceImages"] = [_image_value(image) for image in request.reference_images]
    return fields


def source_link(request: GenerationRequest) -> str | None:
    """The link the shell must fetch and send as `videoDataUrl`: `videoUrl` takes HTTPS links only (§4.3)."""
    source = request.video_input
    if source is None or not isinstance(source.video, VideoUrl):
        return None
    return None if source.video.url.lower().startswith("https://") else source.video.url


def _video_fields(request: GenerationRequest) -> dict[str, object]:
    """§4.3 media fields for a source video: `videoUrl` (preferred) or `videoDataUrl`; `mode` marks an edit."""
    source = request.video_input
    if source is None:
        return {}
    if request.images:  # "Provide only the media fields that your target model expects"
        raise _invalid("a source video cannot be sent with images")
    fields: dict[str, object] = {} if source.operation == "extend" else {"mode": "video-edit"}
    match source.video:
        case VideoUrl(url=url):
            if not url.lower().startswith("https://"):
                raise _invalid("a source video link must be HTTPS (§4.3 videoUrl): fetch it first (source_link)")
            return fields | {"videoUrl": url}
        case VideoData():
            if source.video.size_bytes > MAX_SOURCE_VIDEO_BYTES:
                size = source.video.size_bytes
                raise _invalid(f"a source video of {size} bytes exceeds the {MAX_SOURCE_VIDEO_BYTES}-byte upload limit")
            return fields | {"videoDataUrl": source.video.as_data_uri()}


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    """§4.3 body with only the fields the request uses ("some models fail when extra media fields are present")."""
    _check_unsupported(request)
    rule = model_rule(request.upstream_model)
    scene = request.scenes[0]
    body: dict[str, object] = {"model": request.upstream_model}
    if scene.prompt:
        body["prompt"] = scene.prompt
    if negative := join_negatives(scene.negative_terms, None):
        body["negative_prompt"] = negative
    body |= _duration_fields(request, rule) | _shape_fields(request, rule)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.audio is not None and request.audio.enabled:
        body["generateAudio"] = True
    if request.enhance_prompt:
        body["enhancePrompt"] = True
    if request.camera_fixed is not None:
        body["camera_fixed"] = request.camera_fixed  # seed 003: Seedance and Wan variants
    body |= _image_fields(request, rule) | _video_fields(request)
    return HttpCall(
        method="POST", path=SUBMIT_PATH, operation=Operation.GENERATE, json=body, headers=_headers(settings)
    )


# --------------------------------------------------------------------------------------------- replies


def usd_to_micros(usd: float | str | None) -> int | None:
    """USD (a number, or a numeric string) to integer micro-USD; anything else reports no amount."""
    try:
        return None if usd is None else round(float(usd) * MICROS_PER_USD)
    except (ValueError, OverflowError):
        return None


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"nanogpt {message}", provider=SLUG, status_code=reply.status_code)


def parse_submit(reply: Reply, request: GenerationRequest) -> UpstreamJob:
    """§4.4: `runId` (== `id`) to poll with; `cost` is the pre-charged USD estimate."""
    body = decode_reply(reply, SubmitReply, provider=SLUG)
    run_id = body.run_id or body.id
    if run_id is None and body.error is not None:
        raise classify_error(reply)
    if run_id is None:
        raise _protocol("submit reply lacks `runId` and `id`", reply)
    return UpstreamJob(
        provider=SLUG,
        upstream_id=run_id,
        upstream_model=body.model or request.upstream_model,
        reported_cost_micros=usd_to_micros(body.cost),
    )


def parse_balance(reply: Reply) -> CapacityReport | None:
    """§4.4 `remainingBalance` (after the pre-charge) as a balance capacity report; None when the reply has none."""
    body = decode_reply(reply, SubmitReply, provider=SLUG)
    balance_micros = usd_to_micros(body.remaining_balance)
    if balance_micros is None:
        return None
    return CapacityReport(provider=SLUG, scope=SCOPE_BALANCE, balance_micros=balance_micros)


# §4.5 and §6.1: Shape A uppercase, Shape B lowercase (compared upper-cased), prose intermediate states.
_STATES: dict[str, CanonicalStatus] = {
    "PENDING": "queued",
    "IN_QUEUE": "queued",
    "QUEUED": "queued",
    "IN_PROGRESS": "in_progress",
    "PROCESSING": "in_progress",
    "GENERATING": "in_progress",
    "DELIVERING": "in_progress",
    "UNKNOWN": "in_progress",  # §4.10: non-terminal, bounded by traits.max_job_duration_s
    "COMPLETED": "completed",
    "FAILED": "failed",
    "CANCELED": "cancelled",  # Shape A spells it with one L
    "CANCELLED": "cancelled",
}


def _video_url(fields: StatusFields) -> str | None:
    """§4.5 adapter rule: `output.video.url ?? output.url ?? videoUrl ?? url`."""
    output = fields.output
    nested = output.video.url if output is not None and output.video is not None else None
    return nested or (output.url if output is not None else None) or fields.video_url or fields.url


def _progress(fields: StatusFields) -> int | None:
    return None if fields.progress is None else round(min(max(fields.progress, 0.0), 100.0))


def _completed(fields: StatusFields, reply: Reply, precharged_micros: int | None) -> UpstreamStatus:
    url = _video_url(fields)
    if url is None:
        raise _protocol("reported COMPLETED without a video URL", reply)
    final_micros = usd_to_micros(fields.cost)  # §4.8: the final cost, only on COMPLETED
    cost = final_micros if final_micros is not None else precharged_micros
    return UpstreamStatus(status="completed", progress=100, output=Output(video_url=url), reported_cost_micros=cost)


def _failed(fields: StatusFields, body: StatusReply) -> UpstreamStatus:
    """§4.5 error rule: `userFriendlyError ?? error(.message) ?? body.error ?? message`; isNSFWError decides."""
    message = (
        fields.user_friendly_error
        or error_message(fields.error, None)
        or error_message(body.error, None)
        or fields.message
        or "nanogpt reported FAILED"
    )
    if fields.is_nsfw_error:
        failure = Failure(error_class=ErrorClass.CONTENT_POLICY, message=message, code="content_policy_violation")
    else:
        code = fields.error.code or fields.error.type if isinstance(fields.error, ErrorObject) else None
        failure = Failure(error_class=ErrorClass.INTERNAL, message=message, code=code)
    return UpstreamStatus(status="failed", failure=failure)


def parse_status(reply: Reply, *, precharged_micros: int | None = None) -> UpstreamStatus:
    """Either §4.5 shape (`d = body.data ?? body`) to canonical; an undocumented status is a protocol error.

    `precharged_micros` (the submit's `cost`) stands in when a COMPLETED reply omits `data.cost`."""
    body = decode_reply(reply, StatusReply, provider=SLUG)
    fields: StatusFields = body.data if body.data is not None else body
    if not isinstance(fields.status, str):
        if body.error is not None:
            raise classify_error(reply, operation=Operation.STATUS)
        raise _protocol("status reply has no `status`", reply)
    state = _STATES.get(fields.status.upper())
    if state is None:
        raise _protocol(f"status reply has undocumented status {fields.status!r}", reply)
    if state == "completed":
        return _completed(fields, reply, precharged_micros)
    if state == "failed":
        return _failed(fields, body)
    return UpstreamStatus(status=state, progress=_progress(fields))

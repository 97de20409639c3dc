"""Pure translation between canonical types and videogenapi's REST calls (seeds 002/004, providers.md §3):
`build_*` make HttpCalls, `parse_*` read Replies. No I/O, env, clock or globals; what the vendor would
silently alter (sizes, images, mode by image count) is refused here, never clamped."""

from __future__ import annotations

import urllib.parse

import msgspec

from providers.contract import (
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
    QuotaExhausted,
    Reply,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamStatus,
)
from providers.transport import decode_reply
from providers.videogenapi.errors import classify_error
from providers.videogenapi.wire import (
    FIRST_LAST_MODELS,
    GENERATE_PATH,
    MAX_PROMPT_CHARS,
    MAX_REFERENCE_IMAGES,
    SIZES,
    SLUG,
    STATUS_PATH,
    USER_PATH,
    VEO_REFERENCE_ASPECT,
    VEO_REFERENCE_MIN_IMAGES,
    GenerateReply,
    LimitCarrier,
    ModelEcho,
    StatusReply,
    Usage,
    WindowCounter,
    error_text,
)

SCOPE_MONTH = "month"

# --------------------------------------------------------------------------------------------- requests


def _headers(settings: ProviderSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}  # seed 002 "Authentication"


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"{SLUG} cannot take this request: {message}", provider=SLUG)


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    path = f"{STATUS_PATH}/{urllib.parse.quote(job.upstream_id, safe='')}"
    return HttpCall(method="GET", path=path, operation=Operation.STATUS, headers=_headers(settings))


def _refuse_unsupported(request: GenerationRequest) -> None:
    """What seed 002 has no field for: refused, so nothing is dropped silently."""
    if request.video_input is not None:
        raise _invalid("there is no source-video input")
    if request.multi_scene or len(request.scenes) != 1:
        raise _invalid("one prompt per video; multi-scene is not supported")
    scene = request.scenes[0]
    if scene.negative_terms or (request.audio is not None and request.audio.negative_prompt):
        raise _invalid("negative prompts are not supported")
    if request.music is not None and request.music.enabled:
        raise _invalid("music is not supported (add_audio adds sound effects only)")
    if request.enhance_prompt:
        raise _invalid("prompt enhancement is not supported")
    if request.watermark is not None or request.watermark_overlay is not None:
        raise _invalid("the watermark cannot be controlled per request")
    if request.content_credentials is not None or request.upscale or request.temporary_output:
        raise _invalid("content credentials, upscaling and temporary outputs are not request options")
    if request.results != 1:
        raise _invalid("one video per generation")
    if scene.end_image is not None and scene.image is None:
        raise _invalid("an end frame needs a first frame")


def _prompt(request: GenerationRequest) -> str:
    prompt = request.scenes[0].prompt
    if not prompt.strip():
        raise _invalid("`prompt` is required")
    if len(prompt) > MAX_PROMPT_CHARS:  # seed 002; never truncated
        raise _invalid(f"prompt has {len(prompt)} characters, the maximum is {MAX_PROMPT_CHARS}")
    return prompt


def _duration(request: GenerationRequest) -> dict[str, object]:
    total, scene = request.seconds, request.scenes[0].seconds
    if total is not None and scene is not None and total != scene:
        raise _invalid(f"the scene asks for {scene}s but the request for {total}s")
    seconds = total if total is not None else scene
    return {} if seconds is None else {"duration": seconds}


def _url(image: Image) -> str:
    match image:
        case ImageData():
            raise _invalid("images must be public URLs (seed 002 `image_url`), not inline data")
        case ImageUrl(url=url):
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise _invalid(f"image URL {url!r} is not a public http(s) URL")
            return url


def _image_fields(request: GenerationRequest) -> dict[str, object]:
    """Seed 002 "Automatic Mode Detection": image_url -> i2v; reference_image_urls -> multi-image."""
    scene, model, refs = request.scenes[0], request.upstream_model, request.reference_images
    if scene.image is not None and refs:
        raise _invalid("a first frame and reference images cannot be combined")
    match request.mode:
        case "i2v" if scene.image is not None:
            return {"image_url": _url(scene.image)}
        case "first_last" if scene.image is not None and scene.end_image is not None:
            if model not in FIRST_LAST_MODELS:
                raise _invalid(f"first-last frame is documented for Veo 3.1 only, not {model!r}")
            return {"reference_image_urls": [_url(scene.image), _url(scene.end_image)]}
        case "reference":
            if len(refs) > MAX_REFERENCE_IMAGES:
                raise _invalid(f"{len(refs)} reference images, the maximum is {MAX_REFERENCE_IMAGES}")
            if model in FIRST_LAST_MODELS and len(refs) < VEO_REFERENCE_MIN_IMAGES:
                raise _invalid(f"{model!r} reads 1-2 reference images as first/last frames; give 3-5")
            return {"reference_image_urls": [_url(image) for image in refs]}
        case _:
            return {}


def _dimension_fields(request: GenerationRequest) -> dict[str, object]:
    """`resolution` always; `aspect_ratio` only where honoured: t2v, and Veo 3.1 first-last (seed 002/004)."""
    dims = request.dimensions
    if dims is None:
        return {}  # the vendor default, 720p 16:9 (seed 002)
    if str(dims) not in SIZES:
        raise _invalid(f"size {dims} is not a resolution (480p/720p/1080p/4K) x aspect (16:9/4:3/1:1/9:21) size")
    resolution, aspect = SIZES[str(dims)]
    mode = request.mode
    forced_16_9 = mode == "reference" and request.upstream_model in FIRST_LAST_MODELS
    if forced_16_9 and aspect != VEO_REFERENCE_ASPECT:
        raise _invalid(f"Veo 3.1 reference mode forces {VEO_REFERENCE_ASPECT}, not {aspect}")
    if mode in ("t2v", "first_last"):
        return {"resolution": resolution, "aspect_ratio": aspect}
    return {"resolution": resolution}  # an input image's own framing sets the aspect (seed 002: t2v only)


def _option_fields(request: GenerationRequest) -> dict[str, object]:
    fields: dict[str, object] = {}
    if request.seed is not None:
        fields["seed"] = request.seed
    if request.camera_fixed is not None:
        fields["camera_fixed"] = request.camera_fixed  # seed 002: "Whether to fix the camera position"
    if request.upstream_variant is not None:
        fields["veo_model"] = request.upstream_variant  # seed 002 Veo 3.1 example: "veo_model": "veo3_fast"
    if (audio := request.audio) is not None:
        fields["add_audio"] = audio.enabled  # seed 002: Mirelo SFX after generation, same generation_id
        if audio.enabled and audio.prompt:
            fields["audio_prompt"] = audio.prompt
    return fields


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    _refuse_unsupported(request)
    body: dict[str, object] = {
        "model": request.upstream_model,
        "prompt": _prompt(request),
        **_duration(request),
        **_image_fields(request),
        **_dimension_fields(request),
        **_option_fields(request),
    }
    return HttpCall(
        method="POST", path=GENERATE_PATH, operation=Operation.GENERATE, json=body, headers=_headers(settings)
    )


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"{SLUG} {message}", provider=SLUG, status_code=reply.status_code)


def _model_key(model: ModelEcho | str | None) -> str | None:
    return model.key if isinstance(model, ModelEcho) else model


def parse_submit(reply: Reply, request: GenerationRequest) -> UpstreamJob:
    """Seed 002 accepted envelope -> the job; a swapped model or dropped image is named, not accepted."""
    body = decode_reply(reply, GenerateReply, provider=SLUG)
    if body.generation_id is None:
        if body.error is not None or body.success is False:
            raise classify_error(reply)
        raise _protocol("generate reply lacks `generation_id`", reply)
    if request.images and body.type == "text-to-video":
        raise _protocol("ran text-to-video, ignoring the request's images", reply)
    # Accepted (and counted against the plan): another model key in the echo is recorded, never a failure.
    echoed = _model_key(body.model)
    requested = request.upstream_model if echoed is not None and echoed != request.upstream_model else None
    return UpstreamJob(
        provider=SLUG,
        upstream_id=body.generation_id,
        upstream_model=echoed if requested is not None and echoed is not None else request.upstream_model,
        requested_model=requested,
    )


def build_user(settings: ProviderSettings) -> HttpCall:
    """seed 002 "User Information": `GET /v1/user`, read-only (no generation, nothing billed)."""
    return HttpCall(method="GET", path=USER_PATH, operation=Operation.ACCOUNT, headers=_headers(settings))


def parse_user(reply: Reply) -> CapacityReport:
    """The month's usage of the `/user` reply (its body is undocumented: the `usage` counters one integrator
    reads, providers.md §3.4); a reply without them reports nothing but proves the key works."""
    body = decode_reply(reply, LimitCarrier, provider=SLUG)
    return _month(body.usage) if body.usage is not None else CapacityReport(provider=SLUG, scope=SCOPE_MONTH)


def _month(usage: Usage) -> CapacityReport:
    used, limit = usage.current_month_usage, usage.monthly_limit
    remaining = max(0, limit - used) if used is not None and limit is not None else None
    return CapacityReport(provider=SLUG, scope=SCOPE_MONTH, used=used, limit=limit, remaining=remaining)


def _window(counter: WindowCounter, scope: str, now_s: float) -> CapacityReport:
    used, limit, wait_s = counter.current_usage, counter.limit, counter.seconds_until_reset
    remaining = max(0, limit - used) if used is not None and limit is not None else None
    return CapacityReport(
        provider=SLUG,
        scope=scope,
        used=used,
        limit=limit,
        remaining=remaining,
        reset_at=None if wait_s is None else now_s + wait_s,
        retry_after_s=wait_s if remaining == 0 else None,
    )


def parse_capacity(reply: Reply, *, model: str, now_s: float) -> tuple[CapacityReport, ...]:
    """Counters a reply carries: `usage` (month), and a per-model window from a 429's `details` or the
    undocumented 200 `rate_limit`. A 429 without counters still reports the exhausted scope."""
    try:
        body = msgspec.json.decode(reply.body, type=LimitCarrier)
    except msgspec.DecodeError:
        body = LimitCarrier()
    scope = f"model:{model}"
    found = [_month(body.usage)] if body.usage is not None else []
    counter = body.details or body.rate_limit
    if counter is not None:
        found.append(_window(counter, scope, now_s))
    if reply.status_code == 429 and not found:
        error = classify_error(reply, now_s=now_s)
        exhausted = SCOPE_MONTH if isinstance(error, QuotaExhausted) else scope
        found.append(CapacityReport(provider=SLUG, scope=exhausted, remaining=0, retry_after_s=error.retry_after_s))
    return tuple(found)


def _completed(body: StatusReply, reply: Reply) -> UpstreamStatus:
    if not body.video_url:
        raise _protocol(f"status {body.status!r} without `video_url`", reply)
    # `completed_at` has no timezone (seed 002): kept verbatim, never turned into a timestamp.
    facts = {"completed_at": body.completed_at, "seed": None if body.seed is None else str(body.seed)}
    provenance = {key: value for key, value in facts.items() if value is not None}
    return UpstreamStatus(
        status="completed", progress=100, output=Output(video_url=body.video_url, provenance=provenance)
    )


def _failed(body: StatusReply) -> UpstreamStatus:
    # Failed bodies are undocumented; clients read `error`, then `message`, then `failed_reason` (§3.4).
    reason = error_text(body.error) or body.message or body.failed_reason or f"{SLUG} reported {body.status}"
    return UpstreamStatus(status="failed", failure=Failure(error_class=ErrorClass.INTERNAL, message=reason))


def parse_status(reply: Reply) -> UpstreamStatus:
    """Seed 002 status vocabulary mapped per providers.md §6.1; an undocumented status is a protocol error."""
    body = decode_reply(reply, StatusReply, provider=SLUG)
    match body.status:
        case "pending" | "in_queue":
            return UpstreamStatus(status="queued", progress=0)
        case "in_progress" | "processing":  # `processing`: seen in defensive clients (§3.4)
            return UpstreamStatus(status="in_progress")
        case "completed" | "succeeded":  # `succeeded`: likewise
            return _completed(body, reply)
        case "failed" | "error":
            return _failed(body)
        case None if body.error is not None or body.success is False:
            raise classify_error(reply)
        case other:
            raise _protocol(f"status reply has undocumented status {other!r}", reply)

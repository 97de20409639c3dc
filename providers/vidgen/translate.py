"""Pure translation between canonical types and Vidgen's actions (seed 000): `build_*` make HttpCalls,
`parse_*` read Replies. No I/O, env, clock or globals; a request Vidgen would silently alter is refused."""

from __future__ import annotations

import datetime as dt
import urllib.parse

from providers.contract import (
    ContentCredentials,
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
    Scene,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamStatus,
    WatermarkOverlay,
)
from providers.prompts import join_negatives
from providers.transport import decode_reply
from providers.vidgen.errors import classify_error, known_error
from providers.vidgen.wire import (
    PATH,
    SECONDS_PER_SCENE,
    SLUG,
    GenerateReply,
    Meta,
    ModelsReply,
    OptimizeReply,
    StatusReply,
    VidgenCatalogue,
)

# --------------------------------------------------------------------------------------------- requests


def _call(operation: Operation, body: dict[str, object], settings: ProviderSettings) -> HttpCall:
    headers = {"Authorization": f"Bearer {settings.api_key}"}  # seed 000 "Authentication"
    return HttpCall(method="POST", path=PATH, operation=operation, json=body, headers=headers)


def _compact(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"vidgen cannot take this request: {message}", provider=SLUG)


def build_models(settings: ProviderSettings) -> HttpCall:
    return _call(Operation.MODELS, {"action": "models"}, settings)


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    # seed 000 "POST status": pass the id and model returned by generate (the resolved model).
    body: dict[str, object] = {"action": "status", "id": job.upstream_id, "model": job.upstream_model}
    return _call(Operation.STATUS, body, settings)


def _frame(image: Image | None) -> str | None:
    match image:
        case None:
            return None
        case ImageData():
            return image.as_data_uri()
        case ImageUrl():
            raise _invalid("frames must be base64 data URIs, not URLs (seed 000 scenes[].start_frame)")


def _scene(scene: Scene) -> dict[str, object]:
    if scene.end_image is not None and scene.image is None:
        raise _invalid("an end frame needs a start frame (seed 000 'Scene Modes')")
    if scene.seconds not in (None, SECONDS_PER_SCENE):
        raise _invalid(f"each scene lasts {SECONDS_PER_SCENE}s, not {scene.seconds}s")
    return _compact(
        prompt=scene.prompt,
        negative=join_negatives(scene.negative_terms, None) or None,
        start_frame=_frame(scene.image),
        end_frame=_frame(scene.end_image),
    )


def _check_unsupported(request: GenerationRequest) -> None:
    if request.video_input is not None:
        raise _invalid("there is no source-video input (seed 000 takes frames only)")
    if request.seed is not None:
        raise _invalid("seed is not supported")
    if request.results != 1 or request.upstream_variant is not None:
        raise _invalid("one video per job, and no sub-model selector")
    if request.temporary_output or request.camera_fixed is not None:
        raise _invalid("temporary outputs and a fixed camera are not request options")
    if request.watermark is False:
        raise _invalid("the watermark is set in the vendor's admin panel, not per request")
    if request.reference_images:
        raise _invalid("reference images are not supported")
    expected_s = SECONDS_PER_SCENE * len(request.scenes)
    if request.seconds is not None and request.seconds != expected_s:
        raise _invalid(f"{len(request.scenes)} scene(s) give {expected_s}s, not {request.seconds}s")


def _dimension_fields(request: GenerationRequest) -> dict[str, object]:
    """t2v scenes use width/height, framed scenes use size (seed 000 "Scene Modes"); a mix sends both."""
    dims = request.dimensions
    if dims is None:
        return {}
    fields: dict[str, object] = {}
    if any(scene.image is None for scene in request.scenes):
        # seed 000 "Valid Dimensions": 320-1280, divisible by 8; otherwise silently rounded or clamped.
        for side in (dims.width, dims.height):
            if side % 8 or not 320 <= side <= 1280:
                raise _invalid(f"t2v {dims} needs sides divisible by 8 within 320-1280")
        fields |= {"width": dims.width, "height": dims.height}
    if any(scene.image is not None for scene in request.scenes):
        size = max(dims.width, dims.height)
        if not 720 <= size <= 1280:  # seed 000 `size`: "Max dimension for i2v frame resize (720-1280)"
            raise _invalid(f"i2v size {size} (longest side of {dims}) must be within 720-1280")
        fields["size"] = size
    return fields


def _watermark_fields(overlay: WatermarkOverlay) -> dict[str, object]:
    """seed 000 `wm_*`: only what the request sets; the rest keeps the vendor's defaults."""
    image = None if overlay.image is None else overlay.image.as_data_uri()  # "base64 data URI"
    return _compact(
        wm_image=image,
        wm_position=overlay.position,
        wm_scale=overlay.scale,
        wm_transparency=overlay.opacity,  # seed 000: "Watermark opacity (0-100)"
        wm_rotation=overlay.rotation_deg,
        wm_padding_x=overlay.padding_x,
        wm_padding_y=overlay.padding_y,
    )


def _credential_fields(credentials: ContentCredentials) -> dict[str, object]:
    """seed 000 `cs_*` "Override C2PA metadata per request"; omitted fields keep the server's defaults."""
    return _compact(
        cs_author=credentials.author,
        cs_title=credentials.title,
        cs_description=credentials.description,
        cs_organization=credentials.organization,
        cs_vendor=credentials.vendor,
    )


def _option_fields(request: GenerationRequest) -> dict[str, object]:
    fields: dict[str, object] = {}
    if request.enhance_prompt:
        fields["optimize"] = True
    if request.upscale:
        fields["upscale"] = True  # seed 000: "Enable 2x AI upscaling"
    if request.watermark_overlay is not None:
        fields |= _watermark_fields(request.watermark_overlay)
    if request.content_credentials is not None:
        fields |= _credential_fields(request.content_credentials)
    return fields


def build_optimize(prompt: str, upstream_model: str, settings: ProviderSettings) -> HttpCall:
    """seed 000 "POST optimize": enhance a prompt on its own with the model's configured LLM prompt."""
    return _call(Operation.ENHANCE, {"action": "optimize", "prompt": prompt, "model": upstream_model}, settings)


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    _check_unsupported(request)
    body: dict[str, object] = {
        "action": "generate",
        "model": request.upstream_model,
        "scenes": [_scene(scene) for scene in request.scenes],
        **_dimension_fields(request),
        **_option_fields(request),
    }
    if (audio := request.audio) is not None:
        body["fx_sound"] = _compact(enabled=audio.enabled, prompt=audio.prompt, negative_prompt=audio.negative_prompt)
    if (music := request.music) is not None:
        body["music"] = _compact(
            enabled=music.enabled,
            tags=music.tags,
            lyrics=music.lyrics,
            bpm=music.bpm,
            keyscale=music.keyscale,
        )
    return _call(Operation.GENERATE, body, settings)


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"vidgen {message}", provider=SLUG, status_code=reply.status_code)


def parse_models(reply: Reply) -> VidgenCatalogue:
    body = decode_reply(reply, ModelsReply, provider=SLUG)
    if body.error is not None:
        raise classify_error(reply)
    if body.models is None or body.max_scenes is None:
        raise _protocol("models reply lacks `models` or `max_scenes`", reply)
    return VidgenCatalogue(models=frozenset(body.models), max_scenes=body.max_scenes)


def check_catalogue(request: GenerationRequest, catalogue: VidgenCatalogue) -> None:
    """Refuse what Vidgen would change silently: an unknown model runs on the first one (seed 000)."""
    if request.upstream_model not in catalogue.models:
        offered = ", ".join(sorted(catalogue.models))
        raise _invalid(f"model {request.upstream_model!r} is not offered (offered: {offered})")
    if len(request.scenes) > catalogue.max_scenes:
        raise _invalid(f"{len(request.scenes)} scenes exceed max_scenes {catalogue.max_scenes}")


def parse_submit(reply: Reply, request: GenerationRequest) -> UpstreamJob:
    body = decode_reply(reply, GenerateReply, provider=SLUG)
    if body.id is None and body.error is not None:
        raise classify_error(reply)  # seed 000 samples: `if (job.error) throw`, even on a 2xx
    if body.id is None or body.model is None:
        raise _protocol("generate reply lacks `id` or `model`", reply)
    # seed 000 "Silent fallbacks": an invalid model runs on the first configured model, with no error. The job is
    # accepted (and billed) all the same: it is followed under the model Vidgen ran, and the swap recorded.
    requested = None if body.model == request.upstream_model else request.upstream_model
    return UpstreamJob(provider=SLUG, upstream_id=body.id, upstream_model=body.model, requested_model=requested)


def parse_optimize(reply: Reply) -> str:
    """seed 000 optimize reply `{"prompt": ...}`; an `error` (e.g. "Enhancement failed") is classified."""
    body = decode_reply(reply, OptimizeReply, provider=SLUG)
    if body.prompt is None and body.error is not None:
        raise classify_error(reply)
    if not body.prompt:
        raise _protocol("optimize reply lacks `prompt`", reply)
    return body.prompt


def _failed(
    error_class: ErrorClass, message: str, code: str | None, details: dict[str, list[str]] | None = None
) -> UpstreamStatus:
    failure = Failure(error_class=error_class, message=message, code=code, details=details or {})
    return UpstreamStatus(status="failed", failure=failure)


def _block_details(body: StatusReply) -> dict[str, list[str]]:
    """Why it was blocked, in Vidgen's own ids: `filter_categories` (seed 000 "Completed (Blocked)") and any
    `compliance_codes` (seed 000 meta)."""
    codes = body.meta.compliance_codes if body.meta is not None else None
    found = {"filter_categories": body.filter_categories, "compliance_codes": codes}
    return {key: list(values) for key, values in found.items() if values}


def _output(meta: Meta, reply: Reply) -> Output:
    urls = {image.type: image.url for image in meta.images}
    if "signed" not in urls:  # seed 000: the video is the `images[]` entry with type "signed"
        raise _protocol("COMPLETED without a `signed` image in meta.images", reply)
    flags = {"c2pa": meta.enable_c2pa, "watermark": meta.enable_watermark, "upscale": meta.upscale}
    # The C2PA fields the video was signed with (seed 000 meta `cs_*`): the overrides asked, else the defaults.
    credentials = {
        "c2pa_author": meta.cs_author,
        "c2pa_title": meta.cs_title,
        "c2pa_description": meta.cs_description,
        "c2pa_organization": meta.cs_organization,
        "c2pa_vendor": meta.cs_vendor,
        "watermark_position": meta.wm_position,
    }
    texts = {"fingerprint": meta.fingerprint, "gen_id": meta.gen_id} | {k: v for k, v in credentials.items() if v}
    provenance = {key: str(flag).lower() for key, flag in flags.items() if flag is not None}
    provenance |= {key: text for key, text in texts.items() if text is not None}
    return Output(
        video_url=urls["signed"],
        thumbnail_url=urls.get("thumbnail"),
        expires_at=presigned_expiry(urls["signed"]),
        provenance=provenance,
    )


def presigned_expiry(url: str) -> int | None:
    """When an S3 SigV4 presigned URL (providers.md §1: the `signed` video is one) stops working: `X-Amz-Date`
    (signing time) plus `X-Amz-Expires` (seconds), unix seconds; None for a URL that does not say."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    signed, lifetime = query.get("X-Amz-Date", [""])[0], query.get("X-Amz-Expires", [""])[0]
    if not lifetime.isdigit():
        return None
    try:
        signed_at = dt.datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return int(signed_at.timestamp()) + int(lifetime)


def _completed(body: StatusReply, reply: Reply) -> UpstreamStatus:
    # seed 000 "Polling Strategy": check `compliance` before meta; "unsafe" = blocked after generation.
    verdicts = {body.compliance, body.meta.compliance if body.meta else None} - {None}
    if "unsafe" in verdicts:
        message = body.error or "vidgen blocked the output in post-generation compliance review"
        return _failed(ErrorClass.CONTENT_POLICY, message, "content_blocked", _block_details(body))
    if verdicts - {"safe"}:
        raise _protocol(f"COMPLETED with undocumented compliance {sorted(map(str, verdicts))}", reply)
    if body.meta is None:
        raise _protocol("COMPLETED without meta", reply)
    return UpstreamStatus(status="completed", progress=100, output=_output(body.meta, reply))


def parse_status(reply: Reply) -> UpstreamStatus:
    """seed 000 "POST status" mapped per providers.md §6.1; an undocumented status is a protocol error."""
    body = decode_reply(reply, StatusReply, provider=SLUG)
    known = known_error(body.error)
    code = known[1] if known else None
    match body.status:
        case "IN_QUEUE":
            return UpstreamStatus(status="queued", progress=0)
        case "IN_PROGRESS":
            return UpstreamStatus(status="in_progress")
        case "COMPLETED":
            return _completed(body, reply)
        case "FAILED":
            return _failed(ErrorClass.INTERNAL, body.error or "vidgen reported FAILED", code)
        case "TIMED_OUT":
            return _failed(ErrorClass.TIMEOUT, body.error or "vidgen reported TIMED_OUT", code)
        case "CANCELLED":
            return UpstreamStatus(status="cancelled")
        case None if body.error is not None:
            raise classify_error(reply)
        case other:
            raise _protocol(f"status reply has undocumented status {other!r}", reply)

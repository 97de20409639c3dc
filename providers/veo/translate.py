"""Pure translation between canonical types and Google Veo's long-running operations, through the Gemini API or
Vertex AI as `VeoOptions.api` says (docs/providers.md §Veo): `build_*` make HttpCalls, `parse_*` read Replies.
No I/O, env, clock or globals; what Veo cannot express is refused here, never dropped or clamped."""

from __future__ import annotations

import base64
import re
import urllib.parse

import msgspec

from providers.contract import (
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
)
from providers.prompts import join_negatives
from providers.transport import decode_reply
from providers.veo.errors import operation_failure
from providers.veo.wire import (
    GCS_DOWNLOAD,
    GEMINI_OPERATION,
    GEMINI_VERSION,
    LAST_FRAME_MODELS,
    MAX_REFERENCE_IMAGES,
    REFERENCE_MODELS,
    SILENT_MODELS,
    SIZES,
    SLUG,
    VERTEX_OPERATION,
    VERTEX_VERSION,
    Instance,
    Media,
    OperationResponse,
    Parameters,
    PredictBody,
    ReferenceImage,
    VeoOptions,
)
from providers.veo.wire import Operation as LongRunning

_MODEL = re.compile(r"[A-Za-z0-9._-]+")
_GS_URI = re.compile(r"gs://(?P<bucket>[^/]+)/(?P<object>.+)")

# --------------------------------------------------------------------------------------------- settings


def veo_options(settings: ProviderSettings) -> VeoOptions:
    """The adapter's `options` table; raises msgspec.ValidationError (a ValueError) naming the bad key."""
    return msgspec.convert(settings.options, VeoOptions)


def _headers(settings: ProviderSettings, options: VeoOptions) -> dict[str, str]:
    if options.api == "vertex":
        return {"Authorization": f"Bearer {settings.api_key}"}  # an OAuth access token (no refresh here)
    return {"x-goog-api-key": settings.api_key}  # Gemini API REST examples


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"{SLUG} cannot take this request: {message}", provider=SLUG)


def _model_path(model: str, options: VeoOptions) -> str:
    if not _MODEL.fullmatch(model):
        raise _invalid(f"model id {model!r} is not a Veo model id")
    if options.api == "vertex":
        return (
            f"{VERTEX_VERSION}/projects/{options.project}/locations/{options.location}/publishers/google/models/{model}"
        )
    return f"{GEMINI_VERSION}/models/{model}"


# --------------------------------------------------------------------------------------------- requests


def _refuse_unsupported(request: GenerationRequest, options: VeoOptions) -> None:
    """What neither API has a field for: refused, so nothing is dropped silently."""
    if request.multi_scene or len(request.scenes) != 1:
        raise _invalid("one prompt per video; multi-scene is not supported")
    if request.music is not None and request.music.enabled:
        raise _invalid("music is not supported")
    if request.enhance_prompt:
        raise _invalid("prompt enhancement cannot be asked for per request")
    if request.watermark is not None:
        raise _invalid("the watermark (SynthID) cannot be controlled")
    if request.extras:
        raise _invalid(f"not supported: {', '.join(request.extras)}")
    if request.seed is not None and options.api == "gemini":
        raise _invalid("the Gemini API documents no seed for Veo (Vertex AI does)")  # [inference] refused, not sent
    audio = request.audio
    if audio is not None and (audio.prompt or audio.negative_prompt):
        raise _invalid("audio is prompted by the video prompt; there is no separate audio prompt")


def _audio(request: GenerationRequest, options: VeoOptions) -> bool | None:
    """`generateAudio` for Vertex (required there for Veo 3); None for the Gemini API, which has no such field."""
    wanted = request.audio is None or request.audio.enabled
    silent = request.upstream_model in SILENT_MODELS
    if silent and request.audio is not None and request.audio.enabled:
        raise _invalid(f"{request.upstream_model} generates no audio")
    if options.api == "vertex":
        return None if silent else wanted
    if not silent and not wanted:
        raise _invalid("Veo 3 through the Gemini API always generates audio; it cannot be turned off")
    return None


def _prompt(request: GenerationRequest) -> str:
    prompt = request.scenes[0].prompt
    if not prompt.strip():
        raise _invalid("`prompt` is required")
    return prompt


def _seconds(request: GenerationRequest) -> int | None:
    total, scene = request.seconds, request.scenes[0].seconds
    if total is not None and scene is not None and total != scene:
        raise _invalid(f"the scene asks for {scene}s but the request for {total}s")
    return total if total is not None else scene


def _media(image: Image) -> Media:
    match image:
        case ImageUrl():
            raise _invalid("images must be inline data: Veo fetches no URL (Vertex takes gcsUri, the Gemini API not)")
        case ImageData(mime_type=mime, data=data):
            return Media(bytes_base64_encoded=base64.b64encode(data).decode("ascii"), mime_type=mime)


def _instance(request: GenerationRequest) -> Instance:
    scene, model, refs = request.scenes[0], request.upstream_model, request.reference_images
    if scene.end_image is not None and scene.image is None:
        raise _invalid("an end frame needs a first frame")
    if scene.end_image is not None and model not in LAST_FRAME_MODELS:
        raise _invalid(f"{model} documents no last frame")
    if refs and (scene.image is not None or model not in REFERENCE_MODELS):
        raise _invalid(f"reference images need a Veo 3.1 model and no first frame, not {model}")
    if len(refs) > MAX_REFERENCE_IMAGES:
        raise _invalid(f"{len(refs)} reference images, the maximum is {MAX_REFERENCE_IMAGES}")
    return Instance(
        prompt=_prompt(request),
        image=None if scene.image is None else _media(scene.image),
        last_frame=None if scene.end_image is None else _media(scene.end_image),
        reference_images=[ReferenceImage(image=_media(ref)) for ref in refs] or None,
    )


def _parameters(request: GenerationRequest, options: VeoOptions) -> Parameters:
    resolution = aspect = None
    if (dims := request.dimensions) is not None:
        if str(dims) not in SIZES:
            raise _invalid(f"size {dims} is not one of {', '.join(SIZES)}")
        resolution, aspect = SIZES[str(dims)]
        if request.upstream_model in SILENT_MODELS:  # Veo 2 has no `resolution`: 720p only
            if resolution != "720p":
                raise _invalid(f"{request.upstream_model} renders 720p only")
            resolution = None
    negative = join_negatives(request.scenes[0].negative_terms, None)
    return Parameters(
        aspect_ratio=aspect,
        resolution=resolution,
        duration_seconds=_seconds(request),
        negative_prompt=negative or None,
        seed=request.seed,
        generate_audio=_audio(request, options),
        storage_uri=options.storage_uri if options.api == "vertex" else None,
    )


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    options = veo_options(settings)
    _refuse_unsupported(request, options)
    body = PredictBody(instances=[_instance(request)], parameters=_parameters(request, options))
    return HttpCall(
        method="POST",
        path=f"{_model_path(request.upstream_model, options)}:predictLongRunning",
        operation=Operation.GENERATE,
        json=msgspec.to_builtins(body),
        headers=_headers(settings, options),
    )


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    """Gemini: GET the operation by name; Vertex: POST its name to the model's `:fetchPredictOperation`."""
    options = veo_options(settings)
    headers = _headers(settings, options)
    if options.api == "vertex":
        path = f"{_model_path(job.upstream_model, options)}:fetchPredictOperation"
        body = {"operationName": _operation_name(job.upstream_id, options)}
        return HttpCall(method="POST", path=path, operation=Operation.STATUS, json=body, headers=headers)
    path = f"{GEMINI_VERSION}/{_operation_name(job.upstream_id, options)}"
    return HttpCall(method="GET", path=path, operation=Operation.STATUS, headers=headers)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def build_asset(url: str, settings: ProviderSettings) -> HttpCall:
    """The download of a finished video: Google serves it only with the same credential as the API calls, which
    is therefore sent only to the host the API (Gemini) or Cloud Storage (Vertex) lives on."""
    options = veo_options(settings)
    home = options.storage_url if options.api == "vertex" else settings.base_url
    if _origin(url) != _origin(home):
        message = f"{SLUG} video URL is not on {_origin(home)[1]}: the credential is not sent there"
        raise UpstreamProtocolError(message, provider=SLUG)
    return HttpCall(method="GET", path=url, operation=Operation.FILE, headers=_headers(settings, options))


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"{SLUG} {message}", provider=SLUG, status_code=reply.status_code)


def _operation_name(name: str, options: VeoOptions) -> str:
    pattern = VERTEX_OPERATION if options.api == "vertex" else GEMINI_OPERATION
    if not re.fullmatch(pattern, name):
        raise UpstreamProtocolError(f"{SLUG} operation name {name!r} is not a {options.api} operation", provider=SLUG)
    return name


def parse_submit(reply: Reply, request: GenerationRequest, settings: ProviderSettings) -> UpstreamJob:
    """The accepted operation -> the job, keyed by the operation's full name (the poll path needs all of it)."""
    body = decode_reply(reply, LongRunning, provider=SLUG)
    if body.name is None:
        raise _protocol("predictLongRunning reply lacks the operation `name`", reply)
    try:
        name = _operation_name(body.name, veo_options(settings))
    except UpstreamProtocolError as exc:
        raise _protocol(exc.message.removeprefix(f"{SLUG} "), reply) from None
    return UpstreamJob(provider=SLUG, upstream_id=name, upstream_model=request.upstream_model)


def _filtered(count: int | None, reasons: list[str]) -> UpstreamStatus | None:
    """RAI filtering (`raiMediaFilteredCount` > 0): the video was generated and withheld - a content outcome."""
    if not count:
        return None
    message = "; ".join(reasons) or f"{count} video(s) withheld by Google's responsible-AI filters"
    failure = Failure(error_class=ErrorClass.CONTENT_POLICY, message=message, code="rai_media_filtered")
    return UpstreamStatus(status="failed", failure=failure)


def _gcs_url(uri: str, options: VeoOptions) -> str | None:
    match = _GS_URI.fullmatch(uri)
    if match is None:
        return None
    quoted = urllib.parse.quote(match["object"], safe="")
    path = GCS_DOWNLOAD.format(bucket=match["bucket"], object=quoted)
    return f"{options.storage_url.rstrip('/')}{path}?alt=media"


def _video_url(response: OperationResponse, options: VeoOptions) -> str | None:
    if options.api == "vertex":
        videos = response.videos or []
        uri = videos[0].gcs_uri if videos else None
        return None if uri is None else _gcs_url(uri, options)
    samples = response.generate_video_response.generated_samples if response.generate_video_response else []
    video = samples[0].video if samples else None
    return video.uri if video is not None else None


def parse_status(reply: Reply, settings: ProviderSettings) -> UpstreamStatus:
    """An operation is running until `done`; then it carries `error`, the video, or RAI-filtered media."""
    options = veo_options(settings)
    body = decode_reply(reply, LongRunning, provider=SLUG)
    if not body.done:
        return UpstreamStatus(status="in_progress")  # [inference] no progress and no queued phase are reported
    if body.error is not None:
        return UpstreamStatus(status="failed", failure=operation_failure(body.error))
    if body.response is None:
        raise _protocol("finished operation has neither `response` nor `error`", reply)
    response = body.response
    if url := _video_url(response, options):
        return UpstreamStatus(status="completed", progress=100, output=Output(video_url=url))
    nested = response.generate_video_response
    count = nested.rai_media_filtered_count if nested else response.rai_media_filtered_count
    reasons = nested.rai_media_filtered_reasons if nested else response.rai_media_filtered_reasons
    if (filtered := _filtered(count, reasons)) is not None:
        return filtered
    raise _protocol("finished operation names no downloadable video and no filtered media", reply)

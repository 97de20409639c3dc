"""Pure translation between canonical types and fal's queue API (docs/providers.md §fal): `build_*` make
HttpCalls, `parse_*` read Replies. No I/O, env, clock or globals; an input a model's schema has no field for
is refused here, never dropped or clamped."""

from __future__ import annotations

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
from providers.fal.endpoints import ENDPOINTS, InputSchema
from providers.fal.errors import classify_error, decode_error, describe, error_code
from providers.fal.wire import (
    ALREADY_COMPLETED,
    AUTH_SCHEME,
    CANCELLATION_REQUESTED,
    CANCELLED_OK,
    CLIENT_CANCELLED,
    SLUG,
    TIMEOUT_ERROR_TYPES,
    CancelReply,
    StatusReply,
    SubmitReply,
    VideoOutput,
)
from providers.prompts import join_negatives
from providers.transport import decode_reply

# --------------------------------------------------------------------------------------------- requests


def _headers(settings: ProviderSettings) -> dict[str, str]:
    return {"Authorization": f"{AUTH_SCHEME} {settings.api_key}"}


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"{SLUG} cannot take this request: {message}", provider=SLUG)


def app_id(model_id: str) -> str:
    """`owner/app` of a model id: status, result and cancel URLs use only these two segments
    (https://fal.ai/docs/api-reference/inference-api, "Model IDs and paths")."""
    return "/".join(model_id.split("/")[:2])


def _request_path(job: UpstreamJob) -> str:
    return f"/{app_id(job.upstream_model)}/requests/{urllib.parse.quote(job.upstream_id, safe='')}"


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    return HttpCall(
        method="GET", path=f"{_request_path(job)}/status", operation=Operation.STATUS, headers=_headers(settings)
    )


def build_result(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    """The result of a COMPLETED request: the model's output, or the model's error with its status code."""
    return HttpCall(method="GET", path=_request_path(job), operation=Operation.STATUS, headers=_headers(settings))


def build_cancel(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    return HttpCall(
        method="PUT", path=f"{_request_path(job)}/cancel", operation=Operation.CANCEL, headers=_headers(settings)
    )


def _schema(model: str) -> InputSchema:
    schema = ENDPOINTS.get(model)
    if schema is None:
        raise _invalid(f"no input schema is known for fal model {model!r} (known: {', '.join(ENDPOINTS)})")
    return schema


def _refuse_unsupported(request: GenerationRequest, schema: InputSchema) -> None:
    """What the model's schema has no field for: refused, so nothing is dropped silently."""
    if request.multi_scene or len(request.scenes) != 1:
        raise _invalid("one prompt per video; multi-scene is not supported")
    if request.reference_images:
        raise _invalid("reference images are not supported")
    if request.music is not None and request.music.enabled:
        raise _invalid("music is not supported")
    if request.watermark is not None:
        raise _invalid("the watermark cannot be controlled")
    if request.extras:
        raise _invalid(f"not supported: {', '.join(request.extras)}")
    if request.seed is not None and not schema.seed:
        raise _invalid("this model takes no seed")
    if request.enhance_prompt and schema.prompt_expansion_field is None:
        raise _invalid("this model has no prompt enhancement")
    if request.scenes[0].negative_terms and not schema.negative_prompt:
        raise _invalid("this model takes no negative prompt")
    if request.audio is not None and (request.audio.prompt or request.audio.negative_prompt):
        raise _invalid("audio prompts are not supported")


def _prompt(request: GenerationRequest, schema: InputSchema) -> str:
    prompt = request.scenes[0].prompt
    if not prompt.strip():
        raise _invalid("`prompt` is required")
    if schema.max_prompt_chars is not None and len(prompt) > schema.max_prompt_chars:
        raise _invalid(f"prompt has {len(prompt)} characters, the maximum is {schema.max_prompt_chars}")
    return prompt


def _duration(request: GenerationRequest, schema: InputSchema) -> dict[str, object]:
    total, scene = request.seconds, request.scenes[0].seconds
    if total is not None and scene is not None and total != scene:
        raise _invalid(f"the scene asks for {scene}s but the request for {total}s")
    seconds = total if total is not None else scene
    if seconds is None:
        return {}  # the model's own default
    if seconds not in schema.durations:
        raise _invalid(f"{seconds}s is not one of {sorted(schema.durations)} seconds")
    return {"duration": schema.durations[seconds]}


def _image(image: Image) -> str:
    match image:
        case ImageData():
            return image.as_data_uri()  # fal file inputs take base64 data URIs (Wan 2.5 i2v `image_url`)
        case ImageUrl(url=url):
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise _invalid(f"image URL {url!r} is not a public http(s) URL")
            return url


def _endpoint_and_images(request: GenerationRequest, schema: InputSchema) -> tuple[str, dict[str, object]]:
    """Text requests go to the catalogue's model id, image requests to its image-to-video endpoint."""
    scene = request.scenes[0]
    if scene.image is None:
        if scene.end_image is not None:
            raise _invalid("an end frame needs a first frame")
        return request.upstream_model, {}
    if schema.image_to_video is None:
        raise _invalid("this model has no image-to-video endpoint")
    fields: dict[str, object] = {"image_url": _image(scene.image)}
    if scene.end_image is not None:
        if schema.end_image_field is None:
            raise _invalid("this model takes no end frame")
        fields[schema.end_image_field] = _image(scene.end_image)
    return schema.image_to_video, fields


def _size_fields(request: GenerationRequest, schema: InputSchema, *, image: bool) -> dict[str, object]:
    if request.dimensions is None:
        return {}  # the model's own default
    size = str(request.dimensions)
    if size not in schema.sizes:
        raise _invalid(f"size {size} is not one of {', '.join(schema.sizes)}")
    resolution, aspect = schema.sizes[size]
    fields: dict[str, object] = {} if resolution is None else {"resolution": resolution}
    if not image or schema.aspect_on_image:
        fields["aspect_ratio"] = aspect  # an image-to-video endpoint without the field frames like its image
    return fields


def _option_fields(request: GenerationRequest, schema: InputSchema) -> dict[str, object]:
    fields: dict[str, object] = {}
    negative = join_negatives(request.scenes[0].negative_terms, None)
    if negative:
        fields["negative_prompt"] = negative
    if request.seed is not None:
        fields["seed"] = request.seed
    if schema.prompt_expansion_field is not None:
        fields[schema.prompt_expansion_field] = request.enhance_prompt  # its default is on: always said
    audio = request.audio
    if schema.audio_field is not None:
        fields[schema.audio_field] = audio is not None and audio.enabled  # default on: off unless asked
    elif audio is not None and audio.enabled:
        raise _invalid("this model generates no audio")
    return fields


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    """POST https://queue.fal.run/{model_id} with the model's own input as the body."""
    schema = _schema(request.upstream_model)
    _refuse_unsupported(request, schema)
    endpoint, image_fields = _endpoint_and_images(request, schema)
    body: dict[str, object] = {
        "prompt": _prompt(request, schema),
        **image_fields,
        **_duration(request, schema),
        **_size_fields(request, schema, image=bool(image_fields)),
        **_option_fields(request, schema),
    }
    return HttpCall(
        method="POST", path=f"/{endpoint}", operation=Operation.GENERATE, json=body, headers=_headers(settings)
    )


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"{SLUG} {message}", provider=SLUG, status_code=reply.status_code)


def parse_submit(reply: Reply, request: GenerationRequest) -> UpstreamJob:
    body = decode_reply(reply, SubmitReply, provider=SLUG)
    if not body.request_id:
        raise _protocol("submit reply lacks `request_id`", reply)
    return UpstreamJob(provider=SLUG, upstream_id=body.request_id, upstream_model=request.upstream_model)


def parse_status(reply: Reply) -> UpstreamStatus | None:
    """The queue state; None once COMPLETED, when the outcome (video or error) is read from the result."""
    body = decode_reply(reply, StatusReply, provider=SLUG)
    match body.status:
        case "IN_QUEUE":
            return UpstreamStatus(status="queued", progress=0)
        case "IN_PROGRESS":
            return UpstreamStatus(status="in_progress")
        case "COMPLETED":
            return None
        case other:
            raise _protocol(f"status reply has undocumented status {other!r}", reply)


def _output(reply: Reply) -> UpstreamStatus:
    body = decode_reply(reply, VideoOutput, provider=SLUG)
    if body.video is None or not body.video.url:
        raise _protocol("result has no `video.url`", reply)
    facts = {"seed": None if body.seed is None else str(body.seed), "content_type": body.video.content_type}
    provenance = {key: value for key, value in facts.items() if value is not None}
    return UpstreamStatus(
        status="completed", progress=100, output=Output(video_url=body.video.url, provenance=provenance)
    )


def parse_result(reply: Reply) -> UpstreamStatus:
    """The result of a COMPLETED request. A model or request error in fal's shape is the job's outcome (the
    result "returns the same error" the model returned); auth, rate limits and bodies that are not fal's are
    about this call, so they raise and the job is polled again [inference]."""
    if 200 <= reply.status_code < 300:
        return _output(reply)
    body = decode_error(reply.body)
    if body is None or body.detail is None or reply.status_code in (401, 403, 404, 429):
        raise classify_error(reply)
    if body.error_type == CLIENT_CANCELLED:  # a cancelled request ends with this request error [inference]
        return UpstreamStatus(status="cancelled")
    timed_out = body.error_type in TIMEOUT_ERROR_TYPES
    error_class = ErrorClass.TIMEOUT if timed_out else classify_error(reply).error_class
    failure = Failure(error_class=error_class, message=describe(reply, body), code=error_code(body))
    return UpstreamStatus(status="failed", failure=failure)


def parse_cancel(reply: Reply) -> bool:
    """202 CANCELLATION_REQUESTED (or OK): asked; 400 ALREADY_COMPLETED: nothing left to stop, the result tells
    the outcome (https://fal.ai/docs/inference-api/queue/cancel). Anything else is an error."""
    try:
        status = msgspec.json.decode(reply.body, type=CancelReply).status
    except msgspec.DecodeError:
        status = None
    if 200 <= reply.status_code < 300 and status in (CANCELLATION_REQUESTED, CANCELLED_OK):
        return True
    if reply.status_code == 400 and status == ALREADY_COMPLETED:
        return False
    if 200 <= reply.status_code < 300:
        raise _protocol(f"cancel reply has undocumented status {status!r}", reply)
    raise classify_error(reply)

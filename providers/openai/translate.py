"""Pure translation between canonical types and the OpenAI video API (docs/providers.md §11): `build_*` make
HttpCalls, `parse_*` read Replies. No I/O, env, clock or globals. Only OpenAI's create fields are sent (`prompt`,
`model`, `seconds`, `size`, `input_reference`); a request asking for more is refused here, never trimmed."""

from __future__ import annotations

import urllib.parse
from typing import Literal

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
from providers.openai.errors import CONTENT_POLICY_CODES, classify_error
from providers.openai.wire import (
    CONTENT_SUFFIX,
    DEFAULT_KEY_HEADER,
    REFERENCE_FILENAME,
    SLUG,
    VIDEOS_PATH,
    Video,
)
from providers.transport import decode_reply

# --------------------------------------------------------------------------------------------- requests

# A fixed boundary keeps the body a pure function of the request; these 32 random hex digits occurring inside an
# image by chance is as likely as guessing a 128-bit key.
_BOUNDARY = "video-gateway-9f1c2e7a4b6d8e0f1a3c5e7b9d2f4a6c"
_MULTIPART = f"multipart/form-data; boundary={_BOUNDARY}"


def provider_name(settings: ProviderSettings) -> str:
    return settings.name or SLUG


def _headers(settings: ProviderSettings) -> dict[str, str]:
    """`Authorization: Bearer <key>` (OpenAI), or the bare key in the configured header (Azure's `api-key`)."""
    if settings.key_header is None or settings.key_header.lower() == DEFAULT_KEY_HEADER.lower():
        return {DEFAULT_KEY_HEADER: f"Bearer {settings.api_key}"}
    return {settings.key_header: settings.api_key}


def _invalid(message: str, settings: ProviderSettings) -> InvalidUpstreamRequest:
    name = provider_name(settings)
    return InvalidUpstreamRequest(f"{name} cannot take this request: {message}", provider=name)


def _video_path(upstream_id: str) -> str:
    return f"{VIDEOS_PATH}/{urllib.parse.quote(upstream_id, safe='')}"


def _video_call(
    method: Literal["GET", "DELETE"], operation: Operation, job: UpstreamJob, settings: ProviderSettings
) -> HttpCall:
    path = _video_path(job.upstream_id)
    return HttpCall(
        method=method, path=path, operation=operation, params=dict(settings.query), headers=_headers(settings)
    )


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    return _video_call("GET", Operation.STATUS, job, settings)


def build_cancel(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    """`DELETE /videos/{id}`: OpenAI removes the video; another gateway cancels its job."""
    return _video_call("DELETE", Operation.CANCEL, job, settings)


def build_asset(url: str, settings: ProviderSettings) -> HttpCall:
    """The download of a content URL this adapter wrote (`content_url`): it needs the key, which is therefore sent
    only to the service's own base URL."""
    base = settings.base_url.rstrip("/") + "/"
    if not url.startswith(base):
        name = provider_name(settings)
        raise UpstreamProtocolError(f"{name} asset URL is not under {base}: the key is not sent there", provider=name)
    return HttpCall(method="GET", path=url, operation=Operation.FILE, headers=_headers(settings))


def content_url(upstream_id: str, variant: str, settings: ProviderSettings) -> str:
    query = urllib.parse.urlencode({**settings.query, "variant": variant})
    return f"{settings.base_url.rstrip('/')}{_video_path(upstream_id)}{CONTENT_SUFFIX}?{query}"


def _refuse_unsupported(request: GenerationRequest, settings: ProviderSettings) -> None:
    """What the create call has no field for: refused, so nothing is dropped silently."""
    scene = request.scenes[0]
    audio = request.audio
    refusals = (
        (request.multi_scene or len(request.scenes) != 1, "one prompt per video; multi-scene is not supported"),
        (bool(scene.negative_terms), "negative prompts are not supported"),
        (scene.end_image is not None, "an end frame is not supported"),
        (bool(request.reference_images), "reference images are not supported (one `input_reference` frame)"),
        (request.seed is not None, "a seed is not supported"),
        (audio is not None and (not audio.enabled or bool(audio.prompt or audio.negative_prompt)), "audio is fixed"),
        (request.music is not None and request.music.enabled, "music is not supported"),
        (request.enhance_prompt, "prompt enhancement is not supported"),
        (request.watermark is not None, "the watermark cannot be controlled per request"),
        (request.watermark_overlay is not None or request.content_credentials is not None, "no overlay or credentials"),
        (request.upscale, "upscaling is not supported"),
        (request.results != 1, "one result per call"),
        (request.temporary_output or request.camera_fixed is not None, "output and camera options are not supported"),
        (request.upstream_variant is not None, "no sub-model selector (the model map is `upstream_model`)"),
        # remix, edits and extensions exist in the API but are not built in this adapter: routed elsewhere
        (request.video_input is not None, "video input (remix, edit, extend) is not supported by this adapter"),
    )
    for refused, message in refusals:
        if refused:
            raise _invalid(message, settings)


def _seconds(request: GenerationRequest, settings: ProviderSettings) -> dict[str, str]:
    total, scene = request.seconds, request.scenes[0].seconds
    if total is not None and scene is not None and total != scene:
        raise _invalid(f"the scene asks for {scene}s but the request for {total}s", settings)
    seconds = total if total is not None else scene
    return {} if seconds is None else {"seconds": str(seconds)}  # a string in the API ("4", "8", "12")


def _fields(request: GenerationRequest, settings: ProviderSettings) -> dict[str, str]:
    prompt = request.scenes[0].prompt
    if not prompt.strip():
        raise _invalid("`prompt` is required", settings)
    size = {} if request.dimensions is None else {"size": str(request.dimensions)}
    return {"model": request.upstream_model, "prompt": prompt, **_seconds(request, settings), **size}


def _multipart(fields: dict[str, str], image: ImageData) -> bytes:
    """A multipart/form-data body: the scalar fields, then the image as the `input_reference` file part."""
    boundary = _BOUNDARY
    extension = image.mime_type.rpartition("/")[2] or "bin"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    disposition = f'form-data; name="{REFERENCE_FILENAME}"; filename="{REFERENCE_FILENAME}.{extension}"'
    head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {image.mime_type}\r\n\r\n"
    return b"".join(parts) + head.encode() + image.data + f"\r\n--{boundary}--\r\n".encode()


def _url_reference(image: ImageUrl, settings: ProviderSettings) -> dict[str, object]:
    if urllib.parse.urlsplit(image.url).scheme not in ("http", "https"):
        raise _invalid(f"image URL {image.url!r} is not a public http(s) URL", settings)
    return {"input_reference": {"image_url": image.url}}  # `ImageInputReferenceParam` (JSON create)


def _create(settings: ProviderSettings, *, json: object = None, content: bytes | None = None) -> HttpCall:
    headers = _headers(settings)
    if content is not None:
        headers["content-type"] = _MULTIPART
    return HttpCall(
        method="POST",
        path=VIDEOS_PATH,
        operation=Operation.GENERATE,
        json=json,
        content=content,
        params=dict(settings.query),
        headers=headers,
    )


def build_submit(request: GenerationRequest, settings: ProviderSettings) -> HttpCall:
    """JSON create; multipart when the start frame is carried inline (an `input_reference` file upload)."""
    _refuse_unsupported(request, settings)
    fields = _fields(request, settings)
    image: Image | None = request.scenes[0].image
    match image:
        case ImageData():
            return _create(settings, content=_multipart(fields, image))
        case ImageUrl():
            return _create(settings, json={**fields, **_url_reference(image, settings)})
        case None:
            return _create(settings, json=fields)


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply, provider: str) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"{provider} {message}", provider=provider, status_code=reply.status_code)


def parse_submit(reply: Reply, request: GenerationRequest, settings: ProviderSettings) -> UpstreamJob:
    """The created video object -> the job. A model echo that differs (a dated snapshot such as
    `sora-2-2025-10-06`) is not a failure: the job was accepted and is billed."""
    provider = provider_name(settings)
    video = decode_reply(reply, Video, provider=provider)
    if not video.id:
        raise _protocol("create reply lacks the video `id`", reply, provider)
    if video.status not in ("queued", "in_progress", "completed"):
        raise _protocol(f"create reply has status {video.status!r}", reply, provider)
    return UpstreamJob(provider=provider, upstream_id=video.id, upstream_model=request.upstream_model)


def _completed(video: Video, job: UpstreamJob, settings: ProviderSettings) -> UpstreamStatus:
    # The asset expiry (`expires_at`) is when the provider deletes it, not a link to renew: kept as provenance.
    # The content URLs need the key: the gateway downloads them through `asset_call` and streams them.
    facts = {"expires_at": None if video.expires_at is None else str(video.expires_at), "size": video.size}
    output = Output(
        video_url=content_url(job.upstream_id, "video", settings),
        thumbnail_url=content_url(job.upstream_id, "thumbnail", settings),
        provenance={key: value for key, value in facts.items() if value is not None},
    )
    return UpstreamStatus(status="completed", progress=100, output=output)


def _failed(video: Video, provider: str) -> UpstreamStatus:
    error = video.error
    code = error.code if error is not None else None
    message = (error.message if error is not None else None) or f"{provider} reported the video failed"
    error_class = ErrorClass.CONTENT_POLICY if code in CONTENT_POLICY_CODES else ErrorClass.INTERNAL
    return UpstreamStatus(status="failed", failure=Failure(error_class=error_class, message=message, code=code))


def parse_status(reply: Reply, job: UpstreamJob, settings: ProviderSettings) -> UpstreamStatus:
    """The video object's `status` (queued, in_progress, completed, failed; `cancelled` from another gateway);
    anything else is a protocol error."""
    provider = provider_name(settings)
    video = decode_reply(reply, Video, provider=provider)
    match video.status:
        case "queued":
            return UpstreamStatus(status="queued", progress=video.progress or 0)
        case "in_progress":
            return UpstreamStatus(status="in_progress", progress=video.progress)
        case "completed":
            return _completed(video, job, settings)
        case "failed":
            return _failed(video, provider)
        case "cancelled":
            return UpstreamStatus(status="cancelled")
        case None if reply.status_code >= 400:
            raise classify_error(reply, provider=provider)
        case other:
            raise _protocol(f"video has undocumented status {other!r}", reply, provider)

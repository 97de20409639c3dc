"""Pure translation between canonical types and VideoGen's REST tools (seed 001, providers.md §2): `build_*`
make HttpCalls, `parse_*` read Replies. No I/O, env, clock or globals; what VideoGen cannot take is refused."""

from __future__ import annotations

import math
import urllib.parse

import msgspec

from providers.contract import (
    ExtraOutput,
    GenerationRequest,
    HttpCall,
    Image,
    ImageData,
    ImageUrl,
    InlineMedia,
    InvalidUpstreamRequest,
    Operation,
    Output,
    ProviderSettings,
    Reply,
    UpstreamInternalError,
    UpstreamJob,
    UpstreamProtocolError,
    UpstreamStatus,
    UpstreamUnavailable,
    Video,
    VideoData,
)
from providers.transport import decode_reply
from providers.videogen.errors import classify_error, classify_failure
from providers.videogen.wire import (
    DURATION_RANGE_S,
    EXECUTIONS_PATH,
    FILES_PATH,
    GENERATE_PATH,
    MAX_REFERENCE_IMAGES,
    NUM_RESULTS_RANGE,
    SLUG,
    UPLOAD_PATH,
    UPSTREAM_MODEL,
    WATERMARK_MODES,
    ExecutedTool,
    FileInfo,
    StartReply,
    ToolResult,
    UploadedFiles,
    UploadReply,
    UploadTicket,
)

# --------------------------------------------------------------------------------------------- requests

NO_FILES = UploadedFiles()


class UploadPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The images a request needs uploaded (providers.md §2.11) before generate: start frame, references."""

    start_frame: ImageData | None = None
    references: tuple[ImageData, ...] = ()
    video: Video | None = None  # a link is fetched by the shell first (providers/source_video.py), then uploaded


def _invalid(message: str) -> InvalidUpstreamRequest:
    return InvalidUpstreamRequest(f"videogen cannot take this request: {message}", provider=SLUG)


def _auth(settings: ProviderSettings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"}  # seed 001 "Authentication"


def _quoted(upstream_id: str) -> str:
    return urllib.parse.quote(upstream_id, safe="")  # ids are opaque (providers.md §2.1): never parse them


def _check_shape(request: GenerationRequest) -> None:
    if request.upstream_model != UPSTREAM_MODEL:
        raise _invalid(f"there is no model field (VideoGen picks it), so only {UPSTREAM_MODEL!r} is offered")
    if request.multi_scene or len(request.scenes) != 1:
        raise _invalid("one prompt per clip; multi-scene is not supported")
    scene = request.scenes[0]
    if scene.negative_terms:
        raise _invalid("there is no negative prompt field")
    if scene.end_image is not None:
        raise _invalid("there is no last-frame input (providers.md §2.9)")
    if request.video_input is not None:
        _check_source(request)
        return  # a restyle keeps its source's length: no durationSeconds is sent
    seconds = {s for s in (request.seconds, scene.seconds) if s is not None}
    if len(seconds) > 1:
        raise _invalid(f"the request asks for {request.seconds}s but its scene for {scene.seconds}s")
    low, high = DURATION_RANGE_S
    if seconds and not low <= min(seconds) <= high:
        raise _invalid(f"durationSeconds must be {low}-{high}, not {min(seconds)}")


def _check_source(request: GenerationRequest) -> None:
    """seed 001 `videoFileId`: "the model restyles or transforms the input video"; there is no extend."""
    source = request.video_input
    assert source is not None
    if source.operation == "extend":
        raise _invalid("a video can be restyled (videoFileId), not extended")
    if request.images:
        raise _invalid("a source video cannot be sent with images")


def _check_options(request: GenerationRequest) -> None:
    if request.seed is not None:
        raise _invalid("seed is not supported")
    if request.upscale or request.camera_fixed is not None or request.upstream_variant is not None:
        raise _invalid("upscaling, a fixed camera and a sub-model selector are not request options")
    if request.watermark_overlay is not None or request.content_credentials is not None:
        raise _invalid("only watermarkMode is documented: no custom watermark or content credentials")
    low, high = NUM_RESULTS_RANGE
    if not low <= request.results <= high:
        raise _invalid(f"numResults must be {low}-{high}, not {request.results}")
    if request.enhance_prompt:
        raise _invalid("prompt enhancement is not a request option")
    if request.music is not None and request.music.enabled:
        raise _invalid("music cannot be requested, only suppressed")
    audio = request.audio
    if audio is not None and (audio.prompt or audio.negative_prompt):
        raise _invalid("audio takes no prompt (only generateAudio)")


def _data(image: Image, role: str) -> ImageData:
    match image:
        case ImageData():
            return image
        case ImageUrl():
            raise _invalid(f"the {role} must be uploaded bytes, not a URL (providers.md §2.11, §5)")


def plan_uploads(request: GenerationRequest) -> UploadPlan:
    """Refuse what VideoGen cannot take, then name the images to upload; call before any upload."""
    _check_shape(request)
    _check_options(request)
    if len(request.reference_images) > MAX_REFERENCE_IMAGES:
        raise _invalid(f"at most {MAX_REFERENCE_IMAGES} reference images, not {len(request.reference_images)}")
    start = request.scenes[0].image
    return UploadPlan(
        start_frame=None if start is None else _data(start, "start frame"),
        references=tuple(_data(image, "reference image") for image in request.reference_images),
        video=None if request.video_input is None else request.video_input.video,
    )


def build_upload(media: InlineMedia, settings: ProviderSettings, *, display_name: str) -> HttpCall:
    """Step 1 of the upload flow: create a temporary IMAGE (or VIDEO, a source to restyle) file (providers.md
    §2.11)."""
    kind = "VIDEO" if isinstance(media, VideoData) else "IMAGE"
    body = {"displayName": display_name, "type": kind, "isTemporary": True}
    return HttpCall(method="POST", path=UPLOAD_PATH, operation=Operation.UPLOAD, json=body, headers=_auth(settings))


def build_put(ticket: UploadTicket, media: InlineMedia) -> HttpCall:
    """Step 2: the raw bytes to the presigned URL, with NO Authorization header (providers.md §2.2)."""
    headers = {"Content-Type": media.mime_type}
    return HttpCall(
        method="PUT", path=ticket.upload_url, operation=Operation.UPLOAD_PUT, content=media.data, headers=headers
    )


def build_file(file_id: str, settings: ProviderSettings) -> HttpCall:
    """Step 3: poll the file until a rendition is ready (providers.md §2.11)."""
    path = f"{FILES_PATH}/{_quoted(file_id)}"
    return HttpCall(method="GET", path=path, operation=Operation.FILE, headers=_auth(settings))


def _aspect_ratio(request: GenerationRequest) -> dict[str, int] | None:
    """`aspectRatio` is a width:height pair in ratio units, not pixels (providers.md §2.3): 1280x720 -> 16:9."""
    dims = request.dimensions
    if dims is None:
        return None
    divisor = math.gcd(dims.width, dims.height) or 1
    return {"width": dims.width // divisor, "height": dims.height // divisor}


def _file_fields(request: GenerationRequest, files: UploadedFiles) -> dict[str, object]:
    plan = plan_uploads(request)
    if (
        (plan.start_frame is None) != (files.start_frame is None)
        or len(plan.references) != len(files.references)
        or (plan.video is None) != (files.video is None)
    ):
        raise _invalid("its images and source video must be uploaded first (plan_uploads), one file id each")
    fields: dict[str, object] = {}
    if files.video is not None:
        fields["videoFileId"] = files.video  # seed 001: "the model restyles or transforms the input video"
    if files.start_frame is not None:
        fields["startFrameFileId"] = files.start_frame  # the opening frame (videogen-mcp contract)
    if files.references:
        fields["imageFileIds"] = list(files.references)  # reference images (seed 001)
    return fields


def build_submit(request: GenerationRequest, settings: ProviderSettings, files: UploadedFiles = NO_FILES) -> HttpCall:
    """`POST /v1/tools/generate-video-clip` with camelCase fields; never a model (there is none)."""
    body: dict[str, object] = {"prompt": request.scenes[0].prompt, **_file_fields(request, files)}
    if (ratio := _aspect_ratio(request)) is not None:
        body["aspectRatio"] = ratio
    # `durationSeconds` is not in seed 001: sent only when routing set a length, which it does only for an offering
    # whose catalogue entry turns `seconds_control` on (providers.md §2.3: the vendor's MCP contract takes it); never
    # for a source video, whose length the source decides.
    seconds = request.seconds or request.scenes[0].seconds
    if seconds is not None and request.video_input is None:
        body["durationSeconds"] = seconds
    if request.audio is not None:
        body["generateAudio"] = request.audio.enabled
    if request.music is not None:  # only a disabled one passes plan_uploads
        body["suppressBackgroundMusic"] = True
    if request.watermark is not None:
        body["watermarkMode"] = WATERMARK_MODES[request.watermark]
    if request.results != 1:
        body["numResults"] = request.results  # seed 001: 1-100, default 1
    if request.temporary_output:
        body["isOutputTemporary"] = True  # seed 001: kept at least 24 hours, not analysed
    return HttpCall(method="POST", path=GENERATE_PATH, operation=Operation.GENERATE, json=body, headers=_auth(settings))


def build_poll(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    path = f"{EXECUTIONS_PATH}/{_quoted(job.upstream_id)}"
    return HttpCall(method="GET", path=path, operation=Operation.STATUS, headers=_auth(settings))


def build_cancel(job: UpstreamJob, settings: ProviderSettings) -> HttpCall:
    path = f"{EXECUTIONS_PATH}/{_quoted(job.upstream_id)}/cancel"
    return HttpCall(method="POST", path=path, operation=Operation.CANCEL, headers=_auth(settings))


# --------------------------------------------------------------------------------------------- replies


def _protocol(message: str, reply: Reply) -> UpstreamProtocolError:
    return UpstreamProtocolError(f"videogen {message}", provider=SLUG, status_code=reply.status_code)


def _success(reply: Reply) -> None:
    if not 200 <= reply.status_code < 300:
        raise classify_error(reply)


def parse_upload(reply: Reply) -> UploadTicket:
    _success(reply)
    body = decode_reply(reply, UploadReply, provider=SLUG)
    if not body.file_id or not body.upload_url:
        raise _protocol("upload reply lacks `fileId` or `uploadUrl`", reply)
    return UploadTicket(file_id=body.file_id, upload_url=body.upload_url)


def check_put(reply: Reply) -> None:
    """The storage answer to the PUT; not a VideoGen API reply, so no ApiError body to read."""
    if not 200 <= reply.status_code < 300:
        message = f"videogen upload storage replied {reply.status_code} to the PUT"
        raise UpstreamUnavailable(message, provider=SLUG, status_code=reply.status_code)


def parse_file(reply: Reply) -> bool:
    """True once a download or preview rendition is `ready` (the SDK's readiness test); a file whose
    renditions all ended without one is an error, anything else is still processing."""
    _success(reply)
    info = decode_reply(reply, FileInfo, provider=SLUG)
    states = {source.status for source in (info.download_source, info.preview_source) if source is not None}
    if "ready" in states:
        return True
    if "failed" in states and states <= {"failed", "skipped"}:
        message = f"videogen could not process uploaded file {info.file_id}"
        raise UpstreamInternalError(message, provider=SLUG, status_code=reply.status_code, code="file_failed")
    return False


def parse_submit(reply: Reply, request: GenerationRequest) -> UpstreamJob:
    _success(reply)
    body = decode_reply(reply, StartReply, provider=SLUG)
    if not body.tool_execution_id:  # `vg_exec_` (docs) or `vg_tool_` (CLI): the prefix is never checked
        raise _protocol("start reply lacks `toolExecutionId`", reply)
    return UpstreamJob(provider=SLUG, upstream_id=body.tool_execution_id, upstream_model=request.upstream_model)


def _expiry(*candidates: float | None) -> int | None:
    # The nested `file` of the MCP example shows `downloadUrlExpiresAt: 0`: zero means "not stated".
    return next((int(value) for value in candidates if value is not None and value > 0), None)


def _asset(result: ToolResult, reply: Reply) -> ExtraOutput:
    file = result.file or FileInfo()
    video_url = result.download_url or file.download_url  # `downloadUrl` may be null (providers.md §2.4)
    if not video_url:
        raise _protocol("execution succeeded without a downloadUrl", reply)
    return ExtraOutput(
        video_url=video_url,
        thumbnail_url=result.thumbnail_url or file.thumbnail_url,
        expires_at=_expiry(result.download_url_expires_at, file.download_url_expires_at),
    )


def _output(results: list[ToolResult], reply: Reply) -> Output:
    """The first result is the video; the others of a `numResults` call (seed 001) are its `extra` results."""
    first = _asset(results[0], reply)
    return Output(
        video_url=first.video_url,
        thumbnail_url=first.thumbnail_url,
        expires_at=first.expires_at,
        provenance={"file_id": results[0].file_id} if results[0].file_id else {},
        extra=tuple(_asset(result, reply) for result in results[1:]),
    )


def parse_status(reply: Reply) -> UpstreamStatus:
    """providers.md §2.4 mapped per §6.1; an undocumented status is a protocol error, never a default."""
    _success(reply)
    body = decode_reply(reply, ExecutedTool, provider=SLUG)
    percent = None if body.progress_percentage is None else int(body.progress_percentage)
    match body.status:
        case "pending":
            return UpstreamStatus(status="queued", progress=percent or 0)
        case "running":
            return UpstreamStatus(status="in_progress", progress=percent)
        case "succeeded":
            if not body.results:  # "present (non-empty) when succeeded"
                raise _protocol("execution succeeded without results", reply)
            return UpstreamStatus(status="completed", progress=100, output=_output(body.results, reply))
        case "failed":
            return UpstreamStatus(status="failed", failure=classify_failure(body.error))
        case "cancelled":
            return UpstreamStatus(status="cancelled")
        case other:
            raise _protocol(f"execution has undocumented status {other!r}", reply)


def parse_cancel(reply: Reply) -> bool:
    """Any 2xx: the body of the cancel reply is undocumented (providers.md §7 q4), so it is not read."""
    _success(reply)
    return True

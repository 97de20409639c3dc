"""Does an offering's capability data cover a request? Returns every gap with a reason; never clamps."""

from __future__ import annotations

import msgspec

from providers.contract import Capabilities, GenerationRequest, ImageData, VideoData, VideoTransport

# Fields a best-effort request may lose (with a warning); every other gap makes the offering ineligible.
DROPPABLE = frozenset(
    {
        "seed",
        "audio",
        "audio_prompt",
        "audio_negative_prompt",
        "music",
        "negative_prompt",
        "enhance_prompt",
        "watermark",
        "watermark_overlay",
        "content_credentials",
        "camera_fixed",
        "temporary_output",
    }
)


class Gap(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    reason: str

    @property
    def droppable(self) -> bool:
        return self.field in DROPPABLE


def capability_gaps(request: GenerationRequest, caps: Capabilities) -> list[Gap]:
    """Everything in `request` that `caps` cannot honour."""
    return [*_video_gaps(request, caps), *_shape_gaps(request, caps), *_option_gaps(request, caps)]


# Which offerings can take a source as it comes: a link goes anywhere (an upload or data offering's adapter fetches
# the bytes first), bytes cannot become a link the provider could fetch.
_TRANSPORTS_FOR: dict[str, frozenset[VideoTransport]] = {
    "url": frozenset({"url", "upload", "data"}),
    "data": frozenset({"upload", "data"}),
}


def _video_gaps(request: GenerationRequest, caps: Capabilities) -> list[Gap]:
    source = request.video_input
    if source is None:
        if caps.modes:
            return []
        return [Gap(field="mode", reason=f"takes only a source video ({', '.join(sorted(caps.video_operations))})")]
    if source.operation not in caps.video_operations:
        offered = ", ".join(sorted(caps.video_operations)) or "none"
        return [Gap(field="operation", reason=f"operation {source.operation} not offered (offers {offered})")]
    gaps: list[Gap] = []
    kind = "data" if isinstance(source.video, VideoData) else "url"
    if not _TRANSPORTS_FOR[kind] & caps.video_transports:
        taken = ", ".join(sorted(caps.video_transports))
        gaps.append(Gap(field="video", reason=f"a source video as {kind} not accepted (takes {taken})"))
    if caps.max_source_seconds is not None and source.source_seconds > caps.max_source_seconds:
        reason = f"a {source.source_seconds} s source exceeds the {caps.max_source_seconds} s allowed"
        gaps.append(Gap(field="video", reason=reason))
    limit = caps.max_source_bytes
    if limit is not None and isinstance(source.video, VideoData) and source.video.size_bytes > limit:
        gaps.append(Gap(field="video", reason=f"the source video exceeds {limit} bytes"))
    return gaps


def _shape_gaps(request: GenerationRequest, caps: Capabilities) -> list[Gap]:
    gaps: list[Gap] = []
    if request.video_input is None and caps.modes and request.mode not in caps.modes:
        gaps.append(Gap(field="mode", reason=f"mode {request.mode} not offered (offers {sorted(caps.modes)})"))
    if len(request.scenes) > caps.max_scenes:
        gaps.append(Gap(field="scenes", reason=f"{len(request.scenes)} scenes exceed the {caps.max_scenes} allowed"))
    gaps += _seconds_gaps(request, caps)
    if request.dimensions is not None and not _size_ok(request.dimensions.width, request.dimensions.height, caps):
        gaps.append(Gap(field="size", reason=f"size {request.dimensions} not offered"))
    for image in request.images:
        transport = "data_uri" if isinstance(image, ImageData) else "url"
        if transport not in caps.image_transports:
            gaps.append(Gap(field="image", reason=f"images as {transport} not accepted"))
            break
    limit = caps.max_image_bytes
    if limit is not None and any(isinstance(i, ImageData) and i.size_bytes > limit for i in request.images):
        gaps.append(Gap(field="image", reason=f"an image exceeds {limit} bytes"))
    return gaps


def _seconds_gaps(request: GenerationRequest, caps: Capabilities) -> list[Gap]:
    source = request.video_input
    if source is not None and source.operation != "extend":
        return []  # a remix or an edit keeps the source's length; `max_source_seconds` bounds it
    seconds = resolved_seconds(request, caps)
    if not caps.seconds_control:
        if request.seconds not in (None, caps.default_seconds) or any(s.seconds is not None for s in request.scenes):
            return [Gap(field="seconds", reason=f"the provider picks the length ({caps.default_seconds} s typical)")]
        return []
    per_scene = caps.seconds_per_scene
    if per_scene is not None:
        expected = per_scene * len(request.scenes)
        wrong_scene = any(s.seconds not in (None, per_scene) for s in request.scenes)
        if seconds != expected or wrong_scene:
            reason = f"{seconds} s not offered (scenes are {per_scene} s each: {expected} s for this request)"
            return [Gap(field="seconds", reason=reason)]
        return []
    if seconds is None:
        return [Gap(field="seconds", reason="no default length: give `seconds`")]
    if caps.seconds and seconds not in caps.seconds:
        return [Gap(field="seconds", reason=f"{seconds} s not offered (offers {sorted(caps.seconds)})")]
    return []


def _option_gaps(request: GenerationRequest, caps: Capabilities) -> list[Gap]:
    audio = request.audio
    wanted = {
        "seed": (request.seed is not None, caps.seed),
        "audio": (audio is not None and audio.enabled, caps.audio),
        "audio_prompt": (audio is not None and audio.enabled and bool(audio.prompt), caps.audio_prompt),
        "audio_negative_prompt": (
            audio is not None and audio.enabled and bool(audio.negative_prompt),
            caps.audio_negative_prompt,
        ),
        "music": (request.music is not None and request.music.enabled, caps.music),
        "negative_prompt": (any(s.negative_terms for s in request.scenes), caps.negative_prompt),
        "enhance_prompt": (request.enhance_prompt, caps.enhance_prompt),
        "watermark": (request.watermark is not None, caps.watermark_control),
        "watermark_overlay": (request.watermark_overlay is not None, caps.watermark_overlay),
        "content_credentials": (request.content_credentials is not None, caps.content_credentials),
        "upscale": (request.upscale, caps.upscale),
        "temporary_output": (request.temporary_output, caps.temporary_output),
        "camera_fixed": (request.camera_fixed is not None, caps.camera_fixed),
    }
    gaps = [
        Gap(field=f, reason=f"{f} not supported") for f, (asked, offered) in wanted.items() if asked and not offered
    ]
    if request.results > caps.max_results:
        gaps.append(Gap(field="n", reason=f"{request.results} results per call exceed the {caps.max_results} offered"))
    return gaps


def _size_ok(width: int, height: int, caps: Capabilities) -> bool:
    if f"{width}x{height}" in caps.sizes:
        return True
    if caps.size_range is None:
        return False
    low, high = caps.size_range
    in_range = all(low <= side <= high for side in (width, height))
    return in_range and width % caps.size_multiple == 0 and height % caps.size_multiple == 0


def resolved_seconds(request: GenerationRequest, caps: Capabilities) -> int | None:
    """The clip length the offering will produce for this request (what is billed)."""
    if caps.seconds_per_scene is not None and request.seconds is None:
        return caps.seconds_per_scene * len(request.scenes)
    return request.seconds if request.seconds is not None else caps.default_seconds


def without(request: GenerationRequest, gaps: list[Gap]) -> GenerationRequest:
    """The request minus the droppable fields named in `gaps` (best-effort mode)."""
    fields = {g.field for g in gaps}
    changes: dict[str, object] = {}
    if "seed" in fields:
        changes["seed"] = None
    if "audio" in fields:
        changes["audio"] = None
    elif request.audio is not None and fields & {"audio_prompt", "audio_negative_prompt"}:
        changes["audio"] = msgspec.structs.replace(
            request.audio,
            prompt=None if "audio_prompt" in fields else request.audio.prompt,
            negative_prompt=None if "audio_negative_prompt" in fields else request.audio.negative_prompt,
        )
    if "music" in fields:
        changes["music"] = None
    if "enhance_prompt" in fields:
        changes["enhance_prompt"] = False
    if "watermark" in fields:
        changes["watermark"] = None
    for name in ("watermark_overlay", "content_credentials", "camera_fixed"):
        if name in fields:
            changes[name] = None
    if "temporary_output" in fields:
        changes["temporary_output"] = False
    if "negative_prompt" in fields:
        changes["scenes"] = tuple(msgspec.structs.replace(s, negative_terms=()) for s in request.scenes)
    return msgspec.structs.replace(request, **changes)


def typical_seconds(caps: Capabilities) -> int:
    """The length of a request that names none: the default, else one scene, else the shortest offered."""
    if caps.default_seconds is not None:
        return caps.default_seconds
    if caps.seconds_per_scene is not None:
        return caps.seconds_per_scene
    return min(caps.seconds) if caps.seconds else 0

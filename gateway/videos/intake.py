"""From the client's create body to what routing and adapters consume: validated, images decoded and
measured, `-term` negatives split out. Everything a client can get wrong is a 4xx here, before any spend."""

from __future__ import annotations

import binascii
import hashlib
import re

import msgspec

from gateway.config import LimitsSettings
from gateway.errors import InvalidRequest, PayloadTooLarge
from gateway.schema.job import ImageRef, JobWebhook, SourceRef
from gateway.schema.wire import CreateVideoBody, ImageBody, RoutingBody, SceneBody, WatermarkOverlayBody
from providers.contract import (
    Audio,
    ContentCredentials,
    Dimensions,
    GenerationRequest,
    Image,
    ImageData,
    ImageUrl,
    Music,
    Scene,
    WatermarkOverlay,
)
from providers.prompts import split_negative_terms
from routing.catalogue import usd_to_micros
from routing.router import RouteQuery

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
_DATA_URI = re.compile(r"^data:(?P<mime>[a-z]+/[a-z0-9.+-]+);base64,", re.IGNORECASE)
_SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080, "2160p": 2160}
# Exact pixel sizes per tier and aspect; long sides are the sizes providers document (multiples of 8).
_LONG_SIDE = {
    ("480p", "16:9"): 832,
    ("720p", "16:9"): 1280,
    ("1080p", "16:9"): 1920,
    ("480p", "4:3"): 640,
    ("720p", "4:3"): 960,
    ("1080p", "4:3"): 1440,
    ("480p", "3:2"): 720,
    ("720p", "3:2"): 1080,
    ("1080p", "3:2"): 1620,
    ("2160p", "16:9"): 3840,  # 4K (videogenapi `resolution: "4K"`, seed 002)
    ("2160p", "4:3"): 2880,
    ("2160p", "3:2"): 3240,
}


class Intake(msgspec.Struct, frozen=True, kw_only=True):
    query: RouteQuery
    images: tuple[ImageRef, ...]
    prompt: str
    # Set by the create route once the URL and the team's signing secret are checked (gateway/webhooks/targets.py).
    webhook: JobWebhook | None = None
    # `routing.max_attempts`: providers this request may be sent to in all; None means `[failover] max_attempts`.
    max_attempts: int | None = None
    # A video-to-video request's source, recorded on the job (gateway/videos/sources.py).
    source: SourceRef | None = None


def normalize(
    body: CreateVideoBody,
    *,
    limits: LimitsSettings,
    default_model: str | None,
    upload: ImageData | None = None,
) -> Intake:
    model = body.model or default_model
    if model is None:
        raise InvalidRequest("`model` is required", code="missing_field", param="model")
    if len(body.metadata) > limits.max_metadata_entries:
        raise InvalidRequest(
            f"metadata has more than {limits.max_metadata_entries} entries",
            code="invalid_value",
            param="metadata",
        )
    refs: list[ImageRef] = []
    scenes = _scenes(body, limits, refs, upload)
    references = tuple(
        _image(img, f"reference_images[{i}]", limits, refs) for i, img in enumerate(body.reference_images)
    )
    request = GenerationRequest(
        upstream_model="",
        scenes=scenes,
        multi_scene=len(scenes) > 1,
        seconds=_seconds(body.seconds),
        dimensions=_dimensions(body),
        reference_images=references,
        seed=body.seed,
        audio=None if body.audio is None else Audio(**msgspec.structs.asdict(body.audio)),
        music=None if body.music is None else Music(**msgspec.structs.asdict(body.music)),
        enhance_prompt=body.enhance_prompt,
        watermark=body.watermark,
        watermark_overlay=_watermark_overlay(body.watermark_overlay, limits, refs),
        content_credentials=None
        if body.content_credentials is None
        else ContentCredentials(**msgspec.structs.asdict(body.content_credentials)),
        upscale=body.upscale,
        results=body.n,
        temporary_output=body.temporary_output,
        camera_fixed=body.camera_fixed,
    )
    query = route_query(model, request, body.routing, best_effort=body.best_effort)
    prompt = body.prompt if body.prompt is not None else " | ".join(s.prompt for s in body.scenes or [])
    max_attempts = body.routing.max_attempts if body.routing else None
    return Intake(query=query, images=tuple(refs), prompt=prompt, max_attempts=max_attempts)


def route_query(
    model: str, request: GenerationRequest, routing: RoutingBody | None, *, best_effort: bool = False
) -> RouteQuery:
    """What the router is asked: the request and the body's `routing` preferences."""
    return RouteQuery(
        model=model,
        request=request,
        best_effort=best_effort,
        allow_providers=tuple(routing.providers) if routing else (),
        exclude_providers=tuple(routing.exclude) if routing else (),
        max_cost_micros=usd_to_micros(routing.max_cost_usd) if routing and routing.max_cost_usd else None,
        strategy=routing.strategy if routing else None,
        allow_fallbacks=routing.allow_fallbacks if routing else True,
    )


def _watermark_overlay(
    body: WatermarkOverlayBody | None, limits: LimitsSettings, refs: list[ImageRef]
) -> WatermarkOverlay | None:
    if body is None:
        return None
    fields = msgspec.structs.asdict(body)
    uri = fields.pop("image_data_uri")
    param = "watermark_overlay.image_data_uri"
    image = None if uri is None else decode_data_uri(uri, param=param, max_bytes=limits.max_image_bytes)
    if image is not None:
        refs.append(ImageRef(role=param, digest=image.digest, size_bytes=image.size_bytes, mime_type=image.mime_type))
    return WatermarkOverlay(image=image, **fields)


def _scenes(
    body: CreateVideoBody, limits: LimitsSettings, refs: list[ImageRef], upload: ImageData | None
) -> tuple[Scene, ...]:
    if body.scenes is not None:
        if body.prompt is not None:
            raise InvalidRequest(
                "give either `prompt` or `scenes`, not both", code="conflicting_fields", param="scenes"
            )
        if body.image is not None or body.end_image is not None or upload is not None:
            raise InvalidRequest("with `scenes`, put frames on each scene", code="conflicting_fields", param="image")
        scenes = tuple(_scene(s, f"scenes[{i}]", limits, refs) for i, s in enumerate(body.scenes))
        shared = (body.negative_prompt or "").strip()
        # A top-level negative prompt applies to every scene, after each scene's own negatives.
        return (
            tuple(msgspec.structs.replace(s, negative_terms=(*s.negative_terms, shared)) for s in scenes)
            if shared
            else scenes
        )
    if body.prompt is None:
        raise InvalidRequest("`prompt` or `scenes` is required", code="missing_field", param="prompt")
    if upload is not None and body.image is not None:
        raise InvalidRequest("give the start frame once", code="conflicting_fields", param="image")
    single = SceneBody(
        prompt=body.prompt, negative_prompt=body.negative_prompt, image=body.image, end_image=body.end_image
    )
    scene = _scene(single, "", limits, refs)
    if upload is not None:
        refs.append(
            ImageRef(role="image", digest=upload.digest, size_bytes=upload.size_bytes, mime_type=upload.mime_type)
        )
        scene = msgspec.structs.replace(scene, image=upload)
    if scene.end_image is not None and scene.image is None:
        raise InvalidRequest("`end_image` needs `image` (the first frame)", code="missing_field", param="image")
    return (scene,)


def _scene(body: SceneBody, where: str, limits: LimitsSettings, refs: list[ImageRef]) -> Scene:
    prefix = f"{where}." if where else ""
    positive, negatives = split_negative_terms(body.prompt)
    if not positive:
        raise InvalidRequest("the prompt has no positive text", code="invalid_value", param=f"{prefix}prompt")
    if body.negative_prompt and body.negative_prompt.strip():
        negatives = (*negatives, body.negative_prompt.strip())
    if body.end_image is not None and body.image is None:
        raise InvalidRequest("`end_image` needs `image`", code="missing_field", param=f"{prefix}image")
    return Scene(
        prompt=positive,
        negative_terms=negatives,
        image=None if body.image is None else _image(body.image, f"{prefix}image", limits, refs),
        end_image=None if body.end_image is None else _image(body.end_image, f"{prefix}end_image", limits, refs),
        seconds=body.seconds,
    )


def _image(body: ImageBody, param: str, limits: LimitsSettings, refs: list[ImageRef]) -> Image:
    if (body.url is None) == (body.data_uri is None):
        raise InvalidRequest("an image needs exactly one of `url` or `data_uri`", code="invalid_value", param=param)
    if body.url is not None:
        if not body.url.startswith(("https://", "http://")):
            raise InvalidRequest("image url must be http(s)", code="invalid_value", param=f"{param}.url")
        refs.append(ImageRef(role=param, url=body.url))
        return ImageUrl(url=body.url)
    image = decode_data_uri(body.data_uri or "", param=f"{param}.data_uri", max_bytes=limits.max_image_bytes)
    refs.append(ImageRef(role=param, digest=image.digest, size_bytes=image.size_bytes, mime_type=image.mime_type))
    return image


def decode_data_uri(uri: str, *, param: str, max_bytes: int) -> ImageData:
    match = _DATA_URI.match(uri)
    if match is None:
        raise InvalidRequest("expected `data:<image type>;base64,<data>`", code="invalid_value", param=param)
    mime = match.group("mime").lower()
    payload = uri[match.end() :]
    # Checked before decoding so an oversized upload costs no memory; `=` padding carries no bytes.
    if len(payload.rstrip("=")) * 3 // 4 > max_bytes:
        raise PayloadTooLarge(f"image exceeds {max_bytes} bytes", param=param)
    try:
        data = binascii.a2b_base64(payload, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidRequest(f"image is not valid base64: {exc}", code="invalid_value", param=param) from exc
    return image_data(data, mime, param=param, max_bytes=max_bytes)


def sniff_image_type(data: bytes) -> str | None:
    """The image type its first bytes say, for uploads sent as application/octet-stream (bare bytes)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def image_data(data: bytes, mime: str, *, param: str, max_bytes: int) -> ImageData:
    if mime in ("", "application/octet-stream"):
        mime = sniff_image_type(data) or mime
    if mime not in IMAGE_TYPES:
        raise InvalidRequest(
            f"image type {mime} not accepted ({', '.join(sorted(IMAGE_TYPES))})",
            code="invalid_value",
            param=param,
        )
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"image exceeds {max_bytes} bytes", param=param)
    if not data:
        raise InvalidRequest("image is empty", code="invalid_value", param=param)
    return ImageData(mime_type=mime, data=data, digest=hashlib.sha256(data).hexdigest())


def _seconds(value: int | str | None) -> int | None:
    return None if value is None else int(value)


def _dimensions(body: CreateVideoBody) -> Dimensions | None:
    if body.size is not None:
        if body.resolution is not None or body.aspect_ratio is not None:
            raise InvalidRequest(
                "give `size` or `resolution`/`aspect_ratio`, not both",
                code="conflicting_fields",
                param="size",
            )
        width, _, height = body.size.partition("x")
        return Dimensions(width=int(width), height=int(height))
    if body.resolution is None and body.aspect_ratio is None:
        return None
    tier = body.resolution or "720p"
    aspect = body.aspect_ratio or "16:9"
    short = _SHORT_SIDE[tier]
    if aspect == "1:1":
        return Dimensions(width=short, height=short)
    landscape = aspect if aspect in {"16:9", "4:3", "3:2"} else ":".join(reversed(aspect.split(":")))
    long = _LONG_SIDE[(tier, landscape)]
    if landscape == aspect:
        return Dimensions(width=long, height=short)
    return Dimensions(width=short, height=long)

"""The Veo emulator's job logic (docs/providers.md §Veo): the model table, request validation against what each
API documents, Google's error bodies and the operation replies. Pure: no HTTP, no clock reads, no randomness."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

import msgspec

from sandbox.clock import JobTimeline
from sandbox.faults import Outcome

Api = Literal["gemini", "vertex"]
ASPECT_RATIOS = ("16:9", "9:16")  # both APIs' `aspectRatio`; "16:9" is the default
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
MAX_REFERENCE_IMAGES = 3
# Parameters each API documents (Gemini: ai.google.dev/gemini-api/docs/video "Veo model parameters"; Vertex:
# the model reference). Anything else is refused the way the Gemini API refuses an unsupported one [inference:
# the wording of that message].
GEMINI_PARAMETERS = frozenset(
    {"aspectRatio", "negativePrompt", "personGeneration", "durationSeconds", "resolution", "sampleCount"}
)
VERTEX_PARAMETERS = GEMINI_PARAMETERS | {
    "seed",
    "generateAudio",
    "storageUri",
    "enhancePrompt",
    "compressionQuality",
    "resizeMode",
}
# google.rpc.Code names by HTTP status (cloud.google.com/apis/design/errors "Error codes").
CANONICAL: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
RPC_NUMBERS = {"CANCELLED": 1, "DEADLINE_EXCEEDED": 4, "INTERNAL": 13}
# [inference] the wording of a filtered video's reason; the docs name the fields, not their texts.
RAI_REASON = "Sorry, we can't create videos from prompts like this. Try rephrasing the prompt. Support codes: 17301594"


class ModelSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One Veo model as the Gemini docs' model table lists it."""

    durations: frozenset[int]
    resolutions: frozenset[str] = frozenset({"720p"})
    audio: bool = True
    resolution_parameter: bool = True  # Veo 2 takes no `resolution` (720p only)
    last_frame: bool = False
    references: bool = False
    hd_needs_8s: bool = False  # Veo 3.1: "1080p" only with 8 s
    hd_needs_landscape: bool = False  # Veo 3: "1080p" only with 16:9


_HD = frozenset({"720p", "1080p"})


def default_models() -> dict[str, ModelSpec]:
    """The Veo models the docs list for predictLongRunning, with their durations and resolutions."""
    veo31 = ModelSpec(
        durations=frozenset({4, 6, 8}), resolutions=_HD, last_frame=True, references=True, hd_needs_8s=True
    )
    veo3 = ModelSpec(durations=frozenset({4, 6, 8}), resolutions=_HD, hd_needs_landscape=True)
    return {
        "veo-3.1-generate-preview": veo31,
        "veo-3.1-fast-generate-preview": msgspec.structs.replace(veo31, references=False),
        "veo-3.0-generate-001": veo3,
        "veo-3.0-fast-generate-001": veo3,
        "veo-2.0-generate-001": ModelSpec(
            durations=frozenset({5, 6, 7, 8}), audio=False, resolution_parameter=False, last_frame=True
        ),
    }


# ------------------------------------------------------------------------------------------- errors


class RpcError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: int
    message: str
    status: str | None = None
    details: list[dict[str, object]] = []


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    error: RpcError


class VendorError(Exception):
    """Google's error reply, raised anywhere in a handler and rendered by the app."""

    def __init__(self, status_code: int, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        status = CANONICAL.get(status_code)
        self.body = ErrorBody(error=RpcError(code=status_code, message=message, status=status, details=details or []))


def invalid(message: str) -> VendorError:
    return VendorError(400, message)


def key_invalid() -> VendorError:
    """An unknown Gemini key: a 400 whose ErrorInfo says API_KEY_INVALID (not a 401)."""
    info: dict[str, object] = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    return VendorError(400, "API key not valid. Please pass a valid API key.", [info])


def quota_exceeded(retry_s: int, quota_id: str) -> VendorError:
    """429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo details, as the Gemini API sends it."""
    failure: dict[str, object] = {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model", "quotaId": quota_id}
        ],
    }
    retry: dict[str, object] = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_s}s"}
    message = "You exceeded your current quota, please check your plan and billing details."
    return VendorError(429, message, [failure, retry])


# ------------------------------------------------------------------------------------------- requests


class MediaBody(msgspec.Struct, kw_only=True, rename="camel"):
    bytes_base64_encoded: str | None = None
    gcs_uri: str | None = None
    mime_type: str | None = None


class ReferenceBody(msgspec.Struct, kw_only=True, rename="camel"):
    image: MediaBody
    reference_type: str = "asset"


class InstanceBody(msgspec.Struct, kw_only=True, rename="camel"):
    prompt: str | None = None
    image: MediaBody | None = None
    last_frame: MediaBody | None = None
    reference_images: list[ReferenceBody] | None = None


class ParametersBody(msgspec.Struct, kw_only=True, rename="camel"):
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    duration_seconds: int | None = None
    resolution: str | None = None
    sample_count: int | None = None
    generate_audio: bool | None = None
    seed: int | None = None
    storage_uri: str | None = None


class PredictBody(msgspec.Struct, kw_only=True):
    instances: list[InstanceBody] = []
    parameters: dict[str, object] = {}


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """A validated generate request after the defaults."""

    model: str
    prompt: str
    duration_s: int
    resolution: str
    aspect_ratio: str
    storage_uri: str | None


def decode_predict(raw: bytes) -> tuple[InstanceBody, ParametersBody, set[str]]:
    try:
        body = msgspec.json.decode(raw, type=PredictBody)
        parameters = msgspec.convert(body.parameters, ParametersBody)
    except msgspec.ValidationError as exc:
        raise invalid(f"Invalid value in the request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise invalid("Invalid JSON payload received.") from exc
    if len(body.instances) != 1:
        raise invalid("Exactly one instance is supported.")
    return body.instances[0], parameters, set(body.parameters)


def _check_media(media: MediaBody, field: str, api: Api) -> None:
    if media.gcs_uri is not None and api == "gemini":
        raise invalid(f"`{field}.gcsUri` isn't supported by the Gemini API. Send bytesBase64Encoded.")
    if media.gcs_uri is None and media.bytes_base64_encoded is None:
        raise invalid(f"`{field}` needs bytesBase64Encoded or gcsUri.")
    if media.mime_type not in IMAGE_TYPES:
        raise invalid(f"`{field}.mimeType` must be one of {', '.join(sorted(IMAGE_TYPES))}.")
    if media.bytes_base64_encoded is not None:
        try:
            base64.b64decode(media.bytes_base64_encoded, validate=True)
        except binascii.Error as exc:
            raise invalid(f"`{field}.bytesBase64Encoded` is not valid base64.") from exc


def _check_instance(instance: InstanceBody, spec: ModelSpec, api: Api) -> str:
    if instance.prompt is None or not instance.prompt.strip():
        raise invalid("A prompt is required.")
    if instance.image is not None:
        _check_media(instance.image, "image", api)
    if instance.last_frame is not None:
        if not spec.last_frame or instance.image is None:
            raise invalid("`lastFrame` isn't supported by this model or needs `image`.")
        _check_media(instance.last_frame, "lastFrame", api)
    refs = instance.reference_images or []
    if refs and (not spec.references or instance.image is not None or len(refs) > MAX_REFERENCE_IMAGES):
        raise invalid(f"`referenceImages` takes up to {MAX_REFERENCE_IMAGES} images, without `image`, on Veo 3.1.")
    for index, ref in enumerate(refs):
        _check_media(ref.image, f"referenceImages[{index}].image", api)
    return instance.prompt


def _check_parameters(
    model: str, prompt: str, spec: ModelSpec, params: ParametersBody, names: set[str], api: Api
) -> Settings:
    allowed = GEMINI_PARAMETERS if api == "gemini" else VERTEX_PARAMETERS
    if unknown := sorted(names - allowed):
        raise invalid(f"`{unknown[0]}` isn't supported by this model. Please remove it or refer to the documentation.")
    if "resolution" in names and not spec.resolution_parameter:
        raise invalid("`resolution` isn't supported by this model.")
    if api == "vertex" and spec.audio and params.generate_audio is None:
        raise invalid("generateAudio is required for this model.")
    if params.generate_audio and not spec.audio:
        raise invalid("generateAudio isn't supported by this model.")
    duration = params.duration_seconds if params.duration_seconds is not None else max(spec.durations)
    if duration not in spec.durations:
        raise invalid(f"durationSeconds must be one of {sorted(spec.durations)} for {model}.")
    aspect = params.aspect_ratio or "16:9"
    if aspect not in ASPECT_RATIOS:
        raise invalid(f"aspectRatio must be one of {', '.join(ASPECT_RATIOS)}.")
    resolution = params.resolution or "720p"
    if resolution not in spec.resolutions:
        raise invalid(f"resolution must be one of {', '.join(sorted(spec.resolutions))} for {model}.")
    if resolution == "1080p" and (
        (spec.hd_needs_8s and duration != 8) or (spec.hd_needs_landscape and aspect != "16:9")
    ):
        raise invalid(f"1080p is not available with {duration}s at {aspect} for {model}.")
    if params.sample_count not in (None, 1):
        raise invalid("sampleCount must be 1 in this sandbox.")  # [inference] the docs allow 1-4 (Veo 2: 1-2)
    return Settings(
        model=model,
        prompt=prompt,
        duration_s=duration,
        resolution=resolution,
        aspect_ratio=aspect,
        storage_uri=params.storage_uri,
    )


def resolve_settings(model: str, raw: bytes, models: dict[str, ModelSpec], api: Api) -> Settings:
    spec = models.get(model)
    if spec is None:
        raise VendorError(404, f"models/{model} is not found, or is not supported for predictLongRunning.")
    instance, params, names = decode_predict(raw)
    prompt = _check_instance(instance, spec, api)
    if api == "vertex" and not (params.storage_uri or "").startswith("gs://"):
        # [inference] without storageUri Vertex returns the bytes inline; this emulator serves objects only
        raise invalid("storageUri (gs://bucket/prefix) is required in this sandbox.")
    return _check_parameters(model, prompt, spec, params, names, api)


# ------------------------------------------------------------------------------------------- jobs


class Job(msgspec.Struct, kw_only=True):
    name: str
    file_id: str
    key: str
    api: Api
    created_at: float
    settings: Settings
    outcome: Outcome | None


def operation_reply(job: Job, timeline: JobTimeline, now: float, asset: str) -> dict[str, object]:
    """The operation at `now`: `{"name"}` while running, then `done` with `error` or `response`."""
    if job.outcome is Outcome.STUCK or timeline.at(now).phase != "done":
        return {"name": job.name}
    match job.outcome:
        case Outcome.FAILED | Outcome.TIMED_OUT | Outcome.CANCELLED:
            status = {Outcome.FAILED: "INTERNAL", Outcome.TIMED_OUT: "DEADLINE_EXCEEDED"}.get(job.outcome, "CANCELLED")
            error = {"code": RPC_NUMBERS[status], "message": f"Video generation failed: {status.lower()}."}
            return {"name": job.name, "done": True, "error": error}
        case Outcome.BLOCKED | Outcome.UNSAFE:
            filtered: dict[str, object] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [RAI_REASON]}
            return {"name": job.name, "done": True, "response": _wrap(job, filtered)}
        case _:
            return {"name": job.name, "done": True, "response": _wrap(job, _videos(job, asset))}


def _videos(job: Job, asset: str) -> dict[str, object]:
    if job.api == "vertex":
        return {"raiMediaFilteredCount": 0, "videos": [{"gcsUri": asset, "mimeType": "video/mp4"}]}
    return {"generatedSamples": [{"video": {"uri": asset}}]}


def _wrap(job: Job, result: dict[str, object]) -> dict[str, object]:
    """Gemini nests the result in `generateVideoResponse` under its own @type; Vertex puts it at the top."""
    if job.api == "vertex":
        return {"@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse", **result}
    response_type = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
    return {"@type": response_type, "generateVideoResponse": result}

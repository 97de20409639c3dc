"""Google Veo's wire (docs/providers.md §Veo): the Gemini API and Vertex AI long-running `predictLongRunning`
operations, their fixed facts and their JSON shapes as msgspec structs. Vendor structs tolerate unknown fields;
nothing here does I/O or translation."""

from __future__ import annotations

from typing import Literal

import msgspec

from providers.contract import ImageTransport

SLUG = "veo"
Api = Literal["gemini", "vertex"]

# Gemini API (ai.google.dev/gemini-api/docs/video, REST tab): POST {base}/v1beta/models/{model}:predictLongRunning
# with `x-goog-api-key`; the reply is an operation `{"name": "models/{model}/operations/{id}"}`, polled with
# GET {base}/v1beta/{name}.
GEMINI_VERSION = "/v1beta"
GEMINI_OPERATION = r"models/[A-Za-z0-9._-]+/operations/[A-Za-z0-9_-]+"
# Vertex AI (cloud.google.com/vertex-ai/generative-ai/docs/model-reference/veo-video-generation):
# POST {region}-aiplatform.googleapis.com/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning
# with an OAuth bearer token; polled with POST ...models/{m}:fetchPredictOperation {"operationName": name}.
VERTEX_VERSION = "/v1"
VERTEX_OPERATION = (
    r"projects/[A-Za-z0-9._-]+/locations/[a-z0-9-]+/publishers/google/models/[A-Za-z0-9._-]+/operations/[A-Za-z0-9_-]+"
)
# A Vertex result names a Cloud Storage object (`gcsUri`, when `storageUri` was set); the JSON API's media
# download (cloud.google.com/storage/docs/json_api/v1/objects/get, `alt=media`) takes the same bearer token.
GCS_DEFAULT_URL = "https://storage.googleapis.com"
GCS_DOWNLOAD = "/storage/v1/b/{bucket}/o/{object}"

# Images travel inline (`bytesBase64Encoded` + `mimeType`): the Gemini API takes no `gcsUri` and fetches no URL.
IMAGE_TRANSPORTS: frozenset[ImageTransport] = frozenset({"data_uri"})
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # [inference] Vertex's documented 20 MB request image limit
MAX_REFERENCE_IMAGES = 3  # "up to three asset images" (Vertex reference; Gemini Veo 3.1 likewise)

# The aspect ratios and resolutions the docs list: "16:9" (default) and "9:16"; "720p" (default) and "1080p".
SIZES: dict[str, tuple[str, str]] = {
    "1280x720": ("720p", "16:9"),
    "720x1280": ("720p", "9:16"),
    "1920x1080": ("1080p", "16:9"),
    "1080x1920": ("1080p", "9:16"),
}
# Veo 2 has no `resolution` parameter (720p only) and no audio; Veo 3 models always generate audio through the
# Gemini API, which has no `generateAudio` parameter (Vertex does, and requires it for Veo 3).
SILENT_MODELS = frozenset({"veo-2.0-generate-001"})
# Models documented with first/last frame (`lastFrame`) and reference images: Veo 3.1 and Veo 2 (lastFrame).
LAST_FRAME_MODELS = frozenset(
    {"veo-3.1-generate-preview", "veo-3.1-fast-generate-preview", "veo-3.1-generate-001", "veo-2.0-generate-001"}
)
REFERENCE_MODELS = frozenset({"veo-3.1-generate-preview", "veo-3.1-generate-001"})

# google.rpc.Code numbers (an operation's `error.code` is the gRPC code, not the HTTP status).
RPC_CODES: dict[int, str] = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    16: "UNAUTHENTICATED",
}


class VeoOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The `[providers.veo.options]` table: which API the adapter speaks. Vertex needs the project and region of
    its URL and a Cloud Storage prefix for results (without one Vertex returns the video inline in the poll)."""

    api: Api = "gemini"
    project: str | None = None
    location: str | None = None
    storage_uri: str | None = None
    storage_url: str = GCS_DEFAULT_URL

    def __post_init__(self) -> None:
        if self.api == "vertex" and not (self.project and self.location and self.storage_uri):
            raise ValueError("api = 'vertex' needs project, location and storage_uri (gs://bucket/prefix)")
        if self.storage_uri is not None and not self.storage_uri.startswith("gs://"):
            raise ValueError("storage_uri must be a gs:// URI")


# ------------------------------------------------------------------------------------------- request bodies


class Media(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """An image as both APIs take it inline (`bytesBase64Encoded` + `mimeType`)."""

    bytes_base64_encoded: str
    mime_type: str


class ReferenceImage(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    image: Media
    reference_type: str = "asset"


class Instance(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    prompt: str
    image: Media | None = None
    last_frame: Media | None = None
    reference_images: list[ReferenceImage] | None = None


class Parameters(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    aspect_ratio: str | None = None
    resolution: str | None = None
    duration_seconds: int | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    generate_audio: bool | None = None
    storage_uri: str | None = None


class PredictBody(msgspec.Struct, frozen=True, kw_only=True):
    instances: list[Instance]
    parameters: Parameters


# --------------------------------------------------------------------------------------------- replies


class RpcStatus(msgspec.Struct):
    """google.rpc.Status: an operation's `error`, or the `error` of an HTTP error body (there `code` is HTTP)."""

    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[dict[str, object]] = []


class ErrorReply(msgspec.Struct):
    error: RpcStatus | None = None


class GeminiVideo(msgspec.Struct):
    uri: str | None = None


class GeminiSample(msgspec.Struct):
    video: GeminiVideo | None = None


class GenerateVideoResponse(msgspec.Struct, rename="camel"):
    """Gemini: `response.generateVideoResponse` - samples, or the RAI filter's count and reasons."""

    generated_samples: list[GeminiSample] = []
    rai_media_filtered_count: int | None = None
    rai_media_filtered_reasons: list[str] = []


class VertexVideo(msgspec.Struct, rename="camel"):
    gcs_uri: str | None = None
    bytes_base64_encoded: str | None = None
    mime_type: str | None = None


class OperationResponse(msgspec.Struct, rename="camel"):
    """Gemini nests its result in `generateVideoResponse`; Vertex puts `videos` and the RAI fields at the top."""

    generate_video_response: GenerateVideoResponse | None = None
    videos: list[VertexVideo] | None = None
    rai_media_filtered_count: int | None = None
    rai_media_filtered_reasons: list[str] = []


class Operation(msgspec.Struct):
    """google.longrunning.Operation: `done` is absent (false) until it finishes with `response` or `error`."""

    name: str | None = None
    done: bool = False
    response: OperationResponse | None = None
    error: RpcStatus | None = None

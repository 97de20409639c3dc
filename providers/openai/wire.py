"""The OpenAI video API's wire (docs/providers.md §11): its paths and JSON shapes as msgspec structs, shared by
every service that speaks it (OpenAI, Azure OpenAI's v1 API, another video-gateway). Vendor structs tolerate
unknown fields; nothing here does I/O or translation."""

from __future__ import annotations

import msgspec

SLUG = "openai"  # the adapter kind; each configured instance reports its own slug
VIDEOS_PATH = "/videos"  # POST create, GET /{id} retrieve, DELETE /{id}, GET /{id}/content (API reference)
CONTENT_SUFFIX = "/content"  # ?variant=video|thumbnail|spritesheet
DEFAULT_KEY_HEADER = "Authorization"  # `Authorization: Bearer <key>`; any other header carries the bare key
# OpenAI's own `seconds` ("4", "8", "12") and `size` values are the catalogue's capabilities, not checked here: other
# services speaking this API (another gateway) take other values.
REFERENCE_FILENAME = "input_reference"  # the multipart file part's name


class VideoError(msgspec.Struct):
    """A failed video's `error` (`VideoCreateError`: `code`, `message`; `param`, `type` optional)."""

    code: str | None = None
    message: str | None = None
    param: str | None = None
    type: str | None = None


class Video(msgspec.Struct):
    """The video object every create, retrieve and delete returns. `cancelled` is not OpenAI's: another
    video-gateway answers it for a job it cancelled (its Video is a superset of OpenAI's)."""

    id: str | None = None
    object: str | None = None
    model: str | None = None
    status: str | None = None
    progress: int | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    seconds: str | int | None = None
    size: str | None = None
    error: VideoError | None = None


class ApiError(msgspec.Struct):
    """The error envelope's body: `{"error": {"message", "type", "param", "code"}}`."""

    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(msgspec.Struct):
    error: ApiError | None = None

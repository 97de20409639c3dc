"""VideoGen's wire (seed 001, providers.md §2): its fixed facts and its JSON shapes as msgspec structs.
Vendor structs tolerate unknown fields because vendors add fields; nothing here does I/O or translation."""

from __future__ import annotations

from typing import Annotated

import msgspec

from providers.contract import ImageTransport

SLUG = "videogen"
UPSTREAM_MODEL = "auto"  # VideoGen has no model field and picks the model itself (providers.md §2.3)
GENERATE_PATH = "/v1/tools/generate-video-clip"  # seed 001; 202 {"toolExecutionId"}
EXECUTIONS_PATH = "/v1/tools/executions"  # /{id} to poll, /{id}/cancel to cancel (providers.md §2.2)
UPLOAD_PATH = "/v1/files/upload"  # providers.md §2.11 step 1
FILES_PATH = "/v1/files"  # /{fileId}: poll until a rendition is ready (§2.11 step 3)
IMAGE_TRANSPORTS: frozenset[ImageTransport] = frozenset({"data_uri"})  # uploads only, never URLs (§5)
DURATION_RANGE_S = (1, 30)  # `durationSeconds` 1-30, omitted = auto (providers.md §2.3, MCP contract)
NUM_RESULTS_RANGE = (1, 100)  # seed 001 `numResults`: "1-100, Defaults to 1"
# The vendor's MCP caps prompt-to-clip at 4 reference images (providers.md §2.3); the API states no cap.
MAX_REFERENCE_IMAGES = 4
WATERMARK_MODES = {True: "VIDEO_GEN", False: "NONE"}  # None -> omitted -> AUTO (seed 001 `watermarkMode`)


_Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class Requirement(msgspec.Struct):
    """What would fix the error, e.g. `purchase_add_on` (videogen-python-sdk ApiErrorRequirement)."""

    type: str | None = None
    details: dict[str, str] | None = None


class ApiError(msgspec.Struct):
    """HTTP error body (providers.md §2.5); also the `error` of a failed execution (§2.4)."""

    message: str | None = None
    code: str | None = None
    requirement: Requirement | None = None


class StartReply(msgspec.Struct, rename="camel"):
    tool_execution_id: str | None = None


class FileSource(msgspec.Struct, rename="camel"):
    status: str | None = None
    url: str | None = None
    expires_at: float | None = None


class FileInfo(msgspec.Struct, rename="camel"):
    """`GET /v1/files/{id}` and `results[].file` (providers.md §2.4); `scope` is an open string."""

    file_id: str | None = None
    type: str | None = None
    scope: str | None = None
    download_url: str | None = None
    download_url_expires_at: float | None = None
    thumbnail_url: str | None = None
    download_source: FileSource | None = None
    preview_source: FileSource | None = None


class ToolResult(msgspec.Struct, rename="camel"):
    file_id: str | None = None
    type: str | None = None
    download_url: str | None = None
    download_url_expires_at: float | None = None
    thumbnail_url: str | None = None
    file: FileInfo | None = None


class ExecutedTool(msgspec.Struct, rename="camel"):
    """`GET /v1/tools/executions/{id}` (providers.md §2.4)."""

    status: str | None = None
    tool_execution_id: str | None = None
    progress_percentage: _Percent | None = None
    attempt_index: int | None = None
    results: list[ToolResult] | None = None
    error: ApiError | None = None


class UploadReply(msgspec.Struct, rename="camel"):
    file_id: str | None = None
    upload_url: str | None = None


class UploadTicket(msgspec.Struct, frozen=True, kw_only=True):
    """Where one image's bytes go (`uploadUrl`) and the id to pass to generate once it is processed."""

    file_id: str
    upload_url: str


class UploadedFiles(msgspec.Struct, frozen=True, kw_only=True):
    """The processed file ids of a request's uploads: its start frame, its reference images (in order) and its
    source video."""

    start_frame: str | None = None
    references: tuple[str, ...] = ()
    video: str | None = None

"""The VideoGen adapter (seed 001, providers.md §2): wire structs, pure translators and a thin async shell.
Images reach VideoGen only as uploads; routing decides what reaches it, and it refuses what VideoGen cannot take."""

from providers.videogen.errors import classify_error, classify_failure, parse_capacity, retry_after_s
from providers.videogen.shell import FILE_READY_DELAYS_S, VideoGenProvider
from providers.videogen.translate import (
    NO_FILES,
    UploadPlan,
    build_cancel,
    build_file,
    build_poll,
    build_put,
    build_submit,
    build_upload,
    check_put,
    parse_cancel,
    parse_file,
    parse_status,
    parse_submit,
    parse_upload,
    plan_uploads,
)
from providers.videogen.wire import (
    DURATION_RANGE_S,
    IMAGE_TRANSPORTS,
    MAX_REFERENCE_IMAGES,
    SLUG,
    UPSTREAM_MODEL,
    UploadedFiles,
    UploadTicket,
)

__all__ = [
    "DURATION_RANGE_S",
    "FILE_READY_DELAYS_S",
    "IMAGE_TRANSPORTS",
    "MAX_REFERENCE_IMAGES",
    "NO_FILES",
    "SLUG",
    "UPSTREAM_MODEL",
    "UploadPlan",
    "UploadTicket",
    "UploadedFiles",
    "VideoGenProvider",
    "build_cancel",
    "build_file",
    "build_poll",
    "build_put",
    "build_submit",
    "build_upload",
    "check_put",
    "classify_error",
    "classify_failure",
    "parse_cancel",
    "parse_capacity",
    "parse_file",
    "parse_status",
    "parse_submit",
    "parse_upload",
    "plan_uploads",
    "retry_after_s",
]

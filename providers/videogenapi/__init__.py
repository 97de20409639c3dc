"""The videogenapi adapter (seeds 002/004, providers.md §3): wire structs, pure translators and a thin async
shell. Routing decides what reaches it; it refuses anything videogenapi would silently alter."""

from providers.videogenapi.errors import classify_error
from providers.videogenapi.shell import VideoGenApiProvider
from providers.videogenapi.translate import (
    build_poll,
    build_submit,
    build_user,
    parse_capacity,
    parse_status,
    parse_submit,
    parse_user,
)
from providers.videogenapi.wire import FIRST_LAST_MODELS, IMAGE_TRANSPORTS, MAX_PROMPT_CHARS, SIZES, SLUG

__all__ = [
    "FIRST_LAST_MODELS",
    "IMAGE_TRANSPORTS",
    "MAX_PROMPT_CHARS",
    "SIZES",
    "SLUG",
    "VideoGenApiProvider",
    "build_poll",
    "build_submit",
    "build_user",
    "classify_error",
    "parse_capacity",
    "parse_status",
    "parse_submit",
    "parse_user",
]

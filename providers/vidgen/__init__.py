"""The Vidgen API v2 adapter (seed 000): wire structs, pure translators and a thin async shell.
Routing decides what reaches it; it refuses anything Vidgen would silently alter."""

from providers.vidgen.errors import classify_error
from providers.vidgen.shell import VidgenProvider
from providers.vidgen.translate import (
    build_models,
    build_optimize,
    build_poll,
    build_submit,
    check_catalogue,
    parse_models,
    parse_optimize,
    parse_status,
    parse_submit,
)
from providers.vidgen.wire import IMAGE_TRANSPORTS, SECONDS_PER_SCENE, SLUG, VidgenCatalogue

__all__ = [
    "IMAGE_TRANSPORTS",
    "SECONDS_PER_SCENE",
    "SLUG",
    "VidgenCatalogue",
    "VidgenProvider",
    "build_models",
    "build_optimize",
    "build_poll",
    "build_submit",
    "check_catalogue",
    "classify_error",
    "parse_models",
    "parse_optimize",
    "parse_status",
    "parse_submit",
]

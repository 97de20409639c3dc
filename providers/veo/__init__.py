"""The Google Veo adapter (Gemini API or Vertex AI long-running operations, docs/providers.md §Veo): wire structs,
pure translators and a thin async shell. Routing decides what reaches it; it refuses what Veo cannot express."""

from providers.veo.errors import classify_error, error_capacity, operation_failure
from providers.veo.shell import VeoProvider
from providers.veo.translate import build_asset, build_poll, build_submit, parse_status, parse_submit, veo_options
from providers.veo.wire import IMAGE_TRANSPORTS, SIZES, SLUG, VeoOptions

__all__ = [
    "IMAGE_TRANSPORTS",
    "SIZES",
    "SLUG",
    "VeoOptions",
    "VeoProvider",
    "build_asset",
    "build_poll",
    "build_submit",
    "classify_error",
    "error_capacity",
    "operation_failure",
    "parse_status",
    "parse_submit",
    "veo_options",
]

"""The fal adapter (fal's queue API, docs/providers.md §fal): wire structs, per-model input schemas, pure
translators and a thin async shell. Routing decides what reaches it; it refuses what a model has no field for."""

from providers.fal.endpoints import ENDPOINTS
from providers.fal.errors import classify_error
from providers.fal.shell import FalProvider
from providers.fal.translate import (
    app_id,
    build_cancel,
    build_poll,
    build_result,
    build_submit,
    parse_cancel,
    parse_result,
    parse_status,
    parse_submit,
)
from providers.fal.wire import SLUG

__all__ = [
    "ENDPOINTS",
    "SLUG",
    "FalProvider",
    "app_id",
    "build_cancel",
    "build_poll",
    "build_result",
    "build_submit",
    "classify_error",
    "parse_cancel",
    "parse_result",
    "parse_status",
    "parse_submit",
]

"""The NanoGPT video adapter (providers.md §4): wire structs, pure translators and a thin async shell.
Routing decides what reaches it; it refuses anything NanoGPT would silently alter."""

from providers.nanogpt.errors import classify_error, error_capacity
from providers.nanogpt.shell import NanoGptProvider
from providers.nanogpt.translate import (
    build_poll,
    build_submit,
    model_rule,
    parse_balance,
    parse_status,
    parse_submit,
    source_link,
)
from providers.nanogpt.wire import SIZE_TOKENS, SLUG, ModelRule

__all__ = [
    "SIZE_TOKENS",
    "SLUG",
    "ModelRule",
    "NanoGptProvider",
    "build_poll",
    "build_submit",
    "classify_error",
    "error_capacity",
    "model_rule",
    "parse_balance",
    "parse_status",
    "parse_submit",
    "source_link",
]

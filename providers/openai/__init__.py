"""The generic OpenAI-compatible video adapter (docs/providers.md §11): any service speaking OpenAI's `/v1/videos`
(OpenAI, Azure OpenAI's v1 API, another video-gateway), configured by base URL, key header and query."""

from providers.openai.errors import classify_error, parse_capacity
from providers.openai.shell import OpenAiCompatibleProvider
from providers.openai.translate import (
    build_asset,
    build_cancel,
    build_poll,
    build_submit,
    content_url,
    parse_status,
    parse_submit,
)
from providers.openai.wire import SLUG

__all__ = [
    "SLUG",
    "OpenAiCompatibleProvider",
    "build_asset",
    "build_cancel",
    "build_poll",
    "build_submit",
    "classify_error",
    "content_url",
    "parse_capacity",
    "parse_status",
    "parse_submit",
]

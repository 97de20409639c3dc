"""Vidgen's wire (seed 000): its fixed facts and its JSON shapes as msgspec structs. Vendor structs tolerate
unknown fields because vendors add fields; nothing here does I/O or translation."""

from __future__ import annotations

from typing import Annotated

import msgspec

from providers.contract import ImageTransport

SLUG = "vidgen"
PATH = "/api/v2"  # seed 000 "Base URL": every action is a POST to this one path
IMAGE_TRANSPORTS: frozenset[ImageTransport] = frozenset({"data_uri"})  # seed 000: frames are base64 data URIs
SECONDS_PER_SCENE = 5  # seed 000 "POST generate": each scene produces approximately 5 seconds


class ErrorReply(msgspec.Struct):
    error: str | None = None


class ModelEntry(msgspec.Struct):
    label: str = ""


class ModelsReply(msgspec.Struct):
    models: dict[str, ModelEntry] | None = None
    max_scenes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    error: str | None = None


class GenerateReply(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    error: str | None = None


class OptimizeReply(msgspec.Struct):
    """seed 000 "POST optimize" reply."""

    prompt: str | None = None
    error: str | None = None


class MetaImage(msgspec.Struct):
    url: str
    type: str


class Meta(msgspec.Struct):
    images: list[MetaImage] = []
    compliance: str | None = None
    fingerprint: str | None = None
    gen_id: str | None = None
    enable_c2pa: bool | None = None
    enable_watermark: bool | None = None
    compliance_codes: list[str] | None = None
    upscale: bool | None = None
    wm_position: str | None = None
    cs_author: str | None = None
    cs_title: str | None = None
    cs_description: str | None = None
    cs_organization: str | None = None
    cs_vendor: str | None = None


class StatusReply(msgspec.Struct):
    status: str | None = None
    meta: Meta | None = None
    compliance: str | None = None
    error: str | None = None
    filter_categories: list[str] | None = None  # seed 000 "Completed (Blocked)"


class VidgenCatalogue(msgspec.Struct, frozen=True, kw_only=True):
    """What the `models` action offers: the model keys and the per-request scene cap."""

    models: frozenset[str]
    max_scenes: int

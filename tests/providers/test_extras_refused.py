"""Adapters that offer none of the provider-specific extras (Veo, fal) refuse each one by name before any call,
never dropping it silently: routing filters on capability flags first, the adapter is the last guard."""

from __future__ import annotations

import hashlib

import pytest

from providers.contract import (
    ContentCredentials,
    GenerationRequest,
    InvalidUpstreamRequest,
    ProviderSettings,
    Scene,
    VideoData,
    VideoInput,
)
from providers.fal import build_submit as fal_submit
from providers.veo import build_submit as veo_submit

FAL = ProviderSettings(base_url="https://queue.fal.run", api_key="fal-key-id:secret")
VEO = ProviderSettings(base_url="https://generativelanguage.googleapis.com", api_key="gemini-key")
CLIP = b"\x00\x00\x00\x18ftypmp42"
EXTRAS: list[tuple[dict[str, object], str]] = [
    ({"upscale": True}, "upscaling"),
    ({"results": 2}, "several results"),
    ({"temporary_output": True}, "temporary output"),
    ({"camera_fixed": True}, "a fixed camera"),
    ({"upstream_variant": "fast"}, "a sub-model variant"),
    ({"content_credentials": ContentCredentials(author="ops")}, "content credentials"),
    (
        {
            "video_input": VideoInput(
                operation="edit",
                video=VideoData(mime_type="video/mp4", data=CLIP, digest=hashlib.sha256(CLIP).hexdigest()),
                source_seconds=2,
            )
        },
        "a source video",
    ),
]


@pytest.mark.parametrize(("fields", "named"), EXTRAS, ids=[named for _, named in EXTRAS])
@pytest.mark.parametrize(
    ("build", "settings", "model"),
    [
        (fal_submit, FAL, "fal-ai/kling-video/v2.5-turbo/pro/text-to-video"),
        (veo_submit, VEO, "veo-2.0-generate-001"),
    ],
    ids=["fal", "veo"],
)
def test_each_extra_is_refused_by_name(
    build: object, settings: ProviderSettings, model: str, fields: dict[str, object], named: str
) -> None:
    """A request asking for one extra is an invalid request whose message names that extra."""
    request = GenerationRequest(upstream_model=model, scenes=(Scene(prompt="a lighthouse at dawn"),), **fields)  # type: ignore[arg-type]
    assert callable(build)
    with pytest.raises(InvalidUpstreamRequest, match=f"not supported: {named}$"):
        build(request, settings)

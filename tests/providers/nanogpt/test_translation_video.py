"""Pure NanoGPT translation of video-to-video requests (seed 003: "create, extend, or edit a video"): the source
goes as `videoUrl` (HTTPS) or `videoDataUrl`, an extension asks for the seconds it adds, an edit for none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers.contract import (
    GenerationRequest,
    ImageData,
    InvalidUpstreamRequest,
    ProviderSettings,
    Scene,
    VideoData,
    VideoInput,
    VideoOperation,
    VideoUrl,
)
from providers.nanogpt import build_submit, source_link

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://nano-gpt.test", api_key="sk-nano-test")
LAKE_URL = VideoUrl(url="https://cdn.example.com/clips/lake.mp4")
# The first bytes of an MP4 (an `ftyp` box header): base64 "AAAAIGZ0eXBpc29t".
LAKE_DATA = VideoData(mime_type="video/mp4", data=b"\x00\x00\x00\x20ftypisom", digest="4" * 64)


def video_request(
    model: str, prompt: str, operation: VideoOperation, video: VideoUrl | VideoData, seconds: int | None = None
) -> GenerationRequest:
    source = VideoInput(operation=operation, video=video, source_seconds=8)
    return GenerationRequest(upstream_model=model, scenes=(Scene(prompt=prompt),), seconds=seconds, video_input=source)


def fixture_body(name: str) -> object:
    return json.loads((FIXTURES / name).read_text())


def test_an_extension_sends_the_extend_model_its_added_seconds_and_the_video_url() -> None:
    """seed 003: an extend model plus prompt and a source video; `duration` is the added seconds, as a string."""
    request = video_request("wan-wavespeed-25-extend", "The camera keeps rising over the lake", "extend", LAKE_URL, 5)
    call = build_submit(request, SETTINGS)
    assert (call.method, call.path) == ("POST", "/api/generate-video")
    assert call.json == fixture_body("submit_body_extend_video_url.json")


def test_an_edit_sends_inline_data_in_video_edit_mode_without_a_duration() -> None:
    """An edit keeps its source's length: `mode` video-edit, `videoDataUrl`, and no `duration` field."""
    request = video_request("runwayml-gen4-aleph", "The same lake at night", "edit", LAKE_DATA, 8)
    assert build_submit(request, SETTINGS).json == fixture_body("submit_body_edit_video_data_url.json")


def test_a_remix_is_sent_as_an_edit() -> None:
    """A remix (the source again, as a new prompt says) is a video-edit job with the link."""
    body = build_submit(video_request("runwayml-gen4-aleph", "In autumn", "remix", LAKE_URL, 8), SETTINGS).json
    assert body == {
        "model": "runwayml-gen4-aleph",
        "prompt": "In autumn",
        "mode": "video-edit",
        "videoUrl": "https://cdn.example.com/clips/lake.mp4",
    }


def test_only_a_non_https_link_must_be_fetched_first() -> None:
    """`videoUrl` is an HTTPS link (seed 003): an http link is the shell's to fetch and inline; no source, nothing."""
    plain = VideoUrl(url="http://127.0.0.1:9101/storage/lake.mp4")
    assert source_link(video_request("runwayml-gen4-aleph", "x", "edit", plain)) == plain.url
    assert source_link(video_request("runwayml-gen4-aleph", "x", "edit", LAKE_URL)) is None
    assert source_link(video_request("runwayml-gen4-aleph", "x", "edit", LAKE_DATA)) is None
    with pytest.raises(InvalidUpstreamRequest, match="HTTPS"):
        build_submit(video_request("runwayml-gen4-aleph", "x", "edit", plain), SETTINGS)


def test_a_source_over_the_upload_limit_or_with_images_is_refused() -> None:
    """Over 4 MB of inline video, or a source video with a start frame, is refused before any call."""
    too_big = VideoData(
        mime_type="video/mp4", data=b"\0" * (4 * 1024 * 1024 + 1), digest="5" * 64
    )  # over the 4 MB §4.3
    with pytest.raises(InvalidUpstreamRequest, match="upload limit"):
        build_submit(video_request("runwayml-gen4-aleph", "x", "edit", too_big), SETTINGS)
    at_limit = VideoData(mime_type="video/mp4", data=b"\0" * (4 * 1024 * 1024), digest="7" * 64)  # exactly 4 MB
    body = build_submit(video_request("runwayml-gen4-aleph", "x", "edit", at_limit), SETTINGS).json
    assert isinstance(body, dict)
    assert body["videoDataUrl"].startswith("data:video/mp4;base64,")
    frame = ImageData(mime_type="image/png", data=b"png", digest="6" * 64)
    with_image = video_request("runwayml-gen4-aleph", "x", "edit", LAKE_URL)
    with_image = GenerationRequest(
        upstream_model=with_image.upstream_model,
        scenes=(Scene(prompt="x", image=frame),),
        video_input=with_image.video_input,
    )
    with pytest.raises(InvalidUpstreamRequest, match="cannot be sent with images"):
        build_submit(with_image, SETTINGS)

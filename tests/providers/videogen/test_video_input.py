"""VideoGen video-to-video (seed 001 `videoFileId`: "the model restyles or transforms the input video"): the
source is uploaded as a VIDEO file (a link fetched first), then generate names it; there is no extend."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
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
from providers.videogen import UploadedFiles, build_submit, build_upload, plan_uploads
from tests.providers.videogen.test_shell import FakeVideoGen, ok, provider_over, upload_routes

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = ProviderSettings(base_url="https://api.videogen.test", api_key="vg-key")
CLIP = VideoData(mime_type="video/mp4", data=b"\x00\x00\x00\x20ftypisom" + b"\0" * 24, digest="c" * 64)


def restyle(video: VideoUrl | VideoData = CLIP, operation: VideoOperation = "edit") -> GenerationRequest:
    source = VideoInput(operation=operation, video=video, source_seconds=8)
    scene = Scene(prompt="Restyle as a watercolour painting")
    return GenerationRequest(upstream_model="auto", scenes=(scene,), seconds=8, video_input=source)


def test_a_restyle_uploads_a_video_file_and_names_it_without_a_duration() -> None:
    """The source is a temporary VIDEO upload; generate carries `videoFileId` and no `durationSeconds`."""
    assert plan_uploads(restyle()).video == CLIP
    upload = build_upload(CLIP, SETTINGS, display_name="source-cccc")
    assert upload.json == {"displayName": "source-cccc", "type": "VIDEO", "isTemporary": True}
    call = build_submit(restyle(), SETTINGS, UploadedFiles(video="vg_file_up1"))
    assert call.json == json.loads((FIXTURES / "generate_body_restyle.json").read_text())


def test_an_extension_or_a_missing_upload_is_refused() -> None:
    """VideoGen cannot extend, and generate without the source's file id is refused before any call."""
    with pytest.raises(InvalidUpstreamRequest, match="not extended"):
        plan_uploads(restyle(operation="extend"))
    with pytest.raises(InvalidUpstreamRequest, match="uploaded first"):
        build_submit(restyle(), SETTINGS)


def test_a_source_video_with_a_start_frame_is_refused_naming_the_images() -> None:
    """seed 001 restyles one input video: images beside it would be dropped or mixed in, so the request is refused."""
    frame = ImageData(mime_type="image/png", data=b"start", digest="a" * 64)
    request = msgspec.structs.replace(restyle(), scenes=(Scene(prompt="Restyle", image=frame),))
    with pytest.raises(InvalidUpstreamRequest, match="with images"):
        plan_uploads(request)


async def test_a_linked_source_is_fetched_then_uploaded_then_generated() -> None:
    """A link (another provider's asset) is fetched without VideoGen's key, uploaded, and named by generate."""
    routes = upload_routes([ok("file_ready.json")])
    routes[("GET", "/clips/lake.mp4")] = [(200, CLIP.data, {})]
    fake = FakeVideoGen(routes)
    await provider_over(fake).submit(restyle(VideoUrl(url="https://assets.test/clips/lake.mp4")))
    assert fake.calls == [
        "GET /clips/lake.mp4",
        "POST /v1/files/upload",
        "PUT /uploads/vg_file_up1",
        "GET /v1/files/vg_file_up1",
        "POST /v1/tools/generate-video-clip",
    ]
    fetch, created, put, *_ = fake.requests
    assert "Authorization" not in fetch.headers
    assert json.loads(created.content)["type"] == "VIDEO"
    assert (put.content, put.headers["Content-Type"]) == (CLIP.data, "video/mp4")
    assert json.loads(fake.requests[-1].content)["videoFileId"] == "vg_file_up1"


async def test_a_dead_source_link_is_refused_without_failover() -> None:
    """A link answering 404 is an invalid request (another provider would fail alike): nothing is uploaded."""
    fake = FakeVideoGen({("GET", "/clips/gone.mp4"): [(404, b"", {})]})
    with pytest.raises(InvalidUpstreamRequest, match="answered 404") as caught:
        await provider_over(fake).submit(restyle(VideoUrl(url="https://assets.test/clips/gone.mp4")))
    assert caught.value.failover is False
    assert fake.calls == ["GET /clips/gone.mp4"]

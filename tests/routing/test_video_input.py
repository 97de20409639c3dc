"""Routing video-to-video requests on the example catalogue: only offerings that take the operation, and take the
source as it comes (a link, or bytes), are candidates; text-only requests never reach video-only models."""

from __future__ import annotations

from gateway.config import load_settings
from providers.contract import GenerationRequest, Scene, VideoData, VideoInput, VideoOperation, VideoUrl
from routing.router import Plan, RouteQuery, Router
from tests.conftest import EXAMPLE_CONFIG

SETTINGS = load_settings(EXAMPLE_CONFIG)
ROUTER = Router(SETTINGS.models, enabled=dict.fromkeys(SETTINGS.providers, True))
LINK = VideoUrl(url="https://assets.example.com/lake.mp4")
UPLOAD = VideoData(mime_type="video/mp4", data=b"\0" * 64, digest="d" * 64)


def _plan(
    operation: VideoOperation, video: VideoUrl | VideoData = LINK, *, seconds: int = 8, source_s: int = 8
) -> Plan:
    source = VideoInput(operation=operation, video=video, source_seconds=source_s)
    request = GenerationRequest(
        upstream_model="", scenes=(Scene(prompt="at night"),), seconds=seconds, video_input=source
    )
    return ROUTER.plan(RouteQuery(model="auto", request=request))


def test_an_edit_goes_to_the_offerings_that_edit() -> None:
    """An 8 s edit by link: NanoGPT's runway-aleph and VideoGen's clip tool (it uploads the fetched bytes)."""
    plan = _plan("edit")
    assert sorted((c.model, c.provider) for c in plan.candidates) == [
        ("runway-aleph", "nanogpt"),
        ("videogen-clip", "videogen"),
    ]
    assert {c.seconds for c in plan.candidates} == {8}  # an edit is priced for its source's length
    scenex = next(d for d in plan.dropped if d.model == "scenex")
    assert "operation edit not offered (offers none)" in scenex.reasons


def test_an_extension_needs_an_offered_length() -> None:
    """wan-2.5-extend adds 5 or 10 s: a 5 s extension is its candidate, an 8 s one has none."""
    assert [c.model for c in _plan("extend", seconds=5).candidates] == ["wan-2.5-extend"]
    plan = _plan("extend", seconds=8)
    assert plan.candidates == ()
    extend = next(d for d in plan.dropped if d.model == "wan-2.5-extend")
    assert "8 s not offered (offers [5, 10])" in extend.reasons


def test_limits_on_the_source_rule_offerings_out() -> None:
    """A 121 s source exceeds NanoGPT's 120 s; an upload over 4 MB exceeds its inline limit (VideoGen uploads it)."""
    long = _plan("edit", source_s=121)
    assert [c.provider for c in long.candidates] == ["videogen"]
    big = VideoData(mime_type="video/mp4", data=b"\0" * (4 * 1024 * 1024 + 1), digest="e" * 64)
    assert [c.provider for c in _plan("edit", big).candidates] == ["videogen"]


def test_a_text_request_never_reaches_a_video_only_model() -> None:
    """Without a source video, runway-aleph is dropped: it takes only source videos."""
    request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), seconds=5)
    plan = ROUTER.plan(RouteQuery(model="runway-aleph", request=request))
    [dropped] = plan.dropped
    assert dropped.reasons == ("takes only a source video (edit, remix)",)


def test_uploaded_bytes_reach_offerings_that_take_data_or_uploads() -> None:
    """An uploaded source can go inline (NanoGPT `videoDataUrl`) or through VideoGen's upload flow."""
    assert sorted(c.provider for c in _plan("remix", UPLOAD).candidates) == ["nanogpt", "videogen"]

"""The NanoGPT emulator's video-to-video models (seed 003: "create, extend, or edit a video"): the source is a
real, reachable MP4; an extension is longer than its source, an edit keeps its length."""

from __future__ import annotations

import base64

import httpx
import pytest

from providers.mp4 import duration_s
from sandbox.assets import sample_video_lasting
from tests.conftest import FakeClock
from tests.sandbox.nanogpt.conftest import poll, post_generate, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _data_url(content: bytes, mime: str = "video/mp4") -> str:
    return f"data:{mime};base64," + base64.b64encode(content).decode()


async def _output(client: httpx.AsyncClient, clock: FakeClock, run_id: str) -> bytes:
    clock.advance(10)  # past the 1 s queue and 4 s run
    status = await poll(client, run_id)
    assert status["data"]["status"] == "COMPLETED", status
    return (await client.get(status["data"]["output"]["video"]["url"])).content


async def test_an_extension_is_its_source_plus_the_added_seconds(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """wan-wavespeed-25-extend with a 2 s source and duration "5" serves a 7 s MP4, billed for the 5 s added."""
    job = await submit(
        client,
        model="wan-wavespeed-25-extend",
        prompt="the camera keeps rising",
        duration="5",
        videoDataUrl=_data_url(sample_video_lasting(2.0)),
    )
    assert job["cost"] == 0.25
    assert duration_s(await _output(client, clock, job["runId"])) == 7.0


async def test_an_edit_keeps_its_source_length(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """runwayml-gen4-aleph given a 5 s source serves a 5 s MP4."""
    job = await submit(
        client,
        model="runwayml-gen4-aleph",
        prompt="the same, at night",
        videoDataUrl=_data_url(sample_video_lasting(5)),
    )
    assert duration_s(await _output(client, clock, job["runId"])) == 5.0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"videoDataUrl": _data_url(b"not a video at all")}, "videoDataUrl is not a readable MP4 video"),
        ({"videoUrl": "http://127.0.0.1:9/clip.mp4"}, "videoUrl must be an HTTPS URL"),
        ({"videoUrl": "https://127.0.0.1:9/clip.mp4"}, "videoUrl could not be fetched"),
        ({}, "runwayml-gen4-aleph needs one source video: videoUrl or videoDataUrl"),
        ({"videoDataUrl": _data_url(sample_video_lasting(121))}, "Max source video length: 120 seconds"),
    ],
)
async def test_a_source_that_is_not_a_reachable_mp4_is_refused(
    client: httpx.AsyncClient, fields: dict[str, str], message: str
) -> None:
    """A non-MP4, a non-HTTPS or unreachable link, no source, or a source over 120 s is a 400 naming it."""
    reply = await post_generate(client, model="runwayml-gen4-aleph", prompt="the same, at night", **fields)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == message


async def test_a_text_model_refuses_a_source_video(client: httpx.AsyncClient) -> None:
    """A model without a video operation refuses `videoDataUrl` (extra media fields fail, seed 003)."""
    reply = await post_generate(client, model="veo3-1-video", videoDataUrl=_data_url(sample_video_lasting(2)))
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "videoDataUrl"

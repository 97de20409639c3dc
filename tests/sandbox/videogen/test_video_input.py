"""The VideoGen emulator's restyle (seed 001 `videoFileId`): the source must be an uploaded VIDEO file holding a
real MP4, and the clip keeps the source's length unless `durationSeconds` says otherwise."""

from __future__ import annotations

import httpx
import pytest

from providers.mp4 import duration_s
from sandbox.assets import sample_video_lasting
from tests.conftest import FakeClock
from tests.sandbox.videogen.conftest import AUTH, GENERATE, poll, start
from tests.sandbox.videogen.test_flows import upload

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _restyled(client: httpx.AsyncClient, clock: FakeClock, **fields: object) -> bytes:
    ticket = await upload(client, sample_video_lasting(5), type="VIDEO", displayName="source")
    clock.advance(1.0)  # past file_ready_s
    execution_id = await start(client, prompt="as a watercolour", videoFileId=ticket["fileId"], **fields)
    clock.advance(600)
    done = await poll(client, execution_id)
    assert done["status"] == "succeeded", done
    return (await client.get(done["results"][0]["downloadUrl"])).content


async def test_a_restyle_keeps_its_source_length(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A 5 s source restyled without `durationSeconds` serves a 5 s MP4."""
    assert duration_s(await _restyled(client, clock)) == 5.0


async def test_a_restyle_with_a_duration_lasts_that_long(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """`durationSeconds` 8 makes an 8 s clip from a 5 s source."""
    assert duration_s(await _restyled(client, clock, durationSeconds=8)) == 8.0


@pytest.mark.parametrize(("content", "kind"), [(b"GIF89a not a video", "VIDEO"), (sample_video_lasting(5), "IMAGE")])
async def test_a_source_that_is_not_an_uploaded_mp4_video_is_refused(
    client: httpx.AsyncClient, clock: FakeClock, content: bytes, kind: str
) -> None:
    """A VIDEO file that is no MP4, or an MP4 uploaded as an IMAGE, is a 400 at generate."""
    ticket = await upload(client, content, type=kind)
    clock.advance(1.0)
    reply = await client.post(GENERATE, json={"prompt": "x", "videoFileId": ticket["fileId"]}, headers=AUTH)
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_parameters")
    assert "videoFileId must name an uploaded VIDEO file holding an MP4" in reply.json()["message"]

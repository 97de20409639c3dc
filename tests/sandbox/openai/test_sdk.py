"""The real `openai` SDK against the OpenAI emulator: the SDK's own requests (multipart create with an
`input_reference` file, retrieve, list, download, delete) are accepted as OpenAI accepts them."""

from __future__ import annotations

import openai
import pytest

from tests.conftest import mp4_boxes, tiny_png
from tests.sandbox.openai.conftest import KEY, running

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")  # the SDK's deprecation notice


async def test_the_sdk_creates_polls_downloads_and_deletes() -> None:
    """client.videos.create (with a file), retrieve, list, download_content and delete all round-trip."""
    async with running() as sandbox:
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=f"{sandbox.base_url}/v1", max_retries=0)
        frame = ("frame.png", tiny_png(), "image/png")
        video = await sdk.videos.create(prompt="a paper boat", model="sora-2-pro", seconds="8", input_reference=frame)
        sandbox.clock.advance(100.0)
        done = await sdk.videos.retrieve(video.id)
        listed = await sdk.videos.list()
        content = await sdk.videos.download_content(video.id, variant="video")
        deleted = await sdk.videos.delete(video.id)
        await sdk.close()
    assert (video.status, video.model, video.seconds) == ("queued", "sora-2-pro", "8")
    assert (done.status, done.progress) == ("completed", 100)
    assert [v.id for v in listed.data] == [video.id]
    assert mp4_boxes(content.content)[0] == b"ftyp"
    assert deleted.deleted


async def test_the_sdk_raises_its_own_errors_from_the_envelope() -> None:
    """A refused create surfaces as the SDK's BadRequestError with the envelope's code and param."""
    async with running() as sandbox:
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=f"{sandbox.base_url}/v1", max_retries=0)
        with pytest.raises(openai.BadRequestError) as raised:
            await sdk.videos.create(prompt="a paper boat", size="1792x1024")
        await sdk.close()
    assert (raised.value.code, raised.value.param) == ("invalid_value", "size")

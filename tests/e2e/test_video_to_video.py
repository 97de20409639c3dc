"""Video-to-video through the real OpenAI SDK (sync and async) against a gateway and every emulator over real
sockets: remix, edit (by id and by upload) and extend complete as MP4s of the right length, across providers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest

from providers.mp4 import duration_s
from sandbox.assets import sample_video_lasting
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY, GatewayFactory, auth, example_settings, wait_terminal

# The SDK marks every videos method deprecated (the Sora API shutdown); that is not what is tested here.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")
# The SDK refuses a `{"id": ...}` `video` argument (it wants a file there). Given as `extra_body` with
# `video=openai.omit`, it goes out as JSON with this header, or as a multipart `video[id]` field without it.
JSON = {"Content-Type": "application/json"}
# A model of the example catalogue each provider serves, to make a source video on it.
MODEL_ON = {"vidgen": "scenex", "videogen": "videogen-clip", "nanogpt": "wan-2.5"}


class Gateway:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.v1 = str(client.base_url.join("/v1"))

    def sdk(self, key: str = TEAM_A_KEY) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=key, base_url=self.v1, max_retries=0)

    def sync_sdk(self) -> openai.OpenAI:
        return openai.OpenAI(api_key=TEAM_A_KEY, base_url=self.v1, max_retries=0)

    async def made_on(self, provider: str, prompt: str = "a paper boat on a pond") -> dict[str, Any]:
        """A finished text-to-video job forced to `provider`."""
        body = {"model": MODEL_ON[provider], "prompt": prompt, "routing": {"providers": [provider]}}
        reply = await self.client.post("/v1/videos", json=body, headers=auth())
        assert reply.status_code == 202, reply.text
        return await wait_terminal(self.client, reply.json()["id"])

    async def content(self, video_id: str) -> bytes:
        reply = await self.client.get(f"/v1/videos/{video_id}/content", headers=auth(), follow_redirects=True)
        assert reply.status_code == 200, reply.text
        return reply.content


@contextlib.asynccontextmanager
async def _gateway(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[Gateway]:
    async with serve_gateway(example_settings(sandbox)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield Gateway(client)


async def test_a_vidgen_video_is_edited_on_nanogpt_and_keeps_its_length(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """An async SDK edit by id (a JSON body) of a Vidgen-made video runs on NanoGPT, names its source, lasts as
    long and is metered on the new job."""
    async with _gateway(sandbox, serve_gateway) as gateway, gateway.sdk() as sdk:
        source = await gateway.made_on("vidgen")
        edit = await sdk.videos.edit(
            prompt="the same pond, at night",
            video=openai.omit,
            extra_body={"video": {"id": source["id"]}, "routing": {"providers": ["nanogpt"]}},
            extra_headers=JSON,
        )
        done = await wait_terminal(gateway.client, edit.id)
        source_mp4, edited_mp4 = await gateway.content(source["id"]), await gateway.content(edit.id)
    assert (edit.remixed_from_video_id, edit.model) == (source["id"], "runway-aleph")
    assert (done["status"], done["provider"], done["operation"]) == ("completed", "nanogpt", "edit")
    assert done["seconds"] == source["seconds"]
    assert done["usage"]["video_seconds"] == int(source["seconds"])
    assert duration_s(edited_mp4) == duration_s(source_mp4)


async def test_an_extension_is_longer_than_its_source(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> None:
    """An async SDK extend (multipart, `video[id]`) of a VideoGen-made video by 5 s completes on NanoGPT as its
    source plus 5 s, billed for the 5 s added."""
    async with _gateway(sandbox, serve_gateway) as gateway, gateway.sdk() as sdk:
        source = await gateway.made_on("videogen")
        extension = await sdk.videos.extend(
            prompt="the boat drifts away",
            seconds="5",  # type: ignore[arg-type]  # wan-2.5-extend adds 5 or 10 s, not the SDK's 4/8/12/16/20
            video=openai.omit,
            extra_body={"video": {"id": source["id"]}},
        )
        done = await wait_terminal(gateway.client, extension.id)
        source_mp4, extended_mp4 = await gateway.content(source["id"]), await gateway.content(extension.id)
    assert (done["status"], done["model"], done["remixed_from_video_id"]) == (
        "completed",
        "wan-2.5-extend",
        source["id"],
    )
    assert done["seconds"] == str(int(source["seconds"]) + 5)  # OpenAI: an extension's `seconds` is the total
    assert done["usage"]["video_seconds"] == 5
    assert duration_s(extended_mp4) == (duration_s(source_mp4) or 0) + 5


async def test_a_sync_sdk_remix_completes(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> None:
    """The sync SDK's `remix` (a JSON body) of a NanoGPT-made video, sent to VideoGen (its link fetched and
    uploaded through VideoGen's file flow), completes as long as its source, naming it."""
    async with _gateway(sandbox, serve_gateway) as gateway:
        source = await gateway.made_on("nanogpt")
        with gateway.sync_sdk() as sdk:
            remix = await asyncio.to_thread(
                sdk.videos.remix,
                source["id"],
                prompt="the same, in autumn",
                extra_body={"routing": {"providers": ["videogen"]}},
            )
        done = await wait_terminal(gateway.client, remix.id)
        source_mp4, remixed_mp4 = await gateway.content(source["id"]), await gateway.content(remix.id)
    assert remix.remixed_from_video_id == source["id"]
    assert (done["status"], done["provider"], done["operation"]) == ("completed", "videogen", "remix")
    assert duration_s(remixed_mp4) == duration_s(source_mp4)


async def test_a_videogen_restyle_of_an_uploaded_file(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> None:
    """The sync SDK's multipart edit with an uploaded 5 s MP4 runs on VideoGen's upload flow and stays 5 s."""
    upload = ("clip.mp4", sample_video_lasting(5), "video/mp4")
    async with _gateway(sandbox, serve_gateway) as gateway:
        with gateway.sync_sdk() as sdk:
            edit = await asyncio.to_thread(
                sdk.videos.edit, prompt="as a watercolour", video=upload, extra_body={"model": "videogen-clip"}
            )
        done = await wait_terminal(gateway.client, edit.id)
        restyled = await gateway.content(edit.id)
    assert (done["status"], done["provider"], done["seconds"]) == ("completed", "videogen", "5")
    assert done["remixed_from_video_id"] is None
    assert duration_s(restyled) == 5.0


async def test_sources_of_another_team_or_not_completed_are_refused(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """Another team's source is a 404, a failed one a 409 naming its status, a non-MP4 upload a 400."""
    async with _gateway(sandbox, serve_gateway) as gateway, gateway.sdk(TEAM_B_KEY) as other_team:
        failed = await gateway.made_on("vidgen", "a boat [sandbox:fail]")
        with pytest.raises(openai.NotFoundError):
            await other_team.videos.remix(failed["id"], prompt="the same, in autumn")
        edit = {"prompt": "the same, at night", "video": {"id": failed["id"]}}
        not_done = await gateway.client.post("/v1/videos/edits", json=edit, headers=auth())
        not_mp4 = await gateway.client.post(
            "/v1/videos/edits",
            data={"prompt": "the same, at night"},
            files={"video": ("a.mp4", b"GIF89a", "video/mp4")},
            headers=auth(),
        )
    assert (not_done.status_code, not_done.json()["error"]["code"]) == (409, "source_not_completed")
    assert f"source video {failed['id']} is failed" in not_done.json()["error"]["message"]
    assert (not_mp4.status_code, not_mp4.json()["error"]["param"]) == (400, "video")


async def test_characters_answer_a_canonical_4xx(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> None:
    """`create_character` is a 400 `unsupported_operation` and `get_character` a 404, never a missing route."""
    async with _gateway(sandbox, serve_gateway) as gateway, gateway.sdk() as sdk:
        with pytest.raises(openai.BadRequestError) as created:
            await sdk.videos.create_character(name="Ada", video=("ada.mp4", sample_video_lasting(2), "video/mp4"))
        with pytest.raises(openai.NotFoundError) as fetched:
            await sdk.videos.get_character("char_123")
    assert created.value.body["code"] == "unsupported_operation"  # type: ignore[index]
    assert "no configured provider offers characters" in fetched.value.body["message"]  # type: ignore[index]

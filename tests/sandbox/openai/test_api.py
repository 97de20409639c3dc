"""The OpenAI video emulator over real HTTP: auth, the create parameters and their 400s, the video object on the
job clock, content variants, delete, list, the prompt markers and forced faults."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from tests.conftest import FakeClock, mp4_boxes
from tests.sandbox.conftest import Sandbox, add_fault
from tests.sandbox.openai.conftest import AUTH, OTHER_AUTH, create, error_of, post_video

# The `Video` object's keys, as the API reference lists them.
VIDEO_KEYS = {
    "id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at", "prompt", "seconds",
    "size", "remixed_from_video_id", "error",
}  # fmt: skip

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


# --------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "Basic c2s=", "Bearer", "sk-live"])
async def test_a_create_without_a_bearer_key_is_refused(client: httpx.AsyncClient, header: str | None) -> None:
    """No header, another scheme, an empty token or a bare key get 401 asking for Bearer auth."""
    reply = await post_video(client, {} if header is None else {"Authorization": header})
    assert reply.status_code == 401
    assert error_of(reply)["message"].startswith("You didn't provide an API key.")


async def test_an_unknown_key_is_invalid_api_key_and_never_echoed(client: httpx.AsyncClient) -> None:
    """A key the account never issued is `invalid_api_key`; the reply does not quote it."""
    reply = await post_video(client, {"Authorization": "Bearer sk-nope-secret"})
    assert reply.status_code == 401
    assert error_of(reply)["code"] == "invalid_api_key"
    assert "sk-nope-secret" not in reply.text


async def test_another_keys_video_is_not_found(client: httpx.AsyncClient) -> None:
    """A video is visible to the key that created it only."""
    video = await create(client)
    reply = await client.get(f"/v1/videos/{video['id']}", headers=OTHER_AUTH)
    assert reply.status_code == 404
    assert set(error_of(reply)) == {"message", "type", "param", "code"}


# ------------------------------------------------------------------------------------------------- create


async def test_create_returns_a_queued_video_object_with_the_api_defaults(client: httpx.AsyncClient) -> None:
    """A bare prompt is sora-2, "4" seconds, 720x1280, queued at 0%, every reference key present."""
    video = await create(client)
    assert set(video) == VIDEO_KEYS
    assert video["id"].startswith("video_")
    assert (video["object"], video["model"], video["seconds"], video["size"]) == ("video", "sora-2", "4", "720x1280")
    assert (video["status"], video["progress"], video["completed_at"], video["error"]) == ("queued", 0, None, None)


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"seconds": "5"}, "seconds", "invalid_value"),
        ({"seconds": 8}, "seconds", "invalid_type"),
        ({"size": "1920x1080"}, "size", "invalid_value"),
        ({"model": "sora-3"}, "model", "invalid_value"),
        ({"size": "1792x1024"}, "size", "invalid_value"),
        ({"duration": "8"}, "duration", "unknown_parameter"),
        ({"prompt": " "}, "prompt", "missing_required_parameter"),
        ({"input_reference": {"image_url": "ftp://x"}}, "input_reference", "invalid_value"),
    ],
)
async def test_create_parameters_are_checked(
    client: httpx.AsyncClient, fields: dict[str, Any], param: str, code: str
) -> None:
    """Bad values, types and unknown parameters are 400 invalid_request_error naming the parameter."""
    reply = await post_video(client, **fields)
    assert reply.status_code == 400
    error = error_of(reply)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


async def test_seconds_error_lists_the_supported_values(client: httpx.AsyncClient) -> None:
    """The `seconds` refusal quotes OpenAI's wording and its three values."""
    reply = await post_video(client, seconds="5")
    assert error_of(reply)["message"] == "Invalid value: '5'. Supported values are: '4', '8', and '12'."


async def test_pro_sizes_are_served_by_sora_2_pro(client: httpx.AsyncClient) -> None:
    """1792x1024 is accepted for sora-2-pro."""
    video = await create(client, model="sora-2-pro", size="1792x1024", seconds="12")
    assert (video["model"], video["size"], video["seconds"]) == ("sora-2-pro", "1792x1024", "12")


async def test_multipart_create_takes_an_input_reference_file(client: httpx.AsyncClient) -> None:
    """The SDK's form: scalar fields and an `input_reference` image part."""
    files = {"input_reference": ("frame.png", b"\x89PNG-bytes", "image/png")}
    reply = await client.post("/v1/videos", data={"prompt": "go", "seconds": "8"}, files=files, headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.json()["seconds"] == "8"


async def test_a_blocked_prompt_is_moderation_blocked(client: httpx.AsyncClient) -> None:
    """The block marker gets the guide's moderation refusal, and no video is created."""
    reply = await post_video(client, prompt="a scene [sandbox:block]")
    assert reply.status_code == 400
    error = error_of(reply)
    assert (error["code"], error["message"]) == (
        "moderation_blocked",
        "Your request was blocked by our moderation system.",
    )


# -------------------------------------------------------------------------------------------- job clock


async def test_a_video_progresses_on_the_clock_and_expires_an_hour_after(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """queued, then in_progress with a growing percentage, then completed at 100% with `expires_at` an hour on."""
    video = await create(client)
    path = f"/v1/videos/{video['id']}"
    clock.advance(1.0 + 2.0)  # queue 1 s, then half of the 4 s run
    running = (await client.get(path, headers=AUTH)).json()
    clock.advance(10.0)
    done = (await client.get(path, headers=AUTH)).json()
    assert (running["status"], running["progress"]) == ("in_progress", 50)
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert done["expires_at"] - done["completed_at"] == 3600


@pytest.mark.parametrize(("marker", "code"), [("unsafe", "moderation_blocked"), ("fail", "video_generation_failed")])
async def test_failing_markers_end_failed_with_an_error_code(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, code: str
) -> None:
    """A render that fails reports `failed` with `error` {code, message}."""
    video = await create(client, prompt=f"a scene [sandbox:{marker}]")
    clock.advance(100.0)
    failed = (await client.get(f"/v1/videos/{video['id']}", headers=AUTH)).json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == code


# ---------------------------------------------------------------------------------------- content, delete


async def test_content_needs_the_key_and_a_completed_video(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Before completion the content route refuses; after, it serves the MP4 and a thumbnail, with the key only."""
    video = await create(client)
    content = f"/v1/videos/{video['id']}/content"
    early = await client.get(content, headers=AUTH)
    clock.advance(100.0)
    mp4 = await client.get(content, headers=AUTH)
    thumbnail = await client.get(content, params={"variant": "thumbnail"}, headers=AUTH)
    anonymous = await client.get(content)
    assert early.status_code == 400
    assert (mp4.status_code, mp4.headers["content-type"]) == (200, "video/mp4")
    assert mp4_boxes(mp4.content)[0] == b"ftyp"
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert anonymous.status_code == 401


async def test_content_of_an_expired_video_is_gone(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Past `expires_at` the content route answers 404."""
    video = await create(client)
    clock.advance(5.0 + 3601.0)
    assert (await client.get(f"/v1/videos/{video['id']}/content", headers=AUTH)).status_code == 404


async def test_delete_removes_the_video(client: httpx.AsyncClient) -> None:
    """DELETE answers the deletion object; the video is then a 404."""
    video = await create(client)
    deleted = await client.delete(f"/v1/videos/{video['id']}", headers=AUTH)
    assert deleted.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert (await client.get(f"/v1/videos/{video['id']}", headers=AUTH)).status_code == 404


async def test_list_pages_newest_first(client: httpx.AsyncClient) -> None:
    """GET /videos is a list envelope, newest first, paged by `limit` and `after`."""
    first, second = await create(client), await create(client)
    page = (await client.get("/v1/videos", params={"limit": 1}, headers=AUTH)).json()
    following = (await client.get("/v1/videos", params={"limit": 1, "after": second["id"]}, headers=AUTH)).json()
    assert (page["object"], [v["id"] for v in page["data"]], page["has_more"]) == ("list", [second["id"]], True)
    assert [v["id"] for v in following["data"]] == [first["id"]]


# ------------------------------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status_code", "error_type"), [(500, "server_error"), (503, "server_error"), (429, "requests")]
)
async def test_forced_faults_answer_in_the_error_envelope(
    client: httpx.AsyncClient, status_code: int, error_type: str
) -> None:
    """An armed switch answers its status with OpenAI's own error body for it."""
    await add_fault(client, action="generate", status_code=status_code)
    reply = await post_video(client)
    assert reply.status_code == status_code
    assert error_of(reply)["type"] == error_type

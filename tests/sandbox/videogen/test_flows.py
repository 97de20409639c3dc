"""The VideoGen emulator's file upload flow, hourly rate windows and fault switches over real HTTP, and the
VideoGen adapter run end to end against it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.contract import (
    CapacityReport,
    Dimensions,
    ErrorClass,
    GenerationRequest,
    ImageData,
    ProviderSettings,
    QuotaExhausted,
    Scene,
)
from providers.videogen import VideoGenProvider
from sandbox.control import SandboxControl
from sandbox.videogen.app import VideoGenEmulatorConfig
from tests.conftest import WALL_START, FakeClock, tiny_png
from tests.sandbox.conftest import add_fault
from tests.sandbox.videogen.conftest import AUTH, GENERATE, KEY, OTHER_KEY, running, start

pytestmark = pytest.mark.asyncio(loop_scope="module")
PNG = tiny_png()


async def upload(client: httpx.AsyncClient, data: bytes = PNG, key: str = KEY, **fields: Any) -> dict[str, Any]:
    """Steps 1 and 2 of the flow: create the file, then PUT its bytes with no auth header."""
    fields.setdefault("displayName", "start-frame")
    created = await client.post("/v1/files/upload", json=fields, headers={"Authorization": f"Bearer {key}"})
    assert created.status_code == 200, created.text
    ticket: dict[str, Any] = created.json()
    put = await client.put(ticket["uploadUrl"], content=data, headers={"Content-Type": "image/png"})
    assert put.status_code == 200, put.text
    return ticket


async def file_info(client: httpx.AsyncClient, file_id: str, key: str = KEY) -> httpx.Response:
    return await client.get(f"/v1/files/{file_id}", headers={"Authorization": f"Bearer {key}"})


# ------------------------------------------------------------------------------------------------- uploads


async def test_uploaded_file_becomes_ready_after_processing(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """An upload is pending until file_ready_s after its PUT, then ready with a URL serving the same bytes."""
    ticket = await upload(client, isTemporary=True, type="IMAGE")
    assert ticket["fileId"].startswith("vg_file_")
    assert ticket["uploadUrl"].startswith(f"{client.base_url}".rstrip("/") + "/_storage/uploads/")
    pending = (await file_info(client, ticket["fileId"])).json()
    clock.advance(0.5)
    ready = (await file_info(client, ticket["fileId"])).json()
    assert (pending["downloadSource"]["status"], pending["downloadUrl"]) == ("pending", None)
    assert (ready["downloadSource"]["status"], ready["downloadSource"]["fileBytes"]) == ("ready", len(PNG))
    assert (ready["type"], ready["scope"], ready["durationSeconds"]) == ("IMAGE", "TEMPORARY", None)
    assert (await client.get(ready["downloadUrl"])).content == PNG
    assert (await start(client, startFrameFileId=ticket["fileId"], imageFileIds=[ticket["fileId"]])).startswith("vg_")


async def test_generate_with_a_file_still_processing_is_invalid(client: httpx.AsyncClient) -> None:
    """A file id whose upload has not been processed yet is refused by generate with 400."""
    ticket = await upload(client)
    reply = await client.post(GENERATE, json={"imageFileIds": [ticket["fileId"]]}, headers=AUTH)
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_parameters")


async def test_another_keys_file_is_not_found_and_not_usable(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Files belong to the key that uploaded them: another key gets 404 and cannot generate from it."""
    ticket = await upload(client, key=OTHER_KEY)
    clock.advance(1.0)
    assert (await file_info(client, ticket["fileId"])).status_code == 404
    reply = await client.post(GENERATE, json={"startFrameFileId": ticket["fileId"]}, headers=AUTH)
    assert reply.status_code == 400


async def test_upload_url_is_the_only_credential_and_expires(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A made-up upload URL and one used after its lifetime are refused by storage with 403."""
    created = (await client.post("/v1/files/upload", json={"displayName": "x"}, headers=AUTH)).json()
    assert (await client.put("/_storage/uploads/made-up", content=PNG)).status_code == 403
    clock.advance(901)
    late = await client.put(created["uploadUrl"], content=PNG)
    assert (late.status_code, "Request has expired" in late.text) == (403, True)


async def test_upload_and_file_errors(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """No displayName is 400 invalid_parameters, a malformed file id 400 invalid_id, an empty upload fails."""
    nameless = await client.post("/v1/files/upload", json={"type": "IMAGE"}, headers=AUTH)
    malformed = await file_info(client, "file_123")
    empty = await upload(client, data=b"")
    clock.advance(1.0)
    assert (nameless.status_code, nameless.json()["code"]) == (400, "invalid_parameters")
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid_id")
    assert (await file_info(client, empty["fileId"])).json()["downloadSource"]["status"] == "failed"


# ------------------------------------------------------------------------------------------------- rate windows


def limits_of(reply: httpx.Response) -> tuple[int, str, str, str]:
    headers = reply.headers
    return (
        reply.status_code,
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-remaining"],
        headers["x-ratelimit-reset"],
    )


async def test_window_depletes_to_429_and_each_call_leaves_it_an_hour_later() -> None:
    """With 3 generates an hour the 4th is 429; an hour after the first call, one call is allowed again."""
    config = VideoGenEmulatorConfig(api_keys=frozenset({KEY}), generate_per_hour=3)
    async with running(config) as sandbox:
        seen = []
        for _ in range(4):
            seen.append(limits_of(await sandbox.client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)))
            sandbox.clock.advance(10)
            sandbox.wall.advance(10)
        refused = await sandbox.client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)
        sandbox.clock.advance(3_600 - 40)
        sandbox.wall.advance(3_600 - 40)
        again = limits_of(await sandbox.client.post(GENERATE, json={"prompt": "x"}, headers=AUTH))
    reset = str(int(WALL_START) + 3_600)  # when the first call leaves the window
    assert seen == [(202, "3", "2", reset), (202, "3", "1", reset), (202, "3", "0", reset), (429, "3", "0", reset)]
    assert refused.json() == {"message": "Rate limit exceeded. Retry after X-RateLimit-Reset."}
    assert again == (202, "3", "0", str(int(WALL_START) + 3_610))


async def test_windows_are_per_endpoint_group_and_per_key() -> None:
    """Spending one key's generate window leaves its status window and other keys' windows untouched."""
    config = VideoGenEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), generate_per_hour=1, status_per_hour=7)
    async with running(config) as sandbox:
        execution_id = await start(sandbox.client)
        refused = await sandbox.client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)
        polled = await sandbox.client.get(f"/v1/tools/executions/{execution_id}", headers=AUTH)
        other = await start(sandbox.client, key=OTHER_KEY)
    assert (refused.status_code, limits_of(polled)[:3]) == (429, (200, "7", "6"))
    assert other.startswith("vg_exec_")


# ------------------------------------------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("action", "method", "path", "status_code", "expected"),
    [
        ("generate", "POST", GENERATE, 400, {"message": "Invalid parameters.", "code": "invalid_parameters"}),
        ("status", "GET", "/v1/tools/executions/vg_exec_a", 400, {"message": "Invalid id.", "code": "invalid_id"}),
        ("cancel", "POST", "/v1/tools/executions/vg_exec_a/cancel", 503, {"message": "Service Unavailable"}),
        ("upload", "POST", "/v1/files/upload", 429, {"message": "Rate limit exceeded. Retry after X-RateLimit-Reset."}),
        (
            "file",
            "GET",
            "/v1/files/vg_file_a",
            401,
            {"message": "API key is invalid or has been revoked.", "code": "invalid_api_key"},
        ),
    ],
)
async def test_status_switch_answers_with_the_documented_error(
    client: httpx.AsyncClient, action: str, method: str, path: str, status_code: int, expected: dict[str, Any]
) -> None:
    """A status switch renders VideoGen's ApiError for that status, still with the rate-limit headers."""
    await add_fault(client, action=action, status_code=status_code)
    reply = await client.request(method, path, json={"prompt": "x", "displayName": "x"}, headers=AUTH)
    assert (reply.status_code, reply.json()) == (status_code, expected)
    assert "x-ratelimit-remaining" in reply.headers


async def test_forced_403_on_generate_is_the_add_on_requirement(client: httpx.AsyncClient) -> None:
    """A forced 403 on generate carries requirement.type purchase_add_on, as the NONE watermark does."""
    await add_fault(client, action="generate", status_code=403)
    reply = await client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)
    assert (reply.status_code, reply.json()["requirement"]["type"]) == (403, "purchase_add_on")


async def test_body_switch_sends_malformed_json(client: httpx.AsyncClient) -> None:
    """A body switch sends its raw text verbatim, so a 200 can carry broken JSON."""
    await add_fault(client, action="status", body='{"status": "succ')
    reply = await client.get("/v1/tools/executions/vg_exec_a", headers=AUTH)
    assert (reply.status_code, reply.text) == (200, '{"status": "succ')


async def test_delay_switch_makes_the_client_time_out(client: httpx.AsyncClient) -> None:
    """A delay longer than the client's timeout is a read timeout; the next call is served normally."""
    await add_fault(client, action="generate", delay_s=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await client.post(GENERATE, json={"prompt": "x"}, headers=AUTH, timeout=0.05)
    assert (await client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)).status_code == 202


async def test_wildcard_switch_hits_every_action_until_cleared(client: httpx.AsyncClient) -> None:
    """A `*` switch with times -1 fails every API call until DELETE /_sandbox/faults."""
    await add_fault(client, action="*", status_code=502, times=-1)
    codes = [(await client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)).status_code]
    codes.append((await client.post("/v1/files/upload", json={"displayName": "x"}, headers=AUTH)).status_code)
    await SandboxControl(client).clear_faults()
    codes.append((await client.post(GENERATE, json={"prompt": "x"}, headers=AUTH)).status_code)
    assert codes == [502, 502, 202]


# ------------------------------------------------------------------------------------------------- end to end


def adapter(client: httpx.AsyncClient, sink: list[CapacityReport] | None = None) -> VideoGenProvider:
    settings = ProviderSettings(base_url=str(client.base_url), api_key=KEY, timeout_s=5.0)
    capacity = (sink if sink is not None else []).append
    return VideoGenProvider(client, settings, capacity=capacity, file_ready_delays_s=(0.0,) * 20)


def request(scene: Scene | None = None, **fields: Any) -> GenerationRequest:
    return GenerationRequest(upstream_model="auto", scenes=(scene or Scene(prompt="ocean waves"),), **fields)


async def test_adapter_runs_t2v_to_a_downloadable_video(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Submit, poll queued → in progress → completed; the output URL serves the MP4; headroom is reported."""
    sink: list[CapacityReport] = []
    provider = adapter(client, sink)
    job = await provider.submit(request(seconds=8, dimensions=Dimensions(width=1280, height=720), watermark=True))
    statuses = []
    for step in (0.0, 2.0, 100.0):
        clock.advance(step)
        statuses.append(await provider.poll(job))
    assert [(s.status, s.progress) for s in statuses] == [("queued", 0), ("in_progress", 25), ("completed", 100)]
    output = statuses[-1].output
    assert output is not None
    assert output.expires_at == int(WALL_START) + 3_600
    assert (await client.get(output.video_url)).content[4:8] == b"ftyp"
    assert [(h.scope, h.limit) for h in sink] == [
        ("generate", 500),
        ("status", 5000),
        ("status", 5000),
        ("status", 5000),
    ]


async def test_adapter_runs_i2v_through_the_upload_flow(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A start frame and a reference image are uploaded, processed and passed to generate, which completes."""
    image = ImageData(mime_type="image/png", data=PNG, digest="c" * 64)
    clock.step = 0.2  # time passes as the adapter polls the files
    job = await adapter(client).submit(request(Scene(prompt="waves", image=image), reference_images=(image,)))
    clock.step = 0.0
    stats = (await SandboxControl(client).stats()).calls
    assert (stats["upload"], stats["generate"], stats["file"] >= 2) == (2, 1, True)
    clock.advance(100)
    assert (await adapter(client).poll(job)).status == "completed"


async def test_adapter_cancels_a_running_execution(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """cancel() answers True and the next poll is cancelled."""
    provider = adapter(client)
    job = await provider.submit(request(Scene(prompt="ocean [sandbox:stuck]")))
    clock.advance(2.0)
    assert await provider.cancel(job) is True
    assert (await provider.poll(job)).status == "cancelled"


async def test_adapter_maps_the_emulators_failures(client: httpx.AsyncClient) -> None:
    """A blocked prompt fails as content_policy; watermark off without the add-on is quota_exhausted."""
    provider = adapter(client)
    blocked = await provider.poll(await provider.submit(request(Scene(prompt="riot [sandbox:block]"))))
    assert blocked.failure is not None
    assert (blocked.status, blocked.failure.error_class) == ("failed", ErrorClass.CONTENT_POLICY)
    with pytest.raises(QuotaExhausted):
        await provider.submit(request(watermark=False))

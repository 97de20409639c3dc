"""The NanoGPT emulator over real HTTP: auth, submit validation, both status shapes, the prepaid balance with
pre-charges and refunds, the submit window, the daily cap and the model catalogue."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest

from sandbox.nanogpt.app import NanoGptEmulatorConfig, sandbox_app
from sandbox.serving import serve_app
from tests.conftest import FakeClock
from tests.sandbox.nanogpt.conftest import AUTH, KEY, OTHER_KEY, poll, post_generate, running, submit

# One emulator serves the module; each test starts an hour later so request windows never carry over.
pytestmark = pytest.mark.asyncio(loop_scope="module")
FLAT = NanoGptEmulatorConfig(api_keys=frozenset({KEY}), status_shape="flat")
PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


# ------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("headers", [{"x-api-key": KEY}, {"Authorization": f"Bearer {KEY}"}])
async def test_both_auth_headers_are_accepted(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """§4.1: `x-api-key` and `Authorization: Bearer` both authenticate a submit."""
    reply = await client.post("/api/generate-video", json={"model": "sora-2", "prompt": "waves"}, headers=headers)
    assert reply.status_code == 202, reply.text


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "sk-nano-nope"}, {"Authorization": f"Basic {KEY}"}])
async def test_submit_without_a_valid_key_is_unauthorized(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """No key, an unknown key or another scheme get 401 in the OpenAI-style envelope."""
    reply = await client.post("/api/generate-video", json={"model": "sora-2", "prompt": "x"}, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "authentication_error"


async def test_status_without_a_valid_key_is_unauthorized_in_the_error_schema(client: httpx.AsyncClient) -> None:
    """The status route answers 401 as `{"error": 401, "message": …}`."""
    reply = await client.get("/api/video/status", params={"requestId": "vid_x"})
    assert (reply.status_code, reply.json()) == (401, {"error": 401, "message": "Unauthorized"})


# ------------------------------------------------------------------------------------------------ submit


async def test_submit_answers_202_with_the_full_documented_body(client: httpx.AsyncClient) -> None:
    """§4.4: runId == id (vid_…), status pending, the model, the pre-charged cost and the balance left."""
    first = await submit(client, model="sora-2", seconds="8")
    second = await submit(client, model="sora-2", seconds="8")
    assert set(first) == {"runId", "id", "status", "model", "cost", "paymentSource", "remainingBalance"}
    assert re.fullmatch(r"vid_[a-z0-9]+", first["runId"])
    assert (first["id"], first["status"], first["model"], first["paymentSource"]) == (
        first["runId"],
        "pending",
        "sora-2",
        "USD",
    )
    assert first["cost"] == pytest.approx(0.8)  # sora-2: 0.10 USD/s x 8 s
    assert second["remainingBalance"] == pytest.approx(first["remainingBalance"] - 0.8)


@pytest.mark.parametrize(
    ("fields", "status_code", "param"),
    [
        ({"model": None}, 400, "model"),
        ({"prompt": None}, 400, "prompt"),
        ({"prompt": "  "}, 400, "prompt"),
        ({"duration": 8}, 400, "duration"),
        ({"duration": "5"}, 400, "duration"),
        ({"aspect_ratio": "1:1"}, 400, "aspect_ratio"),
        ({"resolution": "4k"}, 400, "resolution"),
        ({"imageUrl": "http://img.test/a.png"}, 400, "imageUrl"),
        ({"imageUrl": PNG_DATA_URL}, 400, "imageUrl"),
        ({"imageDataUrl": "data:image/png;base64,%%%"}, 400, "imageDataUrl"),
        ({"imageUrl": "https://img.test/a.png", "image_tail": PNG_DATA_URL}, 400, "image_tail"),
        ({"referenceImages": [PNG_DATA_URL]}, 400, "referenceImages"),
        ({"model": "sora-2", "seconds": "5"}, 400, "seconds"),
        ({"model": "sora-2", "orientation": "square"}, 400, "orientation"),
    ],
)
async def test_submit_validation_errors_name_the_field(
    client: httpx.AsyncClient, fields: dict[str, Any], status_code: int, param: str
) -> None:
    """Each invalid field gets a 400 in the video-guide envelope naming it; nothing is charged."""
    body = {"model": "veo3-1-video", "prompt": "ocean"} | fields
    reply = await client.post(
        "/api/generate-video", json={k: v for k, v in body.items() if v is not None}, headers=AUTH
    )
    assert reply.status_code == status_code, reply.text
    assert reply.json()["error"]["param"] == param
    assert reply.json()["error"]["type"] == "VALIDATION_ERROR"


async def test_unknown_model_is_not_found(client: httpx.AsyncClient) -> None:
    """A model missing from the catalogue is 404 `model_not_found` (never a silent substitute)."""
    reply = await post_generate(client, model="veo9-video")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "model_not_found"


async def test_data_url_over_four_megabytes_is_accepted(client: httpx.AsyncClient) -> None:
    """Seed 003 recommends `imageDataUrl` for files larger than 4 MB, so such a data URL is accepted."""
    big = "data:image/png;base64," + base64.b64encode(b"\0" * (4 * 1024 * 1024 + 1)).decode()
    reply = await post_generate(client, imageDataUrl=big)
    assert reply.status_code == 202


async def test_portrait_ultrawide_aspect_is_refused(client: httpx.AsyncClient) -> None:
    """Seed 003 lists no `9:21` aspect ratio, so the emulator refuses it as a bad request."""
    reply = await post_generate(client, model="seedance-video", aspect_ratio="9:21")
    assert reply.status_code == 400


async def test_non_json_body_is_a_bad_request(client: httpx.AsyncClient) -> None:
    """A body that is not a JSON object of the documented types is a 400."""
    reply = await client.post("/api/generate-video", content=b"model=sora-2", headers=AUTH)
    assert reply.status_code == 400


async def test_fields_a_model_does_not_take_are_ignored(client: httpx.AsyncClient) -> None:
    """§4.3 "unknown keys are ignored": kling gets a resolution and an unknown key and still accepts the job."""
    job = await submit(client, model="kling-v25-turbo-pro", resolution="4k", camera_fixed=True, duration="10")
    assert job["cost"] == pytest.approx(0.7)


# ------------------------------------------------------------------------------------------------ status


@pytest.mark.parametrize("param", ["requestId", "runId"])
async def test_status_accepts_request_id_or_run_id(client: httpx.AsyncClient, param: str) -> None:
    """§4.2: `runId=` is an alias of `requestId=`."""
    job = await submit(client)
    reply = await client.get("/api/video/status", params={param: job["runId"]}, headers=AUTH)
    assert reply.json()["requestId"] == job["runId"]


@pytest.mark.parametrize(
    ("params", "key", "status_code"),
    [({}, KEY, 400), ({"requestId": "vid_neverissued"}, KEY, 404), (None, OTHER_KEY, 403)],
)
async def test_status_errors_use_the_error_schema(
    client: httpx.AsyncClient, params: dict[str, str] | None, key: str, status_code: int
) -> None:
    """Missing id 400, unknown id 404, another key's job 403, each as `{"error": <int>, "message": …}`."""
    if params is None:
        params = {"requestId": (await submit(client))["runId"]}
    reply = await client.get("/api/video/status", params=params, headers={"x-api-key": key})
    assert reply.status_code == status_code
    assert set(reply.json()) == {"error", "message"}
    assert reply.json()["error"] == status_code


async def test_job_progresses_through_the_nested_shape(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Shape A: IN_QUEUE, then IN_PROGRESS with progress, then COMPLETED with url, cost and balance."""
    job = await submit(client, duration="4")
    seen = []
    for step in (0.0, 1.0, 2.0, 2.0):
        clock.advance(step)
        seen.append((await poll(client, job["runId"]))["data"])
    assert [(d["status"], d.get("progress")) for d in seen] == [
        ("IN_QUEUE", 0),
        ("IN_PROGRESS", 0),
        ("IN_PROGRESS", 50),
        ("COMPLETED", None),
    ]
    done = seen[-1]
    assert done["output"]["video"]["url"].endswith(f"/storage/videos/{job['runId']}.mp4")
    assert (done["cost"], done["paymentSource"]) == (job["cost"], "USD")
    assert done["remainingBalance"] <= job["remainingBalance"]


async def test_completed_url_serves_the_mp4_and_is_absent_before(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The output URL 404s while the job runs and serves a real MP4 (ftyp box) once it completed."""
    job = await submit(client)
    url = f"/storage/videos/{job['runId']}.mp4"
    assert (await client.get(url)).status_code == 404
    clock.advance(10)
    reply = await client.get((await poll(client, job["runId"]))["data"]["output"]["video"]["url"])
    assert (reply.status_code, reply.headers["content-type"]) == (200, "video/mp4")
    assert reply.content[4:8] == b"ftyp"


async def test_flat_shape_reports_every_key_and_lowercase_states() -> None:
    """With status_shape "flat", Shape B's keys are all present and states run queued → processing → completed."""
    async with running(FLAT) as sandbox:
        job = await submit(sandbox.client)
        bodies = []
        for step in (0.0, 2.0, 10.0):
            sandbox.clock.advance(step)
            bodies.append(await poll(sandbox.client, job["runId"]))
    keys = {
        "requestId",
        "status",
        "progress",
        "estimatedTimeRemaining",
        "videoUrl",
        "error",
        "createdAt",
        "completedAt",
    }
    assert all(set(body) == keys for body in bodies)
    assert [(b["status"], b["progress"]) for b in bodies] == [("queued", 0), ("processing", 25), ("completed", 100)]
    assert bodies[0]["createdAt"] == "2025-12-31T23:59:00.000Z"
    assert (bodies[2]["completedAt"], bodies[2]["error"]) == ("2025-12-31T23:59:05.000Z", None)
    assert bodies[2]["videoUrl"].endswith(f"/storage/videos/{job['runId']}.mp4")


@pytest.mark.parametrize(
    ("marker", "status", "error"),
    [("[sandbox:fail]", "failed", "Generation failed"), ("[sandbox:cancel]", "cancelled", None)],
)
async def test_flat_shape_terminal_failures(marker: str, status: str, error: str | None) -> None:
    """Shape B ends `failed` with a string error, or `cancelled` (two Ls)."""
    async with running(FLAT) as sandbox:
        job = await submit(sandbox.client, prompt=f"waves {marker}")
        sandbox.clock.advance(10)
        body = await poll(sandbox.client, job["runId"])
    assert (body["status"], body["error"], body["videoUrl"]) == (status, error, None)


# ----------------------------------------------------------------------------------------------- balance


async def test_balance_really_decreases_by_each_models_price() -> None:
    """Each accepted submit pre-charges its model's price; remainingBalance tracks it to the cent."""
    async with running(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), starting_balance_usd=5.0)) as sandbox:
        seedance = await submit(sandbox.client, model="seedance-video", duration="10")
        wan = await submit(sandbox.client, model="wan-wavespeed-25", duration="10")
    assert (seedance["cost"], seedance["remainingBalance"]) == (0.24, pytest.approx(4.76))
    assert (wan["cost"], wan["remainingBalance"]) == (0.5, pytest.approx(4.26))


async def test_exhausted_balance_is_a_legacy_402_and_charges_nothing() -> None:
    """A submit the balance cannot cover gets `{"error":"Insufficient balance","requiredBalance":…,"status":402}`."""
    async with running(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), starting_balance_usd=1.0)) as sandbox:
        first = await submit(sandbox.client, model="veo3-1-video", duration="4")  # 0.60
        refused = await post_generate(sandbox.client, model="veo3-1-video", duration="4")
        cheaper = await submit(sandbox.client, model="sora-2", seconds="4")  # 0.40 still fits
    assert first["remainingBalance"] == pytest.approx(0.4)
    assert (refused.status_code, refused.json()) == (
        402,
        {"error": "Insufficient balance", "requiredBalance": 0.6, "status": 402},
    )
    assert cheaper["remainingBalance"] == pytest.approx(0.0)


@pytest.mark.parametrize("marker", ["[sandbox:fail]", "[sandbox:unsafe]", "[sandbox:cancel]"])
async def test_failed_jobs_are_refunded_once_they_end(marker: str) -> None:
    """§4.8 automatic refunds: the charge comes back when the job ends FAILED (or CANCELED), not before."""
    async with running(NanoGptEmulatorConfig(api_keys=frozenset({KEY}), starting_balance_usd=2.0)) as sandbox:
        failing = await submit(sandbox.client, model="sora-2", seconds="8", prompt=f"x {marker}")
        during = await submit(sandbox.client, model="sora-2", seconds="4")
        sandbox.clock.advance(10)
        after = await submit(sandbox.client, model="sora-2", seconds="4")
    assert failing["remainingBalance"] == pytest.approx(1.2)
    assert during["remainingBalance"] == pytest.approx(0.8)
    assert after["remainingBalance"] == pytest.approx(0.8 + 0.8 - 0.4)


async def test_blocked_prompt_is_not_charged(client: httpx.AsyncClient) -> None:
    """[sandbox:block] is refused at submit with 400 content_policy_violation, and the balance is untouched."""
    before = await submit(client, model="sora-2")
    reply = await post_generate(client, model="sora-2", prompt="x [sandbox:block]")
    after = await submit(client, model="sora-2")
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "content_policy_violation"
    assert reply.json()["refundMessage"]
    assert after["remainingBalance"] == pytest.approx(before["remainingBalance"] - 0.4)


# ------------------------------------------------------------------------------------------------ limits


async def test_submit_window_depletes_to_429_and_resets_on_the_clock() -> None:
    """The per-minute window (here 3) answers RATE_LIMITED with Retry-After, then reopens a minute on."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({KEY}), submit_limit_per_minute=3)
    async with running(config) as sandbox:
        codes = []
        for _ in range(3):
            codes.append((await post_generate(sandbox.client)).status_code)
            sandbox.clock.advance(10)
        limited = await post_generate(sandbox.client)
        sandbox.clock.advance(30)
        reopened = await post_generate(sandbox.client)
    assert codes == [202, 202, 202]
    assert (limited.status_code, limited.json()["error"]["type"]) == (429, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "30"
    assert reopened.status_code == 202


async def test_daily_cap_answers_429_until_midnight_utc() -> None:
    """§4.7: an exceeded per-key daily cap is 429 `daily_rpd_limit_exceeded`, Retry-After to 00:00 UTC."""
    config = NanoGptEmulatorConfig(api_keys=frozenset({KEY}), daily_request_limit=2)
    async with running(config) as sandbox:
        codes = [(await post_generate(sandbox.client)).status_code for _ in range(2)]
        capped = await post_generate(sandbox.client)
        sandbox.wall.advance(60)
        next_day = await post_generate(sandbox.client)
    assert codes == [202, 202]
    assert (capped.status_code, capped.json()["error"]["code"]) == (429, "daily_rpd_limit_exceeded")
    assert capped.headers["retry-after"] == "60"
    assert next_day.status_code == 202


# --------------------------------------------------------------------------------------------- catalogue


async def test_video_models_lists_the_eight_models_in_the_catalogue_shape(client: httpx.AsyncClient) -> None:
    """§4.9 without auth: a list of model objects with architecture, pricing, capabilities and parameters."""
    body = (await client.get("/api/v1/video-models", params={"detailed": "true"})).json()
    ids = [model["id"] for model in body["data"]]
    assert ids == [
        "sora-2",
        "veo3-1-video",
        "kling-v25-turbo-pro",
        "wan-wavespeed-25",
        "wan-wavespeed-25-extend",
        "runwayml-gen4-aleph",
        "seedance-video",
        "lightricks-ltx-2-fast",
    ]
    assert (body["object"], body["meta"]["count"]) == ("list", 8)
    sora = body["data"][0]
    assert set(sora) >= {"id", "object", "name", "architecture", "pricing", "capabilities", "supported_parameters"}
    assert sora["pricing"] == {"currency": "USD", "per_second": 0.1}
    assert sora["supported_parameters"]["seconds"] == ["4", "8", "12"]
    assert body["data"][2]["supported_parameters"]["image_tail"] is True


async def test_sandbox_app_serves_one_key_on_the_given_time_scale() -> None:
    """`make run`'s factory accepts its key, and with time_scale 0 a job completes at once."""
    async with serve_app(sandbox_app("sk-nano-run", 0.0)) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        job = await submit(http, "sk-nano-run")
        assert (await poll(http, job["runId"], "sk-nano-run"))["data"]["status"] == "COMPLETED"
        assert (await post_generate(http, KEY)).status_code == 401

"""The videogenapi emulator over real HTTP: auth, the seed 002 accepted and status envelopes, validation 400s,
the job clock, the public video, the list and user routes, and the sandbox's prompt markers."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.control import SandboxControl
from sandbox.videogenapi.app import VideoGenApiEmulatorConfig
from tests.conftest import WALL_START, FakeClock
from tests.sandbox.conftest import Sandbox
from tests.sandbox.videogenapi.conftest import AUTH, KEY, OTHER_AUTH, generate, post_generate, running, status

# Seed 002's two example bodies, key for key and in order.
ACCEPTED_KEYS = [
    "success", "generation_id", "request_id", "status", "type", "model", "prompt", "duration", "resolution",
    "style", "fps", "aspect_ratio", "seed", "status_url", "message", "usage",
]  # fmt: skip
COMPLETED_KEYS = [
    "success", "generation_id", "status", "type", "model", "video_url", "prompt", "duration", "resolution",
    "style", "fps", "aspect_ratio", "processing_time", "completed_at", "seed",
]  # fmt: skip

# One emulator serves the module; the fixtures reset the wall clock and statistics around each test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    sandbox.wall.now = WALL_START
    yield sandbox.client
    await SandboxControl(sandbox.client).clear_faults()


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


async def finished(client: httpx.AsyncClient, clock: FakeClock, **fields: Any) -> dict[str, Any]:
    job = await generate(client, **fields)
    clock.advance(1_000)
    return await status(client, job["generation_id"])


# --------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "Basic bHQ=", "Bearer", KEY])
async def test_request_without_bearer_token_is_unauthorized(client: httpx.AsyncClient, header: str | None) -> None:
    """No header, another scheme, an empty token or a bare key get 401 with error and message."""
    reply = await post_generate(client, {} if header is None else {"Authorization": header})
    assert reply.status_code == 401
    assert reply.json()["error"] == "Unauthorized"
    assert reply.json()["message"].startswith("Missing API key")


async def test_unknown_api_key_is_unauthorized_on_every_private_route(client: httpx.AsyncClient) -> None:
    """generate, status, generations and user all refuse a key the account never issued."""
    bad = {"Authorization": "Bearer lt_nope"}
    replies = [
        await post_generate(client, bad),
        await client.get("/api/v1/status/gen_x", headers=bad),
        await client.get("/api/v1/generations", headers=bad),
        await client.get("/api/v1/user", headers=bad),
    ]
    assert {(r.status_code, r.json()["message"]) for r in replies} == {(401, "Invalid API key.")}


async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    """An unauthenticated request with a broken body fails on auth, not on validation."""
    assert (await client.post("/api/v1/generate", content=b"garbage")).status_code == 401


# --------------------------------------------------------------------------------------------------- generate


async def test_generate_returns_the_documented_accepted_envelope(client: httpx.AsyncClient) -> None:
    """The 200 has seed 002's keys in order, its echo of the request, and usage that grew by one."""
    before = (await client.get("/api/v1/user", headers=AUTH)).json()["usage"]["current_month_usage"]
    body = await generate(client, duration=10, resolution="1080p", aspect_ratio="16:9", seed=42)
    assert list(body) == ACCEPTED_KEYS
    assert re.fullmatch(r"gen_[0-9a-f]{13}_[0-9]{6}", body["generation_id"])
    assert uuid.UUID(body["request_id"])
    assert (body["success"], body["status"], body["type"]) == (True, "pending", "text-to-video")
    assert body["model"] == {"key": "kling_25", "name": "Kling 2.5", "provider": "Kuaishou"}
    assert (body["duration"], body["resolution"], body["aspect_ratio"], body["seed"]) == (10, "1080p", "16:9", 42)
    assert (body["style"], body["fps"]) == ("realistic", 30)
    assert body["status_url"] == f"/v1/status/{body['generation_id']}"
    assert body["message"] == "Video generation request submitted successfully."
    assert body["usage"] == {"current_month_usage": before + 1, "monthly_limit": 100_000}


@pytest.mark.parametrize(
    ("model", "expected"),
    [("sora-2", ("sora-2", 10, "720p")), ("kling_25", ("kling_25", 5, "720p")), ("ltxv-13b", ("ltxv-13b", 5, "480p"))],
)
async def test_generate_defaults_fit_each_model(
    client: httpx.AsyncClient, model: str, expected: tuple[str, int, str]
) -> None:
    """Omitted fields take seed 002's defaults (5 s, 720p, 16:9), or the model's own where those do not fit."""
    body = await generate(client, model=model)
    assert (body["model"]["key"], body["duration"], body["resolution"]) == expected
    assert body["aspect_ratio"] == "16:9"


async def test_generate_defaults_to_sora_2_and_accepts_display_names(client: httpx.AsyncClient) -> None:
    """No model means sora-2; the docs' Python samples' display names ("Veo 3.1 Fast") resolve to keys."""
    default = await client.post("/api/v1/generate", json={"prompt": "x"}, headers=AUTH)
    named = await generate(client, model="Veo 3.1 Fast")
    assert (default.json()["model"]["key"], named["model"]["key"]) == ("sora-2", "veo-31")


async def test_random_seed_is_chosen_when_none_or_minus_one_is_sent(client: httpx.AsyncClient) -> None:
    """Seed -1 (seed 002: random) echoes a concrete positive seed."""
    assert (await generate(client, seed=-1))["seed"] > 0


async def test_image_to_video_reply_has_no_aspect_ratio(client: httpx.AsyncClient) -> None:
    """With image_url the type is image-to-video and no aspect is echoed (aspect_ratio is t2v only)."""
    body = await generate(client, image_url="https://example.com/dog.jpg", aspect_ratio="4:3")
    assert body["type"] == "image-to-video"
    assert "aspect_ratio" not in body


@pytest.mark.parametrize(("count", "aspect"), [(2, "4:3"), (3, "16:9")])
async def test_veo_31_keeps_the_aspect_for_two_images_and_forces_16_9_for_three(
    client: httpx.AsyncClient, count: int, aspect: str
) -> None:
    """Veo 3.1 honours aspect_ratio in first-last mode and forces 16:9 in reference mode (seed 004)."""
    urls = [f"https://example.com/{i}.jpg" for i in range(count)]
    body = await generate(client, model="veo-31", reference_image_urls=urls, aspect_ratio="4:3")
    assert (body["type"], body["aspect_ratio"]) == ("image-to-video", aspect)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"prompt": None}, "Missing required parameter"),
        ({"prompt": "  "}, "Missing required parameter"),
        ({"prompt": "x" * 1001}, "Invalid parameter"),
        ({"prompt": 5}, "Invalid parameter"),
        ({"model": "higgsfield"}, "Invalid model"),
        ({"duration": 15}, "Invalid duration"),
        ({"model": "sora-2", "duration": 8}, "Invalid duration"),
        ({"model": "higgsfield_v1", "image_url": "https://example.com/a.jpg"}, "Image-to-video not supported"),
        ({"aspect_ratio": "9:16"}, "Invalid aspect ratio"),
        ({"resolution": "4K"}, "Invalid resolution"),
        ({"model": "ltxv-2", "resolution": "2K"}, "Invalid resolution"),
        ({"reference_image_urls": ["https://example.com/a.jpg"]}, "Multi-image not supported"),
        ({"model": "veo-31", "reference_image_urls": ["https://e.com/a.jpg"] * 6}, "Invalid parameter"),
        ({"image_url": "ftp://example.com/a.jpg"}, "Invalid image URL"),
    ],
    ids=[
        "no-prompt", "blank-prompt", "long-prompt", "prompt-type", "stale-model-key", "duration-over-range",
        "duration-not-fixed", "i2v-on-t2v-only", "aspect-9-16", "resolution-over-model", "unknown-resolution",
        "refs-on-single-image-model", "six-refs", "non-http-image",
    ],
)  # fmt: skip
async def test_generate_rejects_invalid_parameters(
    client: httpx.AsyncClient, fields: dict[str, Any], error: str
) -> None:
    """Each invalid parameter gets a 400 with an `error` title and a `message`, and nothing is accepted."""
    reply = await post_generate(client, **fields)
    assert reply.status_code == 400
    assert set(reply.json()) == {"error", "message"}
    assert reply.json()["error"] == error


async def test_non_json_body_is_a_bad_request(client: httpx.AsyncClient) -> None:
    """A body that is not JSON gets 400 Invalid JSON."""
    reply = await client.post("/api/v1/generate", content=b"not json", headers=AUTH)
    assert (reply.status_code, reply.json()["error"]) == (400, "Invalid JSON")


# --------------------------------------------------------------------------------------------------- status


async def test_job_moves_through_the_documented_states_on_the_clock(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """pending, then in_queue (the queue's second half), in_progress for run_s, then completed."""
    job = await generate(client)
    seen = []
    for step in (0.0, 0.6, 0.5, 3.8, 0.2):
        clock.advance(step)
        seen.append((await status(client, job["generation_id"]))["status"])
    assert seen == ["pending", "in_queue", "in_progress", "in_progress", "completed"]


async def test_completed_body_has_the_documented_fields(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The completed body has seed 002's keys in order, a video URL on this emulator and a tz-less completed_at."""
    job = await generate(client, seed=7)
    sandbox.clock.advance(5)
    body = await status(client, job["generation_id"])
    assert list(body) == COMPLETED_KEYS
    assert body["video_url"] == f"{sandbox.base_url}/api/v1/video/{job['generation_id']}"
    assert (body["processing_time"], body["completed_at"], body["seed"]) == (5, "2025-06-15 15:06:45", 7)


async def test_running_body_is_the_envelope_without_result_fields(client: httpx.AsyncClient) -> None:
    """A pending job's body carries the same envelope but no video_url, processing_time or completed_at."""
    body = await status(client, (await generate(client))["generation_id"])
    assert list(body) == [key for key in COMPLETED_KEYS if key not in ("video_url", "processing_time", "completed_at")]


async def test_add_audio_runs_longer_under_the_same_generation_id(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """add_audio adds audio_s after the video (seed 002 "Processing Time"), so the job completes later."""
    job = await generate(client, add_audio=True, audio_prompt="birdsong")
    clock.advance(5.5)
    assert (await status(client, job["generation_id"]))["status"] == "in_progress"
    clock.advance(1.0)
    assert (await status(client, job["generation_id"]))["status"] == "completed"


async def test_time_scale_stretches_both_phases() -> None:
    """With time_scale 2 the queue lasts 2 s and the run 8 s."""
    config = VideoGenApiEmulatorConfig(api_keys=frozenset({KEY}), time_scale=2.0)
    async with running(config) as sandbox:
        job = await generate(sandbox.client)
        seen = []
        for step in (1.5, 1.0, 7.0, 1.0):
            sandbox.clock.advance(step)
            seen.append((await status(sandbox.client, job["generation_id"]))["status"])
    assert seen == ["in_queue", "in_progress", "in_progress", "completed"]


async def test_status_of_an_unknown_or_foreign_generation_is_not_found(client: httpx.AsyncClient) -> None:
    """An id never issued, or issued to another key, gets 404."""
    foreign = await generate(client, OTHER_AUTH)
    for generation_id in ("gen_000000000000_000000", foreign["generation_id"]):
        reply = await client.get(f"/api/v1/status/{generation_id}", headers=AUTH)
        assert (reply.status_code, reply.json()) == (404, {"error": "Not found", "message": "Generation not found."})


# --------------------------------------------------------------------------------------------------- video


async def test_completed_video_downloads_as_mp4_without_auth(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The video URL is public (seed 002 "Public Access") and serves real MP4 bytes."""
    reply = await client.get((await finished(client, clock))["video_url"])
    assert (reply.status_code, reply.headers["content-type"]) == (200, "video/mp4")
    assert reply.content[4:8] == b"ftyp"


async def test_video_of_an_unfinished_or_unknown_generation_is_not_found(client: httpx.AsyncClient) -> None:
    """Before completion, and for an unknown id, the video route answers 404."""
    job = await generate(client)
    for generation_id in (job["generation_id"], "gen_nope"):
        assert (await client.get(f"/api/v1/video/{generation_id}")).status_code == 404


# --------------------------------------------------------------------------------------------------- list, user


async def test_generations_lists_own_jobs_newest_first_with_paging() -> None:
    """`data` holds this key's generations, newest first, `limit` per page; another key's are not listed."""
    async with running() as sandbox:
        ids = [(await generate(sandbox.client, prompt=f"shot {i}"))["generation_id"] for i in range(3)]
        await generate(sandbox.client, OTHER_AUTH)
        first = (await sandbox.client.get("/api/v1/generations?page=1&limit=2", headers=AUTH)).json()
        second = (await sandbox.client.get("/api/v1/generations?page=2&limit=2", headers=AUTH)).json()
    assert [item["generation_id"] for item in first["data"]] == [ids[2], ids[1]]
    assert [item["generation_id"] for item in second["data"]] == [ids[0]]
    assert (first["success"], first["page"], first["limit"], first["total"]) == (True, 1, 2, 3)


@pytest.mark.parametrize("query", ["page=0", "limit=0", "limit=101", "page=abc"])
async def test_generations_rejects_bad_paging(client: httpx.AsyncClient, query: str) -> None:
    """A page below 1 or a limit outside 1-100 gets 400."""
    assert (await client.get(f"/api/v1/generations?{query}", headers=AUTH)).status_code == 400


async def test_user_reports_this_months_usage() -> None:
    """`GET /user` reports the key's monthly usage and the plan's limit."""
    async with running() as sandbox:
        for _ in range(2):
            await generate(sandbox.client)
        body = (await sandbox.client.get("/api/v1/user", headers=AUTH)).json()
    assert body["usage"] == {"current_month_usage": 2, "monthly_limit": 100_000}


# --------------------------------------------------------------------------------------------------- markers


async def test_block_marker_is_refused_at_submit_and_not_counted(client: httpx.AsyncClient) -> None:
    """[sandbox:block] gets a content-policy 400 at generate, and the month's usage does not grow."""
    before = (await client.get("/api/v1/user", headers=AUTH)).json()["usage"]
    reply = await post_generate(client, prompt="a fight [sandbox:block]")
    assert (reply.status_code, reply.json()["error"]) == (400, "Content policy violation")
    assert (await client.get("/api/v1/user", headers=AUTH)).json()["usage"] == before


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ("[sandbox:fail]", "Video generation failed. Please try again."),
        ("[SANDBOX:TIMEOUT]", "Video generation timed out."),
        ("[sandbox:unsafe]", "The generated video was flagged by content moderation."),
    ],
)
async def test_outcome_markers_end_failed_with_the_error_field(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, error: str
) -> None:
    """After the normal phases the job is failed with exactly success, generation_id, status and error."""
    job = await generate(client, prompt=f"waves {marker}")
    clock.advance(1.5)
    assert (await status(client, job["generation_id"]))["status"] == "in_progress"
    clock.advance(1_000)
    expected = {"success": True, "generation_id": job["generation_id"], "status": "failed", "error": error}
    assert await status(client, job["generation_id"]) == expected


async def test_stuck_marker_never_finishes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:stuck] stays in_progress however long the job runs, and has no video."""
    job = await generate(client, prompt="waves [sandbox:stuck]")
    clock.advance(1e9)
    assert (await status(client, job["generation_id"]))["status"] == "in_progress"
    assert (await client.get(f"/api/v1/video/{job['generation_id']}")).status_code == 404


async def test_cancel_marker_completes_because_videogenapi_has_no_cancelled_state(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """[sandbox:cancel] has nothing to emulate here (no cancel in seed 002), so the job completes."""
    assert (await finished(client, clock, prompt="waves [sandbox:cancel]"))["status"] == "completed"

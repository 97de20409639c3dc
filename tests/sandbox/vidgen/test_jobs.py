"""The Vidgen v2 emulator's jobs over real HTTP: status lookups, the job clock, the completed meta, presigned
assets, and the pure JobTimeline. Request validation and fault switches live elsewhere."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx
import pytest

from sandbox.clock import JobTimeline, Progress
from sandbox.vidgen.app import VidgenEmulatorConfig
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox
from tests.sandbox.vidgen.conftest import KEY, call, completed_meta, image, poll, running, submit

# Every key of the seed's "Completed (Safe)" meta example.
SEED_META_KEYS = {
    "id", "gen_id", "time", "prompt", "scenes", "model", "size", "width", "height", "upscale",
    "music_enabled", "fx_sound_enabled", "scene_count", "optimized", "compliance", "compliance_codes",
    "fingerprint", "flagged", "images", "enable_watermark", "enable_c2pa", "compute_fingerprint",
    "wm_position", "wm_scale", "wm_transparency", "cs_author", "cs_title", "cs_description",
    "cs_organization", "cs_vendor",
}  # fmt: skip

# One emulator serves the whole module (starting and stopping one takes ~0.2 s); fixtures reset its
# clocks, switches and statistics around each test. The mark reaches every test, so even the pure
# ones below are `async def`.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def wall(sandbox: Sandbox) -> FakeClock:
    return sandbox.wall


# --------------------------------------------------------------------------------------------------- status


@pytest.mark.parametrize("body", [{}, {"id": ""}, {"id": "abc"}, {"id": "run_"}, {"id": "run_ab-c"}, {"id": 7}])
async def test_status_rejects_malformed_ids(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """An id not shaped like run_<alnum> gets 400 Bad ID."""
    reply = await call(client, {"action": "status", "model": "scenex", **body})
    assert (reply.status_code, reply.json()) == (400, {"error": "Bad ID"})


async def test_status_of_an_unknown_job_is_not_found(client: httpx.AsyncClient) -> None:
    """A well-formed id the emulator never issued gets 404 Job not found."""
    reply = await call(client, {"action": "status", "id": "run_neverissued", "model": "scenex"})
    assert (reply.status_code, reply.json()) == (404, {"error": "Job not found"})


async def test_status_under_another_model_is_not_found(client: httpx.AsyncClient) -> None:
    """Polling a job with a different model than the resolved one finds nothing."""
    job = await submit(client, model="wan22")
    reply = await call(client, {"action": "status", "id": job["id"], "model": "scenex"})
    assert (reply.status_code, reply.json()) == (404, {"error": "Job not found"})


async def test_job_progresses_on_the_injected_clock(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A job is IN_QUEUE for queue_s, IN_PROGRESS for run_s, then COMPLETED."""
    job = await submit(client)
    seen = []
    for step in (0.0, 0.75, 0.25, 3.75, 0.25):
        clock.advance(step)
        seen.append((await poll(client, job))["status"])
    assert seen == ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]


async def test_time_scale_stretches_both_phases() -> None:
    """With time_scale 2 the queue lasts 2 s and the run 8 s."""
    async with running(VidgenEmulatorConfig(api_keys=frozenset({KEY}), time_scale=2.0)) as sandbox:
        job = await submit(sandbox.client)
        seen = []
        for step in (1.5, 1.0, 7.0, 1.0):
            sandbox.clock.advance(step)
            seen.append((await poll(sandbox.client, job))["status"])
    assert seen == ["IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]


async def test_completed_meta_has_every_documented_field(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The completed meta carries exactly the seed example's keys, with its defaults and safe compliance."""
    job = await submit(client)
    clock.advance(5)
    meta = (await poll(client, job))["meta"]
    assert set(meta) == SEED_META_KEYS
    assert (meta["id"], meta["gen_id"], meta["time"]) == (job["id"], job["gen_id"], "2025-06-15T15:06:40Z")
    assert (meta["compliance"], meta["compliance_codes"], meta["flagged"]) == ("safe", [], False)
    assert (meta["scene_count"], meta["optimized"], meta["upscale"]) == (1, False, False)
    assert (meta["wm_position"], meta["wm_scale"], meta["wm_transparency"]) == ("bottom-right", 5, 100)
    assert (meta["cs_author"], meta["cs_title"]) == ("Author", "AI Video")
    assert image(meta, "signed")["filename"] == f"{job['gen_id']}_{meta['fingerprint']}_00001.mp4"
    assert image(meta, "thumbnail")["filename"] == f"{job['gen_id']}_{meta['fingerprint']}_00001_thumb.jpg"


async def test_completed_meta_echoes_request_settings(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """Upscale, music, sound, watermark, C2PA overrides and per-scene frames show up in meta."""
    scenes = [{"prompt": "a", "start_frame": "data:image/png;base64,AA=="}, {"prompt": "b"}]
    settings = {
        "upscale": True, "music": {"enabled": True, "bpm": 72}, "fx_sound": {"enabled": True},
        "wm_position": "top-left", "wm_scale": 9, "cs_author": "Ada", "cs_vendor": "Acme",
    }  # fmt: skip
    meta = await completed_meta(client, clock, scenes=scenes, **settings)
    assert (meta["upscale"], meta["music_enabled"], meta["fx_sound_enabled"]) == (True, True, True)
    assert (meta["wm_position"], meta["wm_scale"], meta["cs_author"], meta["cs_vendor"]) == (
        "top-left",
        9,
        "Ada",
        "Acme",
    )
    assert meta["scene_count"] == 2
    assert [s["has_start_frame"] for s in meta["scenes"]] == [True, False]


# --------------------------------------------------------------------------------------------------- assets


async def test_signed_video_url_downloads_an_mp4(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The signed image URL points at this emulator and serves MP4 bytes (an ftyp box first)."""
    url = image(await completed_meta(client, clock), "signed")["url"]
    assert url.startswith(f"{client.base_url}".rstrip("/") + "/assets/")
    reply = await client.get(url)
    assert (reply.status_code, reply.headers["content-type"]) == (200, "video/mp4")
    assert reply.content[4:8] == b"ftyp"


async def test_thumbnail_url_downloads_a_jpeg(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The thumbnail URL serves JPEG bytes."""
    reply = await client.get(image(await completed_meta(client, clock), "thumbnail")["url"])
    assert (reply.status_code, reply.headers["content-type"]) == (200, "image/jpeg")
    assert reply.content[:2] == b"\xff\xd8"


async def test_presigned_url_looks_like_sigv4_query_auth(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """The query carries the signing time, the validity in seconds and a hex signature."""
    url = image(await completed_meta(client, clock), "signed")["url"]
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert (query["X-Amz-Date"], query["X-Amz-Expires"]) == ("20250615T150640Z", "3600")
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: re.sub(r"X-Amz-Signature=(\w)", lambda m: "X-Amz-Signature=" + "01"[m[1] == "0"], url),
        lambda url: url.replace("X-Amz-Expires=3600", "X-Amz-Expires=99999"),
        lambda url: url.replace(".mp4?", "_thumb.jpg?"),
        lambda url: url.split("?")[0],
    ],
)
async def test_tampered_url_is_forbidden(client: httpx.AsyncClient, clock: FakeClock, tamper: Any) -> None:
    """Changing the signature, the expiry or the file, or dropping the query, gets an S3-style 403."""
    url = image(await completed_meta(client, clock), "signed")["url"]
    reply = await client.get(tamper(url))
    assert reply.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in reply.text


async def test_expired_url_is_forbidden(client: httpx.AsyncClient, clock: FakeClock, wall: FakeClock) -> None:
    """A URL used after X-Amz-Expires seconds gets 403 Request has expired."""
    url = image(await completed_meta(client, clock), "signed")["url"]
    wall.advance(3_601)
    reply = await client.get(url)
    assert reply.status_code == 403
    assert "<Message>Request has expired</Message>" in reply.text


# --------------------------------------------------------------------------------------------------- clock


async def test_timeline_moves_from_queued_to_running_to_done() -> None:
    """Phases change at the scaled boundaries and progress grows linearly while running."""
    timeline = JobTimeline(created_at=10.0, queue_s=1.0, run_s=4.0, time_scale=0.5)
    readings = [timeline.at(now) for now in (9.0, 10.49, 10.5, 11.5, 12.5)]
    assert readings == [
        Progress(phase="queued", fraction=0.0),
        Progress(phase="queued", fraction=0.0),
        Progress(phase="running", fraction=0.0),
        Progress(phase="running", fraction=0.5),
        Progress(phase="done", fraction=1.0),
    ]


async def test_timeline_with_zero_durations_is_done_at_once() -> None:
    """A job with no queue and no run time is done at its creation instant."""
    assert JobTimeline(created_at=3.0, queue_s=0.0, run_s=0.0).at(3.0).phase == "done"

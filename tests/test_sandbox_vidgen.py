"""The Vidgen v2 emulator over real HTTP: the seed's replies and errors, its silent fallbacks, the job clock,
presigned assets, and the sandbox's markers, switches and statistics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import httpx
import pytest
import pytest_asyncio

from providers.sandbox.clock import JobTimeline, Progress
from providers.sandbox.faults import Outcome, marker_outcome
from providers.sandbox.serving import serve_app
from providers.sandbox.vidgen import VidgenEmulatorConfig, create_vidgen_emulator
from providers.sandbox.vidgen_jobs import SEED_ACTIONS, SEED_CLOTHING, SEED_FRAMING, SEED_LOCATIONS

KEY, DISABLED_KEY = "key-live", "key-disabled"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODELS = {"scenex": "SceneX", "wan22": "Wan 2.2"}
CONFIG = VidgenEmulatorConfig(
    api_keys=frozenset({KEY, DISABLED_KEY}), disabled_keys=frozenset({DISABLED_KEY}), models=MODELS
)
WALL_START = 1_750_000_000.0  # 2025-06-15T15:06:40Z
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


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sandbox(NamedTuple):
    client: httpx.AsyncClient
    clock: FakeClock
    wall: FakeClock


@contextlib.asynccontextmanager
async def running(config: VidgenEmulatorConfig = CONFIG) -> AsyncIterator[Sandbox]:
    clock, wall = FakeClock(100.0), FakeClock(WALL_START)
    app = create_vidgen_emulator(config, clock=clock, wall_clock=wall)
    # A fresh connection per request: serve_app's listening socket lacks TCP_NODELAY, so a reused
    # connection waits ~40 ms per reply on Nagle + delayed ACK.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url, limits=limits) as client:
        yield Sandbox(client, clock, wall)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    sandbox.wall.now = WALL_START
    await sandbox.client.delete("/_sandbox/stats")
    yield sandbox.client
    await sandbox.client.delete("/_sandbox/faults")


@pytest.fixture
def clock(sandbox: Sandbox) -> FakeClock:
    return sandbox.clock


@pytest.fixture
def wall(sandbox: Sandbox) -> FakeClock:
    return sandbox.wall


async def call(client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await client.post("/api/v2", json=body, headers=AUTH, **kwargs)


async def generate(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("scenes", [{"prompt": "ocean waves, -blurry"}])
    reply = await call(client, {"action": "generate", **fields})
    assert reply.status_code == 200, reply.text
    job: dict[str, Any] = reply.json()
    return job


async def submit(client: httpx.AsyncClient, *prompts: str, **fields: Any) -> dict[str, Any]:
    scenes = [{"prompt": prompt} for prompt in prompts or ("ocean waves, -blurry",)]
    return await generate(client, scenes=scenes, **fields)


async def poll(client: httpx.AsyncClient, job: dict[str, Any]) -> dict[str, Any]:
    reply = await call(client, {"action": "status", "id": job["id"], "model": job["model"]})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


async def completed_meta(client: httpx.AsyncClient, clock: FakeClock, **fields: Any) -> dict[str, Any]:
    job = await generate(client, **fields)
    clock.advance(1_000)
    body = await poll(client, job)
    assert body["status"] == "COMPLETED"
    meta: dict[str, Any] = body["meta"]
    return meta


async def add_fault(client: httpx.AsyncClient, **spec: Any) -> None:
    reply = await client.post("/_sandbox/faults", json=spec)
    assert reply.status_code == 201, reply.text


def image(meta: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(entry for entry in meta["images"] if entry["type"] == kind)
    return found


# --------------------------------------------------------------------------------------------------- auth


@pytest.mark.parametrize("header", [None, "Basic a2V5", "Bearer", KEY])
async def test_request_without_bearer_token_is_unauthorized(client: httpx.AsyncClient, header: str | None) -> None:
    """No header, another scheme, an empty token or a bare key all get the missing-header 401."""
    headers = {} if header is None else {"Authorization": header}
    reply = await client.post("/api/v2", json={"action": "models"}, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "Missing or invalid Authorization header"})


async def test_unknown_api_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    """A key the deployment never issued gets the invalid-key 401."""
    reply = await client.post("/api/v2", json={"action": "models"}, headers={"Authorization": "Bearer nope"})
    assert (reply.status_code, reply.json()) == (401, {"error": "Invalid API key"})


async def test_disabled_api_key_is_unauthorized(client: httpx.AsyncClient) -> None:
    """A known but disabled key gets its own 401 message."""
    headers = {"Authorization": f"Bearer {DISABLED_KEY}"}
    reply = await client.post("/api/v2", json={"action": "models"}, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"error": "API key is disabled"})


async def test_auth_is_checked_before_the_action(client: httpx.AsyncClient) -> None:
    """An unauthenticated request without an action fails on auth, not on the action."""
    reply = await client.post("/api/v2", content=b"garbage")
    assert reply.status_code == 401


# --------------------------------------------------------------------------------------------------- actions


@pytest.mark.parametrize("body", [b"{}", b'{"action":"dance"}', b'{"action":5}', b"[]", b"not json", b""])
async def test_missing_or_unknown_action_is_a_bad_request(client: httpx.AsyncClient, body: bytes) -> None:
    """Anything without a known action, including a non-JSON body, gets 400 Missing action."""
    reply = await client.post("/api/v2", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert (reply.status_code, reply.json()) == (400, {"error": "Missing action"})


async def test_models_lists_labels_and_the_scene_cap(client: httpx.AsyncClient) -> None:
    """`models` returns every configured model keyed by id, with its label, and `max_scenes`."""
    reply = await call(client, {"action": "models"})
    assert reply.json() == {
        "models": {"scenex": {"label": "SceneX"}, "wan22": {"label": "Wan 2.2"}},
        "max_scenes": 5,
    }


async def test_empty_model_catalogue_is_a_server_error() -> None:
    """With no models configured, `models`, `generate` and `optimize` answer 500 No models configured."""
    async with running(VidgenEmulatorConfig(api_keys=frozenset({KEY}), models={})) as sandbox:
        body = {"scenes": [{"prompt": "ocean"}], "prompt": "ocean"}
        replies = [
            await call(sandbox.client, {"action": action, **body}) for action in ("models", "generate", "optimize")
        ]
    assert {(reply.status_code, reply.text) for reply in replies} == {(500, '{"error":"No models configured"}')}


# --------------------------------------------------------------------------------------------------- generate


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "scenes array is required"),
        ({"scenes": []}, "scenes array is required"),
        ({"scenes": "ocean"}, "scenes array is required"),
        ({"scenes": [{"prompt": ""}]}, "Each scene requires a prompt"),
        ({"scenes": [{"prompt": "ocean"}, {"negative": "blurry"}]}, "Each scene requires a prompt"),
        ({"scenes": ["ocean"]}, "Each scene requires a prompt"),
        ({"scenes": [{"prompt": "ocean"}] * 6}, "Maximum 5 scenes allowed"),
        ({"scenes": [{"prompt": "ocean"}], "upscale": [1]}, "Invalid request body"),
    ],
)
async def test_generate_rejects_invalid_scenes(client: httpx.AsyncClient, fields: dict[str, Any], error: str) -> None:
    """Each scenes problem gets the seed's exact 400 message; an impossible field type a 400 too."""
    reply = await call(client, {"action": "generate", **fields})
    assert (reply.status_code, reply.json()) == (400, {"error": error})


async def test_generate_accepts_a_job_and_echoes_raw_prompts(client: httpx.AsyncClient) -> None:
    """The reply has a run_ id, a 20-hex gen_id, the model and the prompts as sent; extra fields pass."""
    prompts = ["ocean waves, -blurry", "gulls overhead [sandbox:none]"]
    job = await submit(client, *prompts, seed=42, fps=24)
    assert re.fullmatch(r"run_[A-Za-z0-9]+", job["id"])
    assert re.fullmatch(r"[0-9a-f]{20}", job["gen_id"])
    assert job["model"] == "scenex"
    assert job["scenes"] == [{"prompt": prompt} for prompt in prompts]


async def test_unknown_model_silently_falls_back_to_the_first_model(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """An unknown model is replaced by the first configured one without error; a known one is kept."""
    fallback = await submit(client, model="sora")
    kept = await submit(client, model="wan22")
    clock.advance(1_000)
    meta = (await poll(client, fallback))["meta"]
    assert (fallback["model"], meta["model"], kept["model"]) == ("scenex", "scenex", "wan22")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ({}, (720, 832, 480)),
        ({"width": 836, "height": 484}, (720, 840, 488)),
        ({"width": 833, "height": 479}, (720, 832, 480)),
        ({"width": 100, "height": 5000, "size": 500}, (720, 320, 1280)),
        ({"width": "640", "height": 640.0, "size": 2000}, (1280, 640, 640)),
    ],
)
async def test_dimensions_are_silently_rounded_and_clamped(
    client: httpx.AsyncClient, clock: FakeClock, requested: dict[str, Any], expected: tuple[int, int, int]
) -> None:
    """Width and height snap to the nearest multiple of 8 in 320-1280, size to 720-1280, without error."""
    meta = await completed_meta(client, clock, **requested)
    assert (meta["size"], meta["width"], meta["height"]) == expected


async def test_prompt_negatives_follow_the_seed_order(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """A scene's negative is the base negatives, then its `-terms`, then its explicit negative."""
    scenes = [{"prompt": "ocean waves, golden hour, -blurry, -low quality", "negative": "text, logo"}]
    meta = await completed_meta(client, clock, scenes=scenes)
    scene = meta["scenes"][0]
    assert scene["prompt"] == scenes[0]["prompt"]
    assert scene["positive"] == "ocean waves, golden hour"
    assert scene["negative"] == "base negatives, blurry, low quality, text, logo"


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


# --------------------------------------------------------------------------------------------------- markers


async def test_block_marker_refuses_the_submit(client: httpx.AsyncClient) -> None:
    """A prompt with [sandbox:block] fails the generate call with 400 Content blocked."""
    reply = await call(client, {"action": "generate", "scenes": [{"prompt": "ok"}, {"prompt": "x [sandbox:block]"}]})
    assert (reply.status_code, reply.json()) == (400, {"error": "Content blocked"})


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("[sandbox:fail]", {"status": "FAILED", "error": "Generation failed"}),
        ("[sandbox:timeout]", {"status": "TIMED_OUT", "error": "Job execution timed out"}),
        ("[SANDBOX:CANCEL]", {"status": "CANCELLED"}),
    ],
)
async def test_outcome_markers_pick_the_terminal_state(
    client: httpx.AsyncClient, clock: FakeClock, marker: str, expected: dict[str, Any]
) -> None:
    """A marker in any scene makes the job end FAILED, TIMED_OUT or CANCELLED after the normal phases."""
    job = await submit(client, "ocean", f"gulls {marker}")
    clock.advance(1.5)
    assert (await poll(client, job))["status"] == "IN_PROGRESS"
    clock.advance(1_000)
    assert await poll(client, job) == expected


async def test_unsafe_marker_completes_without_meta(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:unsafe] ends COMPLETED with compliance unsafe, the flagged category and no meta."""
    job = await submit(client, "ocean [sandbox:unsafe]")
    clock.advance(1_000)
    body = await poll(client, job)
    assert (body["status"], body["compliance"]) == ("COMPLETED", "unsafe")
    assert body["error"] == "Content blocked — flagged for: Violence."
    assert body["filter_categories"] == ["violence"]
    assert "meta" not in body


async def test_stuck_marker_never_finishes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """[sandbox:stuck] stays IN_PROGRESS however long the job runs."""
    job = await submit(client, "ocean [sandbox:stuck]")
    clock.advance(1e9)
    assert await poll(client, job) == {"status": "IN_PROGRESS"}


async def test_marker_outcome_prefers_the_earliest_outcome_and_ignores_case() -> None:
    """Several markers resolve in Outcome order; no marker means no forced outcome."""
    assert marker_outcome(["a [sandbox:STUCK]", "b [sandbox:unsafe]"]) is Outcome.UNSAFE
    assert marker_outcome(["plain prompt", "[sandbox:nothing]"]) is None


# --------------------------------------------------------------------------------------------------- switches


@pytest.mark.parametrize(
    ("action", "status_code", "error"),
    [
        ("generate", 502, "Generation failed"),
        ("optimize", 502, "Enhancement failed"),
        ("status", 400, "Bad ID"),
        ("models", 503, "Service Unavailable"),
    ],
)
async def test_status_switch_answers_with_the_vendor_error(
    client: httpx.AsyncClient, action: str, status_code: int, error: str
) -> None:
    """A status-code switch without a body answers with the seed's error for that action and status."""
    await add_fault(client, action=action, status_code=status_code)
    body = {"action": action, "id": "run_x", "prompt": "p", "scenes": [{"prompt": "p"}]}
    reply = await call(client, body)
    assert (reply.status_code, reply.json()) == (status_code, {"error": error})


async def test_body_switch_sends_malformed_json(client: httpx.AsyncClient) -> None:
    """A body switch sends its raw text verbatim, so a 200 can carry broken JSON."""
    await add_fault(client, action="status", body='{"status": "COMPL')
    reply = await call(client, {"action": "status", "id": "run_x", "model": "scenex"})
    assert (reply.status_code, reply.text) == (200, '{"status": "COMPL')
    with pytest.raises(json.JSONDecodeError):
        reply.json()


async def test_delay_switch_makes_the_client_time_out(client: httpx.AsyncClient) -> None:
    """A delay longer than the client's timeout surfaces as a read timeout; the next call is served."""
    await add_fault(client, action="models", delay_s=0.3)
    with pytest.raises(httpx.ReadTimeout):
        await call(client, {"action": "models"}, timeout=0.05)
    assert (await call(client, {"action": "models"})).status_code == 200


async def test_delay_alone_still_serves_the_call(client: httpx.AsyncClient) -> None:
    """A delay with no status or body answers normally once the delay is over."""
    await add_fault(client, action="generate", delay_s=0.01)
    job = await submit(client)
    assert job["model"] == "scenex"


async def test_switch_is_consumed_after_times_calls(client: httpx.AsyncClient) -> None:
    """A switch with times 2 hits the next two matching calls, then the vendor answers normally."""
    await add_fault(client, action="models", status_code=502, times=2)
    codes = [(await call(client, {"action": "models"})).status_code for _ in range(3)]
    assert codes == [502, 502, 200]


async def test_unlimited_switch_lasts_until_cleared(client: httpx.AsyncClient) -> None:
    """times -1 keeps failing calls until DELETE /_sandbox/faults."""
    await add_fault(client, action="*", status_code=502, times=-1)
    codes = [(await call(client, {"action": action})).status_code for action in ("models", "random", "models")]
    assert (await client.delete("/_sandbox/faults")).status_code == 204
    codes.append((await call(client, {"action": "models"})).status_code)
    assert codes == [502, 502, 502, 200]


async def test_switch_only_hits_its_action(client: httpx.AsyncClient) -> None:
    """A switch for generate leaves other actions alone and waits for the next generate."""
    await add_fault(client, action="generate", status_code=502)
    assert (await call(client, {"action": "models"})).status_code == 200
    assert (await call(client, {"action": "generate", "scenes": [{"prompt": "p"}]})).status_code == 502


@pytest.mark.parametrize("spec", [{"times": 0}, {"status_code": 700}, {"delay_s": -1}, {"colour": "red"}])
async def test_invalid_switch_is_rejected(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    """A switch with a zero count, an impossible status, a negative delay or an unknown field gets 400."""
    assert (await client.post("/_sandbox/faults", json=spec)).status_code == 400


# --------------------------------------------------------------------------------------------------- stats


async def test_stats_count_calls_per_action_and_per_job(client: httpx.AsyncClient) -> None:
    """Stats count every call by action, faulted ones included, and status calls by job id."""
    first, second = await submit(client), await submit(client)
    await add_fault(client, action="status", status_code=502)
    for job in (first, first, second):
        await call(client, {"action": "status", "id": job["id"], "model": job["model"]})
    stats = (await client.get("/_sandbox/stats")).json()
    assert stats["calls"] == {"generate": 2, "status": 3}
    assert stats["job_calls"] == {first["id"]: 2, second["id"]: 1}
    assert (await client.delete("/_sandbox/stats")).status_code == 204
    assert (await client.get("/_sandbox/stats")).json()["calls"] == {}


async def test_stats_record_overlapping_polls_of_a_job(client: httpx.AsyncClient) -> None:
    """Two concurrent polls of one job lift its in-flight high-water mark to 2; sequential ones stay at 1."""
    overlapped, sequential = await submit(client), await submit(client)
    await add_fault(client, action="status", delay_s=0.1, times=2)
    await asyncio.gather(poll(client, overlapped), poll(client, overlapped))
    await poll(client, sequential)
    await poll(client, sequential)
    in_flight = (await client.get("/_sandbox/stats")).json()["job_max_in_flight"]
    assert in_flight == {overlapped["id"]: 2, sequential["id"]: 1}


# --------------------------------------------------------------------------------------------------- prompts


async def test_optimize_enhances_deterministically(client: httpx.AsyncClient) -> None:
    """optimize returns the same richer prompt for the same input, keeping the input's text."""
    body = {"action": "optimize", "prompt": "woman walking in rain", "model": "scenex"}
    first, second = (await call(client, body)).json(), (await call(client, body)).json()
    assert first == second
    assert first["prompt"].startswith("woman walking in rain, ")


async def test_optimize_without_prompt_is_a_bad_request(client: httpx.AsyncClient) -> None:
    """optimize with no prompt is refused with a 400 error body."""
    reply = await call(client, {"action": "optimize", "model": "scenex"})
    assert (reply.status_code, reply.json()) == (400, {"error": "Missing prompt"})


async def test_generate_with_optimize_enhances_each_scene(client: httpx.AsyncClient, clock: FakeClock) -> None:
    """optimize: true enhances each scene's positive text like the optimize action and sets meta.optimized."""
    meta = await completed_meta(client, clock, scenes=[{"prompt": "woman walking in rain, -blurry"}], optimize=True)
    enhanced = (await call(client, {"action": "optimize", "prompt": "woman walking in rain"})).json()["prompt"]
    assert meta["optimized"] is True
    assert meta["scenes"][0]["positive"] == enhanced
    assert meta["scenes"][0]["negative"] == "base negatives, blurry"


async def test_random_prompt_takes_one_term_from_each_category(client: httpx.AsyncClient) -> None:
    """random assembles action, clothing, framing and location, in the seed example's order."""
    prompt = (await call(client, {"action": "random"})).json()["prompt"]
    parts = prompt.split(", ")
    assert len(parts) == 4
    assert [
        part in pool
        for part, pool in zip(parts, (SEED_ACTIONS, SEED_CLOTHING, SEED_FRAMING, SEED_LOCATIONS), strict=True)
    ] == [True] * 4


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

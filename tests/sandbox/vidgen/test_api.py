"""The Vidgen v2 emulator's request surface over real HTTP: auth, actions, generate validation and its silent
fallbacks, and the prompt actions (optimize, random). Job lifecycles and fault switches live elsewhere."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from sandbox.vidgen.app import VidgenEmulatorConfig
from sandbox.vidgen.jobs import SEED_ACTIONS, SEED_CLOTHING, SEED_FRAMING, SEED_LOCATIONS
from tests.conftest import FakeClock
from tests.sandbox.vidgen.conftest import AUTH, DISABLED_KEY, KEY, call, completed_meta, poll, running, submit

# One emulator serves the whole module (starting and stopping one takes ~0.2 s); fixtures reset its
# clocks, switches and statistics around each test. The mark reaches every test, so even the pure
# ones below are `async def`.
pytestmark = pytest.mark.asyncio(loop_scope="module")


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

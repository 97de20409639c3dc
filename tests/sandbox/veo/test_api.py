"""The Veo emulator over HTTP: both APIs' paths and auth, what each API accepts, operations on the clock, RAI
filtering, credentialed downloads, the per-model window and faults (docs/providers.md, Google Veo)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from sandbox.veo.app import VeoEmulatorConfig, create_veo_emulator
from tests.conftest import mp4_boxes
from tests.sandbox.conftest import Sandbox, add_fault, running_emulator

KEY, OTHER_KEY = "AIza-live", "AIza-other"
GEMINI = {"x-goog-api-key": KEY}
VERTEX = {"Authorization": f"Bearer {KEY}"}
MODEL = "veo-3.0-generate-001"
VERTEX_MODEL = f"/v1/projects/p1/locations/us-central1/publishers/google/models/{MODEL}"
CONFIG = VeoEmulatorConfig(api_keys=frozenset({KEY, OTHER_KEY}), requests_per_minute=1000)


def running(config: VeoEmulatorConfig = CONFIG) -> contextlib.AbstractAsyncContextManager[Sandbox]:
    return running_emulator(lambda clock, _wall: create_veo_emulator(config, clock=clock))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with running() as sandbox:
        yield sandbox


@pytest_asyncio.fixture(loop_scope="module")
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    yield sandbox.client
    await sandbox.client.delete("/_sandbox/faults")


async def predict(
    client: httpx.AsyncClient, parameters: dict[str, Any] | None = None, *, prompt: str = "a paper boat", **kw: Any
) -> httpx.Response:
    body = {"instances": [{"prompt": prompt}], "parameters": parameters or {}}
    headers = kw.pop("headers", GEMINI)
    return await client.post(f"/v1beta/models/{kw.pop('model', MODEL)}:predictLongRunning", json=body, headers=headers)


async def operation(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    reply = await client.get(f"/v1beta/{name}", headers=GEMINI)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_gemini_flow_runs_on_the_clock_and_downloads_with_the_key(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """predictLongRunning gives an operation; it is not done until the clock passes the run, then names a file
    that downloads as an MP4 with the key and is refused without it."""
    reply = await predict(client, {"durationSeconds": 8, "aspectRatio": "16:9"})
    assert reply.status_code == 200, reply.text
    name = reply.json()["name"]
    assert name.startswith(f"models/{MODEL}/operations/")
    assert await operation(client, name) == {"name": name}
    sandbox.clock.advance(10)
    done = await operation(client, name)
    assert done["done"] is True
    uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.endswith(":download?alt=media")
    video = await client.get(uri, headers=GEMINI)
    assert mp4_boxes(video.content)[0] == b"ftyp"
    assert (await client.get(uri)).status_code == 403


async def test_a_missing_key_is_403_and_a_wrong_key_400_api_key_invalid(client: httpx.AsyncClient) -> None:
    """No key: 403 PERMISSION_DENIED; an unknown key: 400 INVALID_ARGUMENT with ErrorInfo API_KEY_INVALID."""
    missing = await predict(client, headers={})
    assert (missing.status_code, missing.json()["error"]["status"]) == (403, "PERMISSION_DENIED")
    wrong = await predict(client, headers={"x-goog-api-key": "AIza-nope"})
    assert (wrong.status_code, wrong.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
    assert wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


@pytest.mark.parametrize(
    ("parameters", "model", "names"),
    [
        ({"generateAudio": True}, MODEL, "generateAudio"),  # Vertex only
        ({"seed": 1}, MODEL, "seed"),
        ({"durationSeconds": 5}, MODEL, "durationSeconds"),  # Veo 3: 4, 6, 8
        ({"durationSeconds": 4}, "veo-2.0-generate-001", "durationSeconds"),  # Veo 2: 5-8
        ({"aspectRatio": "1:1"}, MODEL, "aspectRatio"),
        ({"resolution": "1080p", "aspectRatio": "9:16"}, MODEL, "1080p"),  # Veo 3: 1080p is 16:9 only
        ({"resolution": "720p"}, "veo-2.0-generate-001", "resolution"),
    ],
)
async def test_what_the_gemini_api_does_not_take_is_a_400_naming_it(
    client: httpx.AsyncClient, parameters: dict[str, Any], model: str, names: str
) -> None:
    """An undocumented parameter or value for the model is 400 INVALID_ARGUMENT naming it."""
    reply = await predict(client, parameters, model=model)
    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert names in reply.json()["error"]["message"]


async def test_an_unknown_model_is_404(client: httpx.AsyncClient) -> None:
    """A model the API does not list is 404 NOT_FOUND."""
    reply = await predict(client, model="veo-9.9-generate-001")
    assert (reply.status_code, reply.json()["error"]["status"]) == (404, "NOT_FOUND")


async def test_another_keys_operation_is_not_found(client: httpx.AsyncClient) -> None:
    """An operation is visible to the key that started it only."""
    name = (await predict(client)).json()["name"]
    reply = await client.get(f"/v1beta/{name}", headers={"x-goog-api-key": OTHER_KEY})
    assert reply.status_code == 404


async def test_a_blocked_prompt_finishes_with_rai_filtered_media(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The block marker is accepted, then the operation ends with raiMediaFilteredCount and a reason, no samples."""
    name = (await predict(client, prompt="a scene [sandbox:block]")).json()["name"]
    sandbox.clock.advance(10)
    result = (await operation(client, name))["response"]["generateVideoResponse"]
    assert result["raiMediaFilteredCount"] == 1
    assert "generatedSamples" not in result
    assert result["raiMediaFilteredReasons"]


async def test_a_failing_job_ends_with_an_operation_error(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    """The fail marker ends the operation with `error` carrying gRPC code 13."""
    name = (await predict(client, prompt="a scene [sandbox:fail]")).json()["name"]
    sandbox.clock.advance(10)
    assert (await operation(client, name))["error"]["code"] == 13


async def test_vertex_flow_needs_the_bearer_token_and_serves_the_object(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    """Vertex: predictLongRunning under the project path, fetchPredictOperation, then the gcsUri object through
    the Cloud Storage JSON API with the same token."""
    body = {
        "instances": [{"prompt": "a paper boat"}],
        "parameters": {"generateAudio": True, "storageUri": "gs://bkt/out", "seed": 3},
    }
    assert (await client.post(f"{VERTEX_MODEL}:predictLongRunning", json=body)).status_code == 401
    name = (await client.post(f"{VERTEX_MODEL}:predictLongRunning", json=body, headers=VERTEX)).json()["name"]
    assert name.startswith(f"projects/p1/locations/us-central1/publishers/google/models/{MODEL}/operations/")
    sandbox.clock.advance(10)
    fetched = await client.post(f"{VERTEX_MODEL}:fetchPredictOperation", json={"operationName": name}, headers=VERTEX)
    [video] = fetched.json()["response"]["videos"]
    assert video["gcsUri"].startswith("gs://bkt/out/")
    obj = video["gcsUri"].removeprefix("gs://bkt/").replace("/", "%2F")
    download = await client.get(f"/storage/v1/b/bkt/o/{obj}", params={"alt": "media"}, headers=VERTEX)
    assert mp4_boxes(download.content)[0] == b"ftyp"


async def test_vertex_requires_generate_audio_for_veo_3(client: httpx.AsyncClient) -> None:
    """Vertex documents generateAudio as required for Veo 3 models."""
    body = {"instances": [{"prompt": "a paper boat"}], "parameters": {"storageUri": "gs://bkt/out"}}
    reply = await client.post(f"{VERTEX_MODEL}:predictLongRunning", json=body, headers=VERTEX)
    assert reply.status_code == 400
    assert "generateAudio" in reply.json()["error"]["message"]


async def test_forced_faults_answer_googles_own_bodies(client: httpx.AsyncClient) -> None:
    """A forced 429 is RESOURCE_EXHAUSTED with RetryInfo; a forced 502 is the front end's HTML page."""
    await add_fault(client, action="generate", status_code=429)
    limited = await predict(client)
    assert (limited.status_code, limited.json()["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
    assert limited.json()["error"]["details"][1]["retryDelay"] == "60s"
    await add_fault(client, action="generate", status_code=502)
    page = await predict(client)
    assert page.status_code == 502
    assert page.text.startswith("<!DOCTYPE html>")


async def test_the_per_model_window_answers_429_until_it_slides() -> None:
    """With one request per minute, the second is 429 with the seconds left; a minute later it is accepted."""
    async with running(VeoEmulatorConfig(api_keys=frozenset({KEY}), requests_per_minute=1)) as sandbox:
        assert (await predict(sandbox.client)).status_code == 200
        sandbox.clock.advance(20)
        limited = await predict(sandbox.client)
        assert limited.status_code == 429
        assert limited.json()["error"]["details"][1]["retryDelay"] == "40s"
        assert (await predict(sandbox.client, model="veo-3.0-fast-generate-001")).status_code == 200
        sandbox.clock.advance(40)
        assert (await predict(sandbox.client)).status_code == 200

"""The fal emulator over real HTTP: queue URLs under the app id, the three states with 202/200, the model's
validation and content checks in the result, cancel, Key auth, faults in fal's error shapes."""

from __future__ import annotations

import httpx
import pytest

from sandbox.fal.app import FalEmulatorConfig, create_fal_emulator
from tests.conftest import FakeClock
from tests.sandbox.conftest import Sandbox, add_fault, running_emulator
from tests.sandbox.fal.conftest import AUTH, KEY, KLING, OTHER_KEY, path, submit

pytestmark = pytest.mark.asyncio(loop_scope="module")
RUN_S = 5.0  # queue_s + run_s of the module's emulator


async def test_submit_reply_names_queue_urls_under_the_app_id(client: httpx.AsyncClient) -> None:
    """Submitting to a sub-path model gives status, result and cancel URLs under `owner/app` only."""
    body = await submit(client, "fal-ai/veo3.1/fast")
    rid = body["request_id"]
    assert (body["status"], body["queue_position"]) == ("IN_QUEUE", 0)
    assert path(body["status_url"]) == f"/fal-ai/veo3.1/requests/{rid}/status"
    assert path(body["response_url"]) == f"/fal-ai/veo3.1/requests/{rid}"
    assert path(body["cancel_url"]) == f"/fal-ai/veo3.1/requests/{rid}/cancel"
    sub_path = await client.get(f"/fal-ai/veo3.1/fast/requests/{rid}/status", headers=AUTH)
    assert sub_path.status_code == 404


async def test_a_request_moves_through_the_three_states_to_a_video(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    """IN_QUEUE and IN_PROGRESS answer 202, COMPLETED 200 with metrics; the result's video URL serves an MP4."""
    body = await submit(client, duration="10", aspect_ratio="9:16")
    seen = []
    for step_s in (0.0, 2.0, RUN_S):
        sandbox.clock.advance(step_s)
        reply = await client.get(body["status_url"] + "?logs=1", headers=AUTH)
        seen.append((reply.status_code, reply.json()["status"]))
    assert seen == [(202, "IN_QUEUE"), (202, "IN_PROGRESS"), (200, "COMPLETED")]
    assert reply.json()["metrics"]["inference_time"] == 4.0
    result = await client.get(body["response_url"], headers=AUTH)
    assert result.status_code == 200
    video = result.json()["video"]
    assert video["content_type"] == "video/mp4"
    download = await client.get(video["url"])  # public, no key (fal's media CDN)
    assert download.status_code == 200
    assert download.content[4:8] == b"ftyp"


async def test_invalid_input_is_the_models_422_in_the_result(clock: FakeClock, client: httpx.AsyncClient) -> None:
    """The queue takes any body; the model's validation error comes back from the result as a `detail` list."""
    body = await submit(client, duration="7")
    clock.advance(RUN_S)
    result = await client.get(body["response_url"], headers=AUTH)
    assert result.status_code == 422
    [item] = result.json()["detail"]
    assert (item["loc"], item["type"], item["input"]) == (["body", "duration"], "literal_error", "7")


async def test_a_field_of_the_wrong_type_is_refused_by_the_model(clock: FakeClock, client: httpx.AsyncClient) -> None:
    """Veo's `generate_audio` is a boolean: the string "yes" comes back as a `bool_type` error."""
    body = await submit(client, "fal-ai/veo3.1/fast", generate_audio="yes")
    clock.advance(RUN_S)
    result = await client.get(body["response_url"], headers=AUTH)
    assert result.status_code == 422
    assert [(i["loc"], i["type"]) for i in result.json()["detail"]] == [(["body", "generate_audio"], "bool_type")]


async def test_ltx_rejects_a_string_duration(clock: FakeClock, client: httpx.AsyncClient) -> None:
    """LTX-2's `duration` is an integer: "6" fails its validation while 6 runs to a video."""
    as_text = await submit(client, "fal-ai/ltx-2/text-to-video/fast", duration="6")
    as_int = await submit(client, "fal-ai/ltx-2/text-to-video/fast", duration=6)
    clock.advance(RUN_S)
    assert (await client.get(as_text["response_url"], headers=AUTH)).status_code == 422
    assert (await client.get(as_int["response_url"], headers=AUTH)).status_code == 200


async def test_a_blocked_prompt_is_a_content_policy_violation(clock: FakeClock, client: httpx.AsyncClient) -> None:
    """[sandbox:block] ends the request with the error reference's content_policy_violation."""
    body = await submit(client, prompt="a scene [sandbox:block]")
    clock.advance(RUN_S)
    result = await client.get(body["response_url"], headers=AUTH)
    assert result.status_code == 422
    assert result.json()["detail"][0]["type"] == "content_policy_violation"


async def test_cancel_then_the_result_is_client_cancelled(client: httpx.AsyncClient) -> None:
    """PUT cancel answers 202 CANCELLATION_REQUESTED, the request completes, its result is `client_cancelled`;
    a second cancel is 400 ALREADY_COMPLETED."""
    body = await submit(client)
    first = await client.put(body["cancel_url"], headers=AUTH)
    assert (first.status_code, first.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    status = await client.get(body["status_url"], headers=AUTH)
    assert status.json()["status"] == "COMPLETED"
    result = await client.get(body["response_url"], headers=AUTH)
    assert (result.status_code, result.json()["error_type"]) == (499, "client_cancelled")
    assert result.headers["x-fal-error-type"] == "client_cancelled"
    again = await client.put(body["cancel_url"], headers=AUTH)
    assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})


async def test_key_auth_and_ownership(client: httpx.AsyncClient) -> None:
    """Bearer or a wrong key is 401 with a `detail`; another key's request is not found."""
    bearer = await client.post(f"/{KLING}", json={"prompt": "p"}, headers={"Authorization": "Bearer fal-key-id:secret"})
    assert (bearer.status_code, "detail" in bearer.json()) == (401, True)
    body = await submit(client)
    other = await client.get(body["status_url"], headers={"Authorization": f"Key {OTHER_KEY}"})
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("status_code", "expected"),
    [
        (
            403,
            {"detail": "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing."},
        ),
        (503, {"detail": "Service Unavailable", "error_type": "runner_scheduling_failure"}),
    ],
)
async def test_forced_errors_take_fals_shapes(client: httpx.AsyncClient, status_code: int, expected: object) -> None:
    """A switch forcing 403 answers the locked-account body; 503 a request error with its table's error_type."""
    await add_fault(client, action="generate", status_code=status_code)
    reply = await client.post(f"/{KLING}", json={"prompt": "p"}, headers=AUTH)
    assert (reply.status_code, reply.json()) == (status_code, expected)


async def test_over_the_concurrency_limit_requests_wait_in_queue_never_rejected() -> None:
    """With a limit of one, later requests are accepted and wait IN_QUEUE in order while the first runs, then run."""
    config = FalEmulatorConfig(api_keys=frozenset({KEY}), queue_s=1.0, run_s=4.0, concurrency_limit=1)
    async with running_emulator(lambda clock, _wall: create_fal_emulator(config, clock=clock)) as sandbox:
        first, second, third = [await submit(sandbox.client) for _ in range(3)]
        sandbox.clock.advance(2.0)
        states = [(await sandbox.client.get(b["status_url"], headers=AUTH)).json() for b in (first, second, third)]
        assert [s["status"] for s in states] == ["IN_PROGRESS", "IN_QUEUE", "IN_QUEUE"]
        assert [s["queue_position"] for s in states[1:]] == [0, 1]
        sandbox.clock.advance(3.5)  # the first finished at 5 s; the second runs from then on
        later = (await sandbox.client.get(second["status_url"], headers=AUTH)).json()
        assert later["status"] == "IN_PROGRESS"

"""fal through the gateway over its emulator: a failure that only shows in the result after COMPLETED fails the job
with fal's class (content policy never moves; a runner failure moves to the next provider), and DELETE cancels at
fal with its PUT cancel."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.control import SandboxControl
from tests.conftest import auth, wait_terminal
from tests.e2e.conftest import arm, generate_calls

# fal's request error for a runner failure (https://fal.ai/docs/documentation/model-apis/request-errors).
RUNNER_ERROR = '{"detail": "The runner encountered an internal server error.", "error_type": "runner_server_error"}'
VEO = {"model": "veo-3.1-fast", "seconds": 8}  # fal $0.80, NanoGPT $1.20, videogenapi $1.99: fal first


async def create(gateway: httpx.AsyncClient, prompt: str) -> dict[str, Any]:
    body = {**VEO, "prompt": prompt, "routing": {"providers": ["fal", "nanogpt"]}}
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == 202, reply.text
    video: dict[str, Any] = reply.json()
    assert video["provider"] == "fal"
    return video


async def test_a_blocked_prompt_fails_as_content_policy_and_never_moves(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """fal accepts; the model's 422 content_policy_violation in the result fails the job; NanoGPT is not asked."""
    done = await wait_terminal(gateway, (await create(gateway, "a scene [sandbox:block]"))["id"])
    assert (done["status"], done["provider"], done["error"]["code"]) == ("failed", "fal", "content_policy")
    assert await generate_calls(sandbox["nanogpt"]) == 0


async def test_a_runner_failure_in_the_result_moves_the_job_to_the_next_provider(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """A 500 `runner_server_error` result fails fal's attempt; the same job completes on NanoGPT."""
    await arm(sandbox["fal"], action="result", status_code=500, body=RUNNER_ERROR)
    done = await wait_terminal(gateway, (await create(gateway, "a paper boat on a pond"))["id"])
    assert (done["status"], done["provider"]) == ("completed", "nanogpt")
    assert [(a["provider"], a["outcome"]) for a in done["routing"]["attempts"]] == [
        ("fal", "failed"),
        ("nanogpt", "accepted"),
    ]


async def test_delete_cancels_the_request_at_fal(gateway: httpx.AsyncClient, sandbox: dict[str, str]) -> None:
    """DELETE on a running fal job sends fal's PUT .../cancel once."""
    video = await create(gateway, "slow [sandbox:stuck]")
    reply = await gateway.delete(f"/v1/videos/{video['id']}", headers=auth())
    assert reply.json()["deleted"] is True
    async with httpx.AsyncClient(base_url=sandbox["fal"]) as emulator:
        stats = await SandboxControl(emulator).stats()
    assert stats.calls.get("cancel") == 1

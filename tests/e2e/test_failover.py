"""Submit-time failover through the gateway over every emulator: which errors move a job to the next candidate,
how attempts are recorded, and what the client gets when nothing accepts."""

from __future__ import annotations

import httpx
import msgspec

from tests.conftest import GatewayFactory, auth, example_settings, wait_terminal
from tests.e2e.conftest import arm, generate_calls

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}


async def test_cheapest_eligible_provider_wins(gateway: httpx.AsyncClient) -> None:
    """sora-2 costs $0.40 at NanoGPT (4 s) and $1.99 at videogenapi: `cheapest` (the default) picks NanoGPT."""
    reply = await gateway.post("/v1/videos", json=SORA, headers=auth())
    assert reply.json()["provider"] == "nanogpt"
    assert reply.json()["routing"]["strategy"] == "cheapest"


async def test_a_429_moves_the_job_to_the_next_candidate_and_records_both(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT answers 429: the job lands on videogenapi, completes, and both attempts are on the job."""
    await arm(sandbox["nanogpt"], status_code=429)
    video = (await gateway.post("/v1/videos", json=SORA, headers=auth())).json()
    assert video["provider"] == "videogenapi"
    assert video["routing"]["attempts"] == [
        {"provider": "nanogpt", "outcome": "failed", "error_code": "rate_limited"},
        {"provider": "videogenapi", "outcome": "accepted", "error_code": None},
    ]
    done = await wait_terminal(gateway, video["id"])
    assert (done["status"], done["seconds"], done["usage"]["cost_usd"]) == ("completed", "10", 1.99)


async def test_content_policy_never_fails_over(gateway: httpx.AsyncClient, sandbox: dict[str, str]) -> None:
    """A prompt NanoGPT blocks is a 400 content_policy; videogenapi is not tried with it."""
    reply = await gateway.post("/v1/videos", json={**SORA, "prompt": "x [sandbox:block]"}, headers=auth())
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "content_policy"
    assert await generate_calls(sandbox["videogenapi"]) == 0


async def test_no_fallbacks_when_the_request_says_so(gateway: httpx.AsyncClient, sandbox: dict[str, str]) -> None:
    """With allow_fallbacks false, the first candidate's 429 is the answer: 503 with Retry-After, no second try."""
    await arm(sandbox["nanogpt"], status_code=429)
    body = {**SORA, "routing": {"allow_fallbacks": False}}
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == 503
    assert reply.json()["error"]["provider"] == "nanogpt"
    assert (await gateway.get("/v1/videos", headers=auth())).json()["data"] == []


async def test_every_candidate_failing_is_a_503_naming_each_attempt(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """Both sora-2 providers fail with fail-over-able errors: 503 listing both, and no job is left behind."""
    await arm(sandbox["nanogpt"], status_code=503)
    await arm(sandbox["videogenapi"], status_code=502)
    reply = await gateway.post("/v1/videos", json=SORA, headers=auth())
    assert reply.status_code == 503
    error = reply.json()["error"]
    assert error["code"] == "all_attempts_failed"
    assert "nanogpt: upstream_unavailable" in error["message"]
    assert "videogenapi: upstream_unavailable" in error["message"]
    assert (await gateway.get("/v1/videos", headers=auth())).json()["data"] == []


async def test_request_strategy_priority_uses_catalogue_order(gateway: httpx.AsyncClient) -> None:
    """`priority` with no ops order follows the catalogue: videogenapi is listed first for sora-2."""
    body = {**SORA, "routing": {"strategy": "priority"}}
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert (reply.json()["provider"], reply.json()["routing"]["strategy"]) == ("videogenapi", "priority")


async def test_auto_picks_the_cheapest_model_that_fits(gateway: httpx.AsyncClient) -> None:
    """`model: auto` with 5 s: the cheapest fitting offering across all models wins and the job names its model."""
    reply = await gateway.post("/v1/videos", json={"model": "auto", "prompt": "a fox", "seconds": 5}, headers=auth())
    video = reply.json()
    assert reply.status_code == 202, video
    assert (video["model"], video["provider"]) == ("scenex", "vidgen")


async def test_ops_can_let_content_policy_fail_over(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> None:
    """With `[failover] on_content_policy`, a prompt NanoGPT blocks is also tried on videogenapi (both called)."""
    settings = example_settings(sandbox)
    settings = msgspec.structs.replace(
        settings, failover=msgspec.structs.replace(settings.failover, on_content_policy=True)
    )
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        reply = await client.post("/v1/videos", json={**SORA, "prompt": "x [sandbox:block]"}, headers=auth())
    assert await generate_calls(sandbox["nanogpt"]) == 1
    assert await generate_calls(sandbox["videogenapi"]) == 1
    assert reply.status_code == 400
    assert reply.json()["error"]["provider"] == "videogenapi"

"""Same-provider retry at submit (`[failover] same_provider_retries`): a provider that answered it accepted
nothing (502/503) is tried again before the next candidate; a timeout, whose outcome is unknown, never is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from gateway.config import Settings
from tests.conftest import GatewayFactory, auth, example_settings, wait_terminal
from tests.e2e.conftest import arm, generate_calls

NANO_ONLY = {"model": "sora-2", "prompt": "a paper boat on a pond", "seconds": 4}  # videogenapi offers 10 s only
# NanoGPT $0.35, videogenapi $1.99; fal (also $0.35) is left out: these tests are about a pair of providers.
SHARED = {"model": "kling-2.5", "prompt": "a fox in the snow", "seconds": 5, "routing": {"exclude": ["fal"]}}


def with_retries(settings: Settings, retries: int) -> Settings:
    failover = msgspec.structs.replace(settings.failover, same_provider_retries=retries, same_provider_backoff_s=0.05)
    return msgspec.structs.replace(settings, failover=failover)


@pytest.fixture
async def retrying(sandbox: dict[str, str], serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_gateway(with_retries(example_settings(sandbox), 1)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def test_a_503_from_the_only_provider_is_retried_there_and_the_job_completes(
    retrying: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT answers 503 once; the retry is accepted, both attempts are on the job and it completes."""
    await arm(sandbox["nanogpt"], status_code=503)
    reply = await retrying.post("/v1/videos", json=NANO_ONLY, headers=auth())
    video = reply.json()
    assert reply.status_code == 202, video
    assert video["routing"]["attempts"] == [
        {"provider": "nanogpt", "outcome": "failed", "error_code": "upstream_unavailable"},
        {"provider": "nanogpt", "outcome": "accepted", "error_code": None},
    ]
    assert await generate_calls(sandbox["nanogpt"]) == 2
    assert (await wait_terminal(retrying, video["id"]))["status"] == "completed"


async def test_the_retry_keeps_the_cheaper_provider_before_failing_over(
    retrying: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """A 502 from NanoGPT on a request videogenapi could also serve: NanoGPT is retried, videogenapi never called."""
    await arm(sandbox["nanogpt"], status_code=502)
    reply = await retrying.post("/v1/videos", json=SHARED, headers=auth())
    assert (reply.status_code, reply.json()["provider"]) == (202, "nanogpt")
    assert await generate_calls(sandbox["videogenapi"]) == 0


async def test_retries_spent_the_job_fails_over_to_the_next_candidate(
    retrying: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """Two 503s in a row with one retry allowed: NanoGPT twice, then videogenapi accepts."""
    await arm(sandbox["nanogpt"], status_code=503, times=2)
    video = (await retrying.post("/v1/videos", json=SHARED, headers=auth())).json()
    assert [(a["provider"], a["outcome"]) for a in video["routing"]["attempts"]] == [
        ("nanogpt", "failed"),
        ("nanogpt", "failed"),
        ("videogenapi", "accepted"),
    ]


async def test_a_timeout_is_never_resubmitted_to_the_same_provider(
    retrying: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """A submit that times out (the emulator answers after the 2 s timeout, so it may have accepted) is not
    retried on NanoGPT even with retries on: one call, and the client gets the timeout."""
    await arm(sandbox["nanogpt"], delay_s=2.5)
    reply = await retrying.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert reply.status_code == 504
    assert reply.json()["error"]["type"] == "upstream_timeout"
    assert await generate_calls(sandbox["nanogpt"]) == 1


async def test_without_the_switch_a_503_from_the_only_provider_is_the_answer(
    sandbox: dict[str, str], serve_gateway: GatewayFactory
) -> None:
    """The default (0 retries): NanoGPT's 503 goes back to the client after one call."""
    await arm(sandbox["nanogpt"], status_code=503)
    async with serve_gateway(example_settings(sandbox)) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        reply = await client.post("/v1/videos", json=NANO_ONLY, headers=auth())
    assert reply.status_code == 502
    assert (reply.json()["error"]["code"], reply.json()["error"]["provider"]) == ("upstream_unavailable", "nanogpt")
    assert await generate_calls(sandbox["nanogpt"]) == 1

"""Failover after acceptance, through the gateway over the emulators: an accepted upstream job that ends failed
for a class that allows it moves to the next provider under the same job id with both attempts recorded; content
policy never moves; `routing.max_attempts` bounds submit-time and post-acceptance attempts together."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from gateway.schema.job import Attempt, VideoJob
from gateway.videos.failover import next_query, replay_of
from providers.contract import ErrorClass, Failure, GenerationRequest, ImageData, ImageUrl, Scene
from routing.router import RouteQuery
from tests.conftest import auth, wait_terminal
from tests.e2e.conftest import arm, generate_calls

SORA = {"model": "sora-2", "prompt": "a paper boat on a pond"}
# NanoGPT's status reply for a job that failed on its side (providers.md §4.5 shape B).
GPU_LOST = '{"status": "FAILED", "error": "GPU node lost"}'
NSFW = '{"status": "FAILED", "isNSFWError": true, "userFriendlyError": "flagged by the output filter"}'


async def create(gateway: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    reply = await gateway.post("/v1/videos", json={**SORA, **body}, headers=auth())
    assert reply.status_code == 202, reply.text
    video: dict[str, Any] = reply.json()
    assert video["provider"] == "nanogpt"  # cheapest first
    return video


async def test_an_accepted_job_that_fails_upstream_moves_to_the_next_provider_under_its_id(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT accepts, then reports FAILED (an internal error): the same job is submitted to videogenapi, completes
    there at videogenapi's price, and records both attempts."""
    await arm(sandbox["nanogpt"], action="status", body=GPU_LOST, times=-1)
    video = await create(gateway)
    done = await wait_terminal(gateway, video["id"])

    assert (done["id"], done["status"], done["provider"]) == (video["id"], "completed", "videogenapi")
    assert done["routing"]["attempts"] == [
        {"provider": "nanogpt", "outcome": "failed", "error_code": "internal"},
        {"provider": "videogenapi", "outcome": "accepted", "error_code": None},
    ]
    assert (done["seconds"], done["usage"]["cost_usd"]) == ("10", 1.99)
    assert done["error"] is None
    assert (await generate_calls(sandbox["nanogpt"]), await generate_calls(sandbox["videogenapi"])) == (1, 1)


async def test_content_policy_after_acceptance_never_moves(gateway: httpx.AsyncClient, sandbox: dict[str, str]) -> None:
    """An output NanoGPT's filter flags fails the job as content_policy; videogenapi is never asked."""
    await arm(sandbox["nanogpt"], action="status", body=NSFW, times=-1)
    done = await wait_terminal(gateway, (await create(gateway))["id"])

    assert (done["status"], done["provider"], done["error"]["code"]) == ("failed", "nanogpt", "content_policy")
    assert await generate_calls(sandbox["videogenapi"]) == 0


async def test_max_attempts_one_keeps_the_job_on_its_first_provider(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """`routing.max_attempts = 1`: NanoGPT's failure ends the job with NanoGPT's error; nothing is resubmitted."""
    await arm(sandbox["nanogpt"], action="status", body=GPU_LOST, times=-1)
    done = await wait_terminal(gateway, (await create(gateway, routing={"max_attempts": 1}))["id"])

    assert (done["status"], done["provider"], done["error"]["code"]) == ("failed", "nanogpt", "upstream_error")
    assert "GPU node lost" in done["error"]["message"]
    assert await generate_calls(sandbox["videogenapi"]) == 0


async def test_max_attempts_counts_submit_time_attempts_too(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """With `max_attempts = 1` a 429 at submit is not failed over either: the client gets NanoGPT's refusal."""
    await arm(sandbox["nanogpt"], action="generate", status_code=429, times=1)
    reply = await gateway.post("/v1/videos", json={**SORA, "routing": {"max_attempts": 1}}, headers=auth())

    assert reply.status_code == 503, reply.text
    assert reply.json()["error"]["provider"] == "nanogpt"
    assert await generate_calls(sandbox["videogenapi"]) == 0


async def test_when_the_next_provider_refuses_the_job_ends_with_the_first_failure_and_both_attempts(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """NanoGPT fails after acceptance and videogenapi answers the resubmission with a 503: the job fails with
    NanoGPT's error, both attempts recorded, and is finalized (nothing left scheduled)."""
    await arm(sandbox["nanogpt"], action="status", body=GPU_LOST, times=-1)
    await arm(sandbox["videogenapi"], action="generate", status_code=503, times=1)
    done = await wait_terminal(gateway, (await create(gateway))["id"])

    assert (done["status"], done["provider"], done["error"]["provider"]) == ("failed", "videogenapi", "nanogpt")
    assert "GPU node lost" in done["error"]["message"]
    assert done["routing"]["attempts"] == [
        {"provider": "nanogpt", "outcome": "failed", "error_code": "internal"},
        {"provider": "videogenapi", "outcome": "failed", "error_code": "upstream_unavailable"},
    ]


async def test_max_attempts_out_of_range_is_a_400_naming_it(gateway: httpx.AsyncClient) -> None:
    """`routing.max_attempts` is 1..10; 0 is refused before anything is sent."""
    reply = await gateway.post("/v1/videos", json={**SORA, "routing": {"max_attempts": 0}}, headers=auth())

    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == "routing.max_attempts"


# --------------------------------------------------------------------------------------------- pure rules


def query(*images: ImageData | ImageUrl) -> RouteQuery:
    scene = Scene(prompt="a kite", image=images[0] if images else None)
    return RouteQuery(model="sora-2", request=GenerationRequest(upstream_model="", scenes=(scene,)))


def test_a_request_with_inline_image_bytes_is_not_kept_for_failover_after_acceptance() -> None:
    """The record never holds image bytes: a data-URI image makes the request unreplayable; a URL image does not,
    and a request allowed one attempt keeps nothing."""
    inline = ImageData(mime_type="image/png", data=b"\x89PNG", digest="ab")

    assert replay_of(query(inline), max_attempts=3) is None
    assert replay_of(query(ImageUrl(url="https://img.example/k.png")), max_attempts=3) is not None
    assert replay_of(query(), max_attempts=1) is None


def test_the_next_query_excludes_every_provider_tried_and_stops_at_final_classes_and_spent_attempts() -> None:
    """Tried providers join the request's own exclusions; content policy, invalid request, or no attempts left
    end the job instead."""
    kept = msgspec.structs.replace(query(), exclude_providers=("vidgen",))
    attempts = (Attempt(provider="nanogpt", outcome="accepted", at=1.0),)
    job = VideoJob(
        id="video_x",
        team="t",
        key_id="k",
        model="sora-2",
        created_at=1.0,
        updated_at=1.0,
        provider="nanogpt",
        attempts=attempts,
        max_attempts=2,
        replay=kept,
    )
    internal = Failure(error_class=ErrorClass.INTERNAL, message="boom")

    planned = next_query(job, internal)
    assert planned is not None
    assert planned.exclude_providers == ("nanogpt", "vidgen")
    assert next_query(job, Failure(error_class=ErrorClass.CONTENT_POLICY, message="no")) is None
    assert next_query(job, Failure(error_class=ErrorClass.INVALID_REQUEST, message="no")) is None
    spent = msgspec.structs.replace(job, attempts=(*attempts, Attempt(provider="x", outcome="failed", at=2.0)))
    assert next_query(spent, internal) is None

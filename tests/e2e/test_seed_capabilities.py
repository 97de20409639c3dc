"""Seed capabilities end to end over the example catalogue and every emulator: prompt enhancement on its own,
why a video was blocked, several results per call, and a model echo that differs from the request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import auth, wait_terminal
from tests.e2e.conftest import arm, generate_calls

SWAPPED = (Path(__file__).parents[1] / "providers/videogenapi/fixtures/generate_model_swapped.json").read_text()


async def create(gateway: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == 202, reply.text
    video: dict[str, Any] = reply.json()
    return video


async def test_enhance_prompt_is_answered_by_vidgen_optimize(gateway: httpx.AsyncClient) -> None:
    """`POST /v1/prompts/enhance` routes to the offering with prompt enhancement (Vidgen) and returns its prompt."""
    reply = await gateway.post("/v1/prompts/enhance", json={"prompt": "woman walking in rain"}, headers=auth())
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert (result["object"], result["provider"], result["model"]) == ("prompt.enhancement", "vidgen", "scenex")
    assert result["prompt"].startswith("woman walking in rain, ")


async def test_enhance_prompt_for_a_model_without_it_is_a_400(gateway: httpx.AsyncClient) -> None:
    """A model no offering of which enhances prompts on its own is a 400 `unsupported_request`, never a 500."""
    body = {"prompt": "a paper boat", "model": "sora-2"}
    reply = await gateway.post("/v1/prompts/enhance", json=body, headers=auth())
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "unsupported_request"


async def test_enhance_prompt_with_an_unknown_field_names_it(gateway: httpx.AsyncClient) -> None:
    """An unknown field in the enhance body is a 400 in the canonical envelope naming the field."""
    reply = await gateway.post("/v1/prompts/enhance", json={"prompt": "a", "style": "noir"}, headers=auth())
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "style"


async def test_a_blocked_video_says_which_categories_blocked_it(gateway: httpx.AsyncClient) -> None:
    """A Vidgen post-generation block ends the job with its `filter_categories` in `error.details`."""
    video = await create(gateway, {"model": "scenex", "prompt": "a harbour at night [sandbox:unsafe]"})
    done = await wait_terminal(gateway, video["id"])
    assert (done["status"], done["error"]["code"]) == ("failed", "content_policy")
    assert done["error"]["details"] == {"filter_categories": ["violence"]}


async def test_several_results_are_reachable_by_index(gateway: httpx.AsyncClient) -> None:
    """`n: 2` on VideoGen gives `output.extra[0]` (index 1), whose content link redirects to the second result."""
    video = await create(gateway, {"model": "videogen-clip", "prompt": "a kite over the dunes", "n": 2})
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "completed", done
    [extra] = done["output"]["extra"]
    assert extra["index"] == 1
    assert extra["video_url"].endswith(f"/v1/videos/{video['id']}/content?index=1")
    first = await gateway.get(f"/v1/videos/{video['id']}/content", headers=auth())
    second = await gateway.get(f"/v1/videos/{video['id']}/content", params={"index": 1}, headers=auth())
    assert (first.status_code, second.status_code) == (302, 302)
    assert first.headers["location"] != second.headers["location"]
    beyond = await gateway.get(f"/v1/videos/{video['id']}/content", params={"index": 2}, headers=auth())
    assert (beyond.status_code, beyond.json()["error"]["param"]) == (400, "index")


async def test_a_differing_model_echo_is_a_warning_not_a_second_paid_job(
    gateway: httpx.AsyncClient, sandbox: dict[str, str]
) -> None:
    """videogenapi accepting with another model's echo keeps the job (one attempt, a warning); nothing is sent
    to NanoGPT, which also serves the model."""
    await arm(sandbox["videogenapi"], status_code=200, body=SWAPPED)
    # `priority` keeps catalogue order: videogenapi's offering is listed before NanoGPT's.
    routing = {"providers": ["videogenapi", "nanogpt"], "strategy": "priority"}
    video = await create(gateway, {"model": "kling-2.5", "prompt": "a fox in the snow", "routing": routing})
    assert video["provider"] == "videogenapi", json.dumps(video)
    assert [a["outcome"] for a in video["routing"]["attempts"]] == ["accepted"]
    assert video["warnings"] == ["videogenapi ran model 'sora-2' instead of 'kling_25'"]
    assert await generate_calls(sandbox["nanogpt"]) == 0


async def test_watermark_credentials_and_upscale_reach_vidgen(gateway: httpx.AsyncClient) -> None:
    """Overlay, C2PA overrides and upscaling go to Vidgen, whose completed meta shows them in `output.provenance`."""
    body = {
        "model": "scenex",
        "prompt": "a lighthouse at dawn",
        "watermark_overlay": {"position": "top-left", "scale": 12, "opacity": 60},
        "content_credentials": {"author": "Studio A", "title": "Lighthouse"},
        "upscale": True,
    }
    video = await create(gateway, body)
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "completed", done
    provenance = done["output"]["provenance"]
    assert (provenance["c2pa_author"], provenance["c2pa_title"]) == ("Studio A", "Lighthouse")
    assert (provenance["watermark_position"], provenance["upscale"]) == ("top-left", "true")

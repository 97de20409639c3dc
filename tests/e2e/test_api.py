"""The canonical API end to end over real sockets: gateway + Vidgen emulator + the Redis store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.store.redis import RedisStore
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import (
    REDIS_URL,
    TEAM_B_KEY,
    GatewayFactory,
    auth,
    gateway_settings,
    mp4_boxes,
    png_data_uri,
    wait_terminal,
)


@pytest.fixture
async def gateway(
    vidgen_url: str, serve_gateway: GatewayFactory, redis_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    async with (
        serve_gateway(gateway_settings(vidgen_url), store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client
    await store.close()


@pytest.fixture
async def emulator(vidgen_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=vidgen_url, timeout=10) as client:
        yield client
        await SandboxControl(client).clear_faults()


async def create(gateway: httpx.AsyncClient, body: dict[str, Any], *, expect: int = 202) -> dict[str, Any]:
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == expect, reply.text
    result: dict[str, Any] = reply.json()
    return result


async def test_text_to_video_completes_and_downloads_a_playable_mp4(gateway: httpx.AsyncClient) -> None:
    """A t2v job reaches completed with usage, and its content route redirects to a real MP4 container."""
    video = await create(gateway, {"model": "scenex", "prompt": "a lighthouse at dawn, -blurry"})
    assert (video["status"], video["provider"], video["seconds"], video["size"]) == (
        "queued",
        "vidgen",
        "5",
        "832x480",
    )
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "completed"
    assert done["progress"] == 100
    assert done["usage"] == {"video_seconds": 5, "cost_usd": 0.1, "cost_source": "price_table"}
    content = await gateway.get(f"/v1/videos/{video['id']}/content", headers=auth(), follow_redirects=True)
    assert content.status_code == 200
    assert content.headers["content-type"] == "video/mp4"
    boxes = mp4_boxes(content.content)
    assert boxes[0] == b"ftyp"
    assert {b"moov", b"mdat"} <= set(boxes)
    thumb = await gateway.get(done["output"]["thumbnail_url"], headers=auth(), follow_redirects=True)
    assert thumb.content[:2] == b"\xff\xd8"


async def test_image_to_video_completes_and_keeps_only_a_digest(gateway: httpx.AsyncClient) -> None:
    """An i2v job with a data-URI start frame completes; the stored job holds no image bytes."""
    video = await create(gateway, {"prompt": "the cat turns its head", "image": {"data_uri": png_data_uri()}})
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "completed"
    assert "base64" not in str(done)


async def test_first_last_frame_video_completes(gateway: httpx.AsyncClient) -> None:
    """A first-last-frame job (image + end_image) completes."""
    body = {
        "prompt": "red fades to blue",
        "image": {"data_uri": png_data_uri((255, 0, 0))},
        "end_image": {"data_uri": png_data_uri((0, 0, 255))},
    }
    done = await wait_terminal(gateway, (await create(gateway, body))["id"])
    assert done["status"] == "completed"


async def test_multi_scene_video_completes_with_the_summed_length(gateway: httpx.AsyncClient) -> None:
    """Three scenes of five seconds make one fifteen-second video, billed as such."""
    scenes = [
        {"prompt": "a street at night"},
        {"prompt": "a face in the rain, -shaky"},
        {"prompt": "the city"},
    ]
    video = await create(gateway, {"scenes": scenes, "music": {"tags": "ambient"}, "audio": {"prompt": "rain"}})
    assert video["seconds"] == "15"
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "completed"
    assert done["usage"]["video_seconds"] == 15


async def test_post_generation_block_fails_the_job_with_content_policy(gateway: httpx.AsyncClient) -> None:
    """COMPLETED with compliance unsafe upstream is a failed job with error.code content_policy."""
    video = await create(gateway, {"prompt": "a scene [sandbox:unsafe]"})
    done = await wait_terminal(gateway, video["id"])
    assert done["status"] == "failed"
    assert done["error"]["code"] == "content_policy"
    assert done["error"]["provider"] == "vidgen"
    assert done["output"] is None
    assert done["usage"] is None


async def test_upstream_failure_fails_the_job_as_upstream_error(gateway: httpx.AsyncClient) -> None:
    """FAILED upstream is a failed job with a retryable upstream_error."""
    done = await wait_terminal(gateway, (await create(gateway, {"prompt": "x [sandbox:fail]"}))["id"])
    assert (done["status"], done["error"]["code"], done["error"]["retryable"]) == (
        "failed",
        "upstream_error",
        True,
    )


async def test_pre_generation_block_is_a_400_content_policy_and_leaves_no_job(
    gateway: httpx.AsyncClient,
) -> None:
    """A prompt refused before generation is a 400 content_policy envelope, and no job is left behind."""
    error = (await create(gateway, {"prompt": "something [sandbox:block]"}, expect=400))["error"]
    assert (error["type"], error["code"], error["provider"]) == ("content_policy", "content_policy", "vidgen")
    listing = (await gateway.get("/v1/videos", headers=auth())).json()
    assert listing["data"] == []


async def test_upstream_5xx_at_submit_is_a_502_envelope(
    gateway: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """The emulator answering 502 to generate gives the client a 502 upstream_error naming the provider."""
    await SandboxControl(emulator).arm(FaultSpec(action="generate", status_code=502, times=1))  # raises unless 201
    reply = await gateway.post("/v1/videos", json={"prompt": "a boat"}, headers=auth())
    assert reply.status_code == 502
    error = reply.json()["error"]
    assert (error["type"], error["provider"], error["retryable"]) == ("upstream_error", "vidgen", True)
    assert error["request_id"] == reply.headers["x-request-id"]
    assert (await gateway.get("/v1/videos", headers=auth())).json()["data"] == []


async def test_unknown_body_field_is_a_400_naming_it(gateway: httpx.AsyncClient) -> None:
    """An unknown field, top-level or nested, is rejected with the field's path as `param`."""
    top = await create(gateway, {"prompt": "x", "colour": "red"}, expect=400)
    assert (top["error"]["code"], top["error"]["param"]) == ("unknown_field", "colour")
    nested = await create(gateway, {"scenes": [{"prompt": "x", "zoom": 2}]}, expect=400)
    assert nested["error"]["param"] == "scenes[0].zoom"


async def test_missing_key_is_a_401_envelope(gateway: httpx.AsyncClient) -> None:
    """No Authorization header is a 401 unauthorized envelope."""
    reply = await gateway.post("/v1/videos", json={"prompt": "x"})
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "unauthorized"


async def test_another_teams_job_is_a_404_everywhere(gateway: httpx.AsyncClient) -> None:
    """Team B cannot read, download, delete or list team A's job: always 404 or absent, never 403."""
    video = await create(gateway, {"prompt": "private"})
    other = auth(TEAM_B_KEY)
    for reply in (
        await gateway.get(f"/v1/videos/{video['id']}", headers=other),
        await gateway.get(f"/v1/videos/{video['id']}/content", headers=other),
        await gateway.delete(f"/v1/videos/{video['id']}", headers=other),
    ):
        assert reply.status_code == 404
        assert reply.json()["error"]["type"] == "not_found"
    assert (await gateway.get("/v1/videos", headers=other)).json()["data"] == []
    assert (await gateway.get(f"/v1/videos/{video['id']}", headers=auth())).status_code == 200


async def test_request_no_offering_can_serve_is_a_400_with_reasons(gateway: httpx.AsyncClient) -> None:
    """Vidgen takes no image URLs and only 5 s per scene: a non-retryable 400 naming both reasons."""
    body = {"prompt": "x", "seconds": "4", "image": {"url": "https://example.invalid/a.png"}}
    error = (await create(gateway, body, expect=400))["error"]
    assert (error["type"], error["retryable"]) == ("unsupported_request", False)
    assert "4 s not offered" in error["message"]
    assert "images as url not accepted" in error["message"]


async def test_best_effort_drops_an_unsupported_field_with_a_warning(gateway: httpx.AsyncClient) -> None:
    """A seed (unsupported by Vidgen) is refused in strict mode and dropped with a warning in best-effort mode."""
    strict = await create(gateway, {"prompt": "x", "seed": 7}, expect=400)
    assert "seed not supported" in strict["error"]["message"]
    video = await create(gateway, {"prompt": "x", "seed": 7, "best_effort": True})
    assert video["warnings"] == ["vidgen dropped seed: seed not supported"]


async def test_delete_cancels_a_running_job_and_hides_it(gateway: httpx.AsyncClient) -> None:
    """DELETE on a running job answers the OpenAI deleted object; the job is then gone for the client."""
    video = await create(gateway, {"prompt": "slow [sandbox:stuck]"})
    reply = await gateway.delete(f"/v1/videos/{video['id']}", headers=auth())
    assert reply.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert (await gateway.get(f"/v1/videos/{video['id']}", headers=auth())).status_code == 404


async def test_content_of_an_unfinished_job_is_a_409(gateway: httpx.AsyncClient) -> None:
    """Asking for the video before it exists is a 409 naming the current status, not a broken redirect."""
    video = await create(gateway, {"prompt": "slow [sandbox:stuck]"})
    reply = await gateway.get(f"/v1/videos/{video['id']}/content", headers=auth())
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "video_not_ready"


async def test_running_job_replies_carry_poll_hints(gateway: httpx.AsyncClient) -> None:
    """While not terminal, GET sets openai-poll-after-ms and Retry-After; once terminal it does not."""
    video = await create(gateway, {"prompt": "slow [sandbox:stuck]"})
    reply = await gateway.get(f"/v1/videos/{video['id']}", headers=auth())
    assert int(reply.headers["openai-poll-after-ms"]) >= 500
    assert int(reply.headers["retry-after"]) >= 1
    done = await create(gateway, {"prompt": "quick"})
    await wait_terminal(gateway, done["id"])
    final = await gateway.get(f"/v1/videos/{done['id']}", headers=auth())
    assert "openai-poll-after-ms" not in final.headers


async def test_list_pages_with_a_cursor_in_both_orders(gateway: httpx.AsyncClient) -> None:
    """Five jobs listed two at a time come back once each, newest first by default and oldest first with asc."""
    ids = [(await create(gateway, {"prompt": f"clip {n} [sandbox:stuck]"}))["id"] for n in range(5)]
    for order, expected in (("desc", ids[::-1]), ("asc", ids)):
        seen: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 2, "order": order, **({"after": after} if after else {})}
            page = (await gateway.get("/v1/videos", params=params, headers=auth())).json()
            seen += [v["id"] for v in page["data"]]
            if not page["has_more"]:
                break
            after = page["last_id"]
        assert seen == expected


async def test_health_and_readiness(gateway: httpx.AsyncClient) -> None:
    """Liveness answers ok; readiness checks the store."""
    assert (await gateway.get("/healthz")).json()["status"] == "ok"
    ready = (await gateway.get("/readyz")).json()
    assert ready["checks"]["store"] == "ok"

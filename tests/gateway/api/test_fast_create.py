"""The create's fast lane (gateway/api/fast_create.py) answers a JSON create as the litestar route does, and leaves
everything else to litestar: before the create, untouched, with the body replayed; after a create that failed,
with the failure for the route to raise, so the job is tried once and the error is the route's.

Two gateways on one Vidgen emulator: one built without the lanes (litestar answers every create), one with the
lane in front of a litestar that records what reaches it. Each create's reply is compared with the same create's
reply from the route, its own id and times aside."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar.types import Receive, Scope, Send

from gateway.api.fast_create import fast_create
from gateway.app import create_app
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app, serve_apps
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import TEAM_A_KEY, TEAM_B_KEY, gateway_settings
from tests.gateway.api.test_fast_status import HOST, USAGE_KEY, headers_of, keyring

A = {**HOST, "Authorization": f"Bearer {TEAM_A_KEY}"}
BODY = {"model": "scenex", "prompt": "a lighthouse at dusk", "metadata": {"project": "harbour"}}
_VARYING = ("id", "created_at", "expires_at")  # each create's own


class Pair(msgspec.Struct):
    lane: httpx.AsyncClient
    route: httpx.AsyncClient
    reached: list[Scope]  # the requests that reached litestar behind the lane
    control: SandboxControl


@contextlib.asynccontextmanager
async def gateways(vidgen_key: str, *, extra: str = "") -> AsyncIterator[Pair]:
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.25)
    async with (
        serve_app(create_vidgen_emulator(config)) as vidgen_url,
        httpx.AsyncClient(base_url=vidgen_url) as emulator,
    ):
        settings = gateway_settings(vidgen_url, extra=extra)
        apps = {
            name: create_app(settings, keyring=keyring(), run_poller=False, fast_lanes=False)
            for name in ("lane", "route")
        }
        reached: list[Scope] = []
        litestar = apps["lane"].asgi_handler

        async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
            reached.append(scope)
            await litestar(scope, receive, send)

        # What create_app does with the lanes on (the create's in front), with a litestar that records.
        lane_app = apps["lane"]
        lane_app.asgi_handler = fast_create(recorded, keys=keyring(), state=lane_app.state, settings=settings)
        async with (
            serve_apps(apps) as urls,
            httpx.AsyncClient(base_url=urls["lane"], timeout=10) as lane,
            httpx.AsyncClient(base_url=urls["route"], timeout=10) as route,
        ):
            yield Pair(lane=lane, route=route, reached=reached, control=SandboxControl(emulator))


def comparable(reply: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], Any]:
    """Status, headers in order (the length of a body with its own id and times aside), and the body without
    them."""
    headers = [(n, b"-" if n == b"content-length" else v) for n, v in headers_of(reply)]
    body = reply.json()
    if reply.status_code == 202:
        body = {name: value for name, value in body.items() if name not in _VARYING}
    return reply.status_code, headers, body


async def test_the_lane_answers_a_create_as_the_route(vidgen_key: str) -> None:
    """The same 202, headers in the same order and the same Video, while litestar behind the lane sees none of it;
    a replay of an Idempotency-Key answers the first job with `Idempotent-Replayed`, on both."""
    async with gateways(vidgen_key) as pair:
        replies = {}
        for name, client in (("lane", pair.lane), ("route", pair.route)):
            sent = {**A, "X-Request-Id": f"req-{name}", "Idempotency-Key": f"key-{name}"}
            first = await client.post("/v1/videos", json=BODY, headers=sent)
            again = await client.post("/v1/videos", json=BODY, headers=sent)
            replies[name] = (first, again)
        (fast, fast_again), (slow, slow_again) = replies["lane"], replies["route"]

        assert fast.status_code == 202
        assert fast.headers["x-request-id"] == "req-lane"
        assert comparable(fast)[::2] == comparable(slow)[::2]
        strip = [(n, b"-" if n == b"x-request-id" else v) for n, v in comparable(fast)[1]]
        assert strip == [(n, b"-" if n == b"x-request-id" else v) for n, v in comparable(slow)[1]]
        assert fast_again.json()["id"] == fast.json()["id"]
        assert fast_again.headers["idempotent-replayed"] == slow_again.headers["idempotent-replayed"] == "true"
        assert [n for n, _ in headers_of(fast_again)] == [n for n, _ in headers_of(slow_again)]
        assert pair.reached == []
        assert (await pair.control.stats()).calls["generate"] == 2  # one job per Idempotency-Key, on each gateway


def _refusals() -> dict[str, tuple[dict[str, str], bytes, str]]:
    """Creates the lane leaves to litestar before trying them: (headers beyond Host, body, query string)."""
    json_type = {"Content-Type": "application/json"}
    body = msgspec.json.encode(BODY)
    a = {"Authorization": f"Bearer {TEAM_A_KEY}", **json_type}
    return {
        "no key": (json_type, body, ""),
        "unknown key": ({**json_type, "Authorization": "Bearer vgk_nobody"}, body, ""),
        "no videos scope": ({**json_type, "Authorization": f"Bearer {USAGE_KEY}"}, body, ""),
        "not JSON": ({**a, "Content-Type": "text/plain"}, body, ""),
        "malformed JSON": (a, b'{"prompt": ', ""),
        "unknown field": (a, msgspec.json.encode({**BODY, "colour": "blue"}), ""),
        "larger than the model makes": (a, msgspec.json.encode({**BODY, "size": "1792x1024"}), ""),
        "webhook without a team secret": (a, msgspec.json.encode({**BODY, "webhook": {"url": "https://h.test"}}), ""),
        "query string": (a, body, "dry=1"),
        "over the body limit": (a, b" " * 2048 + body, ""),
    }


@pytest.mark.parametrize("case", list(_refusals()))
async def test_what_litestar_must_answer_reaches_it_with_its_body(vidgen_key: str, case: str) -> None:
    """Each reaches litestar once, and its reply is the route's; no job was submitted for it."""
    headers, body, query = _refusals()[case]
    async with gateways(vidgen_key, extra="[server]\nmax_body_bytes = 2048\n") as pair:
        url = f"/v1/videos?{query}" if query else "/v1/videos"
        sent = {**HOST, "X-Request-Id": "req-refused", **headers}
        fast = await pair.lane.post(url, content=body, headers=sent)
        slow = await pair.route.post(url, content=body, headers=sent)

        assert fast.status_code >= 400
        assert comparable(fast) == comparable(slow)
        assert len(pair.reached) == 1
        assert (await pair.control.stats()).calls.get("generate", 0) == 0


async def test_a_repeated_header_reaches_litestar(vidgen_key: str) -> None:
    """Two Authorization headers: litestar's 400, not a guess at which key."""
    async with gateways(vidgen_key) as pair:
        headers = [("Host", "gateway.test"), ("Authorization", f"Bearer {TEAM_A_KEY}")]
        headers += [("Authorization", f"Bearer {TEAM_B_KEY}"), ("Content-Type", "application/json")]
        reply = await pair.lane.post("/v1/videos", content=msgspec.json.encode(BODY), headers=headers)
        assert (reply.status_code, reply.json()["error"]["code"]) == (400, "duplicate_header")
        assert len(pair.reached) == 1


async def test_a_create_that_fails_is_tried_once_and_answered_by_the_route(vidgen_key: str) -> None:
    """The provider refuses every submit: the lane's create fails after its attempts, and the route raises that
    failure instead of creating again, so the provider saw as many submits as through the route alone, and the
    reply is the route's, with the request id the client gave."""
    async with gateways(vidgen_key) as pair:
        await pair.control.arm(FaultSpec(action="generate", status_code=500, times=-1))
        slow = await pair.route.post("/v1/videos", json=BODY, headers={**A, "X-Request-Id": "req-failed"})
        through_route = (await pair.control.stats()).calls["generate"]
        fast = await pair.lane.post("/v1/videos", json=BODY, headers={**A, "X-Request-Id": "req-failed"})
        through_lane = (await pair.control.stats()).calls["generate"] - through_route

        assert fast.status_code >= 500
        assert comparable(fast) == comparable(slow)
        assert through_lane == through_route >= 1
        assert len(pair.reached) == 1

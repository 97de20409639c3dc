"""The status read's fast lane (gateway/api/fast_status.py) answers exactly as the litestar route does, byte for
byte, and only on the happy path: everything else reaches litestar once, untouched, and gets litestar's reply.

Two gateways share one Redis store, key ring and clock: one built without the lane (litestar answers every read),
one with the lane in front of a litestar that records what reaches it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar.datastructures import State
from litestar.types import Message, Receive, Scope, Send

import gateway.app
from gateway.api.fast_create import fast_create
from gateway.api.fast_status import fast_status
from gateway.api.videos import LANE_READ_FAILURE
from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from gateway.errors import StoreUnavailable
from gateway.schema.job import Attempt, JobError, JobWebhook, Usage, VideoJob, new_job_id
from gateway.store.redis import RedisStore
from providers.contract import ExtraOutput, Output, UpstreamJob
from sandbox.serving import serve_apps
from tests.conftest import REDIS_URL, TEAM_A_KEY, TEAM_B_KEY, FakeClock, gateway_settings

USAGE_KEY = "vgk_test_usage_only"
HOST = {"Host": "gateway.test"}  # both gateways must see the same host: it is in the asset links


def keyring() -> KeyRing:
    return KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(TEAM_B_KEY): Caller(key_id="key-b", team="team-b", scopes=frozenset({"videos"})),
            digest(USAGE_KEY): Caller(key_id="key-u", team="team-a", scopes=frozenset({"usage"})),
        }
    )


def jobs(now: float) -> dict[str, VideoJob]:
    """One job of team A in each state a poller sees, with every optional part of the Video filled somewhere."""
    base = {"team": "team-a", "key_id": "key-a", "model": "scenex", "created_at": now - 30, "updated_at": now}
    upstream = UpstreamJob(provider="vidgen", upstream_id="run_1", upstream_model="scenex")
    accepted = (Attempt(provider="vidgen", outcome="accepted", at=now - 29),)
    return {
        "queued": VideoJob(id=new_job_id(now), **base, prompt="a quiet harbour", next_poll_at=now + 2.5),
        "in_progress": VideoJob(
            id=new_job_id(now),
            **base,
            status="in_progress",
            phase="following",
            progress=42,
            provider="vidgen",
            upstream=upstream,
            prompt='waves, "quoted" and ünïcode',
            seconds=5,
            size="832x480",
            attempts=accepted,
            metadata={"project": "lighthouse"},
            webhook=JobWebhook(url="https://hooks.example/v", content_base="https://gw.example"),
            next_poll_at=now + 0.25,
        ),
        "completed": VideoJob(
            id=new_job_id(now),
            **base,
            status="completed",
            phase="done",
            progress=100,
            provider="vidgen",
            upstream=upstream,
            seconds=5,
            output=Output(
                video_url="https://assets.example/v.mp4",
                thumbnail_url="https://assets.example/t.jpg",
                expires_at=int(now) + 3600,
                provenance={"c2pa": "signed"},
                extra=(ExtraOutput(video_url="https://assets.example/v2.mp4"),),
            ),
            usage=Usage(video_seconds=5, cost_micros=100_000, cost_source="price_table"),
            attempts=accepted,
            completed_at=now - 1,
        ),
        "failed": VideoJob(
            id=new_job_id(now),
            **base,
            status="failed",
            phase="done",
            provider="vidgen",
            error=JobError(code="content_policy", message="refused", provider="vidgen", details={"prompt": ["x"]}),
            attempts=(Attempt(provider="vidgen", outcome="failed", error_code="content_policy", at=now - 2),),
            warnings=("audio",),
            completed_at=now - 1,
        ),
    }


class Pair(msgspec.Struct):
    lane: httpx.AsyncClient
    route: httpx.AsyncClient
    reached: list[str]  # the paths that reached litestar behind the lane
    jobs: dict[str, VideoJob]
    states: dict[str, State]  # each app's state ("lane", "route"), where the lifespan put the service


@contextlib.asynccontextmanager
async def gateways(redis_prefix: str, *, extra: str = "") -> AsyncIterator[Pair]:
    clock = FakeClock(time.time())
    store = RedisStore.from_url(REDIS_URL, prefix=redis_prefix)
    seeded = jobs(clock.now)
    for job in seeded.values():
        await store.create(job, poll_at=job.next_poll_at or clock.now + 60)
    settings = gateway_settings("http://127.0.0.1:9", extra=extra)
    apps = {
        name: create_app(settings, store=store, keyring=keys, clock=clock, run_poller=False, fast_lanes=False)
        for name, keys in (("lane", keyring()), ("route", keyring()))
    }
    reached: list[str] = []
    litestar = apps["lane"].asgi_handler

    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope.get("path", ""))
        await litestar(scope, receive, send)

    # What create_app does with the lane on, with a litestar that records what reaches it.
    apps["lane"].asgi_handler = fast_status(recorded, keys=keyring(), state=apps["lane"].state)
    try:
        async with (
            serve_apps(apps) as urls,
            httpx.AsyncClient(base_url=urls["lane"], timeout=10) as lane,
            httpx.AsyncClient(base_url=urls["route"], timeout=10) as route,
        ):
            states = {name: app.state for name, app in apps.items()}
            yield Pair(lane=lane, route=route, reached=reached, jobs=seeded, states=states)
    finally:
        await store.close()


def headers_of(reply: httpx.Response, *, request_id: bool = True) -> list[tuple[bytes, bytes]]:
    """The reply's headers in order, without the server's own (date, server) and, unless `request_id`, without
    the request id's value."""
    kept = [(name.lower(), value) for name, value in reply.headers.raw if name.lower() not in (b"date", b"server")]
    return kept if request_id else [(n, b"-" if n == b"x-request-id" else v) for n, v in kept]


@pytest.mark.parametrize("public_base_url", [None, "https://videos.example.com/gw"])
async def test_the_lane_answers_each_state_byte_for_byte_as_the_route(
    vidgen_key: str, redis_prefix: str, public_base_url: str | None
) -> None:
    """Queued, in progress, completed and failed: the same status, headers in the same order (poll hints
    included), and the same body bytes, while litestar behind the lane sees none of these reads."""
    extra = f'[server]\npublic_base_url = "{public_base_url}"\n' if public_base_url else ""
    async with gateways(redis_prefix, extra=extra) as pair:
        for state, job in pair.jobs.items():
            sent = {**HOST, "Authorization": f"Bearer {TEAM_A_KEY}", "X-Request-Id": f"req-{state}"}
            fast = await pair.lane.get(f"/v1/videos/{job.id}", headers=sent)
            slow = await pair.route.get(f"/v1/videos/{job.id}", headers=sent)
            assert (fast.status_code, headers_of(fast), fast.content) == (
                slow.status_code,
                headers_of(slow),
                slow.content,
            ), state
            assert fast.status_code == 200
            assert fast.json()["status"] == state
            assert ("openai-poll-after-ms" in fast.headers) == (state in ("queued", "in_progress"))
        assert pair.reached == []


async def test_without_a_request_id_the_lane_makes_one_as_the_route_does(vidgen_key: str, redis_prefix: str) -> None:
    """A missing or malformed X-Request-Id: a fresh id of the route's form, a new one each time, and the reply
    otherwise the route's."""
    async with gateways(redis_prefix) as pair:
        job = pair.jobs["in_progress"]
        ids = []
        for given in ({}, {"X-Request-Id": "not valid!"}):
            sent = {**HOST, "Authorization": f"Bearer {TEAM_A_KEY}", **given}
            fast = await pair.lane.get(f"/v1/videos/{job.id}", headers=sent)
            slow = await pair.route.get(f"/v1/videos/{job.id}", headers=sent)
            assert headers_of(fast, request_id=False) == headers_of(slow, request_id=False)
            assert fast.content == slow.content
            assert len(fast.headers["x-request-id"]) == len(slow.headers["x-request-id"])
            ids.append(fast.headers["x-request-id"])
        assert ids[0] != ids[1]
        assert pair.reached == []


def _cases(job_ids: dict[str, str]) -> dict[str, tuple[str, str, list[tuple[str, str]]]]:
    """Requests the lane must leave to litestar: (method, path, headers beyond Host)."""
    done = job_ids["completed"]
    a = ("Authorization", f"Bearer {TEAM_A_KEY}")
    return {
        "no key": ("GET", f"/v1/videos/{done}", []),
        "unknown key": ("GET", f"/v1/videos/{done}", [("Authorization", "Bearer vgk_nobody")]),
        "not bearer": ("GET", f"/v1/videos/{done}", [("Authorization", f"Basic {TEAM_A_KEY}")]),
        "no videos scope": ("GET", f"/v1/videos/{done}", [("Authorization", f"Bearer {USAGE_KEY}")]),
        "another team's job": ("GET", f"/v1/videos/{done}", [("Authorization", f"Bearer {TEAM_B_KEY}")]),
        "unknown job": ("GET", "/v1/videos/video_0000000000000000000000000000", [a]),
        "not a job id": ("GET", "/v1/videos/characters", [a]),
        "deleted job": ("GET", f"/v1/videos/{job_ids['deleted']}", [a]),
        "query string": ("GET", f"/v1/videos/{done}?expand=all", [a]),
        "id too long": ("GET", "/v1/videos/video_" + "0" * 64, [a]),
        "trailing slash": ("GET", f"/v1/videos/{done}/", [a]),
        "another method": ("PUT", f"/v1/videos/{done}", [a]),
        "two keys": ("GET", f"/v1/videos/{done}", [a, ("Authorization", f"Bearer {TEAM_B_KEY}")]),
        "two request ids": ("GET", f"/v1/videos/{done}", [a, ("X-Request-Id", "r1"), ("X-Request-Id", "r2")]),
        "invalid host": ("GET", f"/v1/videos/{done}", [a, ("Host", "bad host")]),
    }


async def test_everything_else_reaches_litestar_once_and_gets_its_reply(vidgen_key: str, redis_prefix: str) -> None:
    """Bad or missing keys, a missing scope, another team's or a deleted or unknown job, a query string, a
    repeated header, a bad Host, another method or path: litestar behind the lane gets the request exactly once,
    and the reply (status, headers, error envelope) is the one the route gives."""
    async with gateways(redis_prefix) as pair:
        deleted = await pair.route.delete(
            f"/v1/videos/{pair.jobs['failed'].id}", headers={"Authorization": f"Bearer {TEAM_A_KEY}"}
        )
        assert deleted.status_code == 200, deleted.text
        cases = _cases({"completed": pair.jobs["completed"].id, "deleted": pair.jobs["failed"].id})
        for case, (method, path, given) in cases.items():
            sent = [("Host", "gateway.test"), *given] if all(n != "Host" for n, _ in given) else given
            pair.reached.clear()
            fast = await pair.lane.request(method, path, headers=sent)
            slow = await pair.route.request(method, path, headers=sent)
            assert pair.reached == [path.partition("?")[0]], case
            assert fast.status_code == slow.status_code, case
            assert headers_of(fast, request_id=False) == headers_of(slow, request_id=False), case
            assert _without_request_id(fast) == _without_request_id(slow), case
            assert fast.status_code >= 400 or case == "trailing slash", case


async def test_a_read_that_failed_in_the_lane_is_not_made_again_by_the_route(
    vidgen_key: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job not found, or the store down: the route answers with the failure of the lane's read instead of
    reading again (one read, one wait for a timeout, as without the lane), and the reply is the route's own."""
    async with gateways(redis_prefix) as pair:
        reads = {"lane": 0, "route": 0}
        down = False

        def counted(name: str) -> Any:
            service = pair.states[name].service
            real = service.get

            async def get(caller: Caller, job_id: str, **kwargs: Any) -> VideoJob:
                reads[name] += 1
                if down:
                    raise StoreUnavailable("the job store is unreachable")
                job: VideoJob = await real(caller, job_id, **kwargs)
                return job

            monkeypatch.setattr(service, "get", get)

        counted("lane")
        counted("route")
        sent = {**HOST, "Authorization": f"Bearer {TEAM_A_KEY}"}
        for case, path in (
            ("unknown job", "/v1/videos/video_0000000000000000000000000000"),
            ("store down", f"/v1/videos/{pair.jobs['completed'].id}"),
        ):
            down = case == "store down"
            reads.update(lane=0, route=0)
            fast = await pair.lane.get(path, headers=sent)
            slow = await pair.route.get(path, headers=sent)
            assert reads == {"lane": 1, "route": 1}, case
            assert (fast.status_code, headers_of(fast, request_id=False)) == (
                slow.status_code,
                headers_of(slow, request_id=False),
            ), case
            assert _without_request_id(fast) == _without_request_id(slow), case
            assert fast.status_code == (404 if case == "unknown job" else 503), case


def _without_request_id(reply: httpx.Response) -> Any:
    body = reply.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"]["request_id"] = "-"
    return body


class _Service:
    """A service that finds every job (a team A job in progress), or whose store is down."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down

    async def get(self, caller: Caller, job_id: str) -> VideoJob:
        if self.down:
            raise StoreUnavailable("the job store is unreachable")
        return jobs(1_750_000_000.0)["in_progress"]

    def now(self) -> float:
        return 1_750_000_000.0


async def _through_lane(service: _Service, **scope_changes: Any) -> tuple[list[Scope], list[Message]]:
    """One status read through the lane in front of a stand-in litestar: (what reached litestar, what the lane
    sent)."""
    behind: list[Scope] = []
    sent: list[Message] = []

    async def litestar(scope: Scope, receive: Receive, send: Send) -> None:
        behind.append(scope)

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    lane = fast_status(litestar, keys=keyring(), state=State({"service": service, "public_base_url": ""}))
    scope: Any = {
        "type": "http",
        "method": "GET",
        "path": "/v1/videos/video_0000000000000000000000000000",
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"gateway.test"), (b"authorization", f"Bearer {TEAM_A_KEY}".encode())],
        **scope_changes,
    }
    await lane(scope, receive, send)
    return behind, sent


async def test_a_failing_read_is_left_to_litestar_with_nothing_sent() -> None:
    """The store failing under the lane: the request goes on to litestar with the failure for the route to raise
    (the 503 envelope), and the lane has sent nothing; with the store up, the lane answers and litestar sees
    nothing."""
    behind, sent = await _through_lane(_Service(down=True))
    assert (len(behind), sent) == (1, [])
    assert isinstance(behind[0]["state"][LANE_READ_FAILURE], StoreUnavailable)
    behind, sent = await _through_lane(_Service())
    assert (behind, [m["type"] for m in sent]) == ([], ["http.response.start", "http.response.body"])


async def test_a_mounted_gateway_is_left_to_litestar() -> None:
    """Served under a root path, litestar's routing decides (the lane only knows the path at the root)."""
    behind, sent = await _through_lane(_Service(), root_path="/gw")
    assert (len(behind), sent) == (1, [])
    assert LANE_READ_FAILURE not in behind[0].get("state", {})


async def test_create_app_puts_the_lanes_in_front_unless_told_not_to(
    vidgen_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On: the create's lane in front, the status lane behind it, litestar behind both. Off: litestar alone."""
    made: list[tuple[str, object, object]] = []  # (lane, what it wraps, the lane)

    def recording(name: str, make: Any) -> Any:
        def wrap(app: Any, **kwargs: Any) -> Any:
            made.append((name, app, lane := make(app, **kwargs)))
            return lane

        return wrap

    monkeypatch.setattr(gateway.app, "fast_status", recording("status", fast_status))
    monkeypatch.setattr(gateway.app, "fast_create", recording("create", fast_create))
    settings = gateway_settings("http://127.0.0.1:9")
    on = create_app(settings, run_poller=False)
    (status, litestar, status_lane), (create, behind, create_lane) = made
    assert (status, create, behind, create_lane) == ("status", "create", status_lane, on.asgi_handler)
    assert litestar is not status_lane
    off = create_app(settings, run_poller=False, fast_lanes=False)
    assert len(made) == 2
    assert off.asgi_handler not in (status_lane, create_lane)

"""`GET /v1/videos/{id}/events` (server-sent events) over real sockets, on both stores: the current Video at
once, one event per change, the stream ending after the terminal event; 404 before streaming for another team's
job; a client delete ends it as cancelled; a client that disconnects ends it without an error. The watcher's
keep-alives and store outages are checked on the generator itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
import structlog

from gateway.errors import StoreUnavailable
from gateway.logging import configure_logging
from gateway.schema.job import VideoJob, new_job_id
from gateway.store.base import JobStore
from gateway.videos.events import job_events
from tests.conftest import TEAM_B_KEY, GatewayFactory, auth, gateway_settings, wait_terminal

ORDER = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2, "cancelled": 2}


async def frames(reply: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """SSE frames as dicts: `event`, `id`, `data` (parsed JSON), or `comment` for a comment-only frame."""
    frame: dict[str, Any] = {}
    async for line in reply.aiter_lines():
        if not line:
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            frame["comment"] = line[1:].strip()
        else:
            field, _, value = line.partition(": ")
            frame[field] = json.loads(value) if field == "data" else value


async def create(client: httpx.AsyncClient, prompt: str) -> str:
    reply = await client.post("/v1/videos", headers=auth(), json={"prompt": prompt})
    assert reply.status_code == 202, reply.text
    video_id: str = reply.json()["id"]
    return video_id


@pytest.fixture
async def client(vidgen_url: str, serve_gateway: GatewayFactory, store: JobStore) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_gateway(gateway_settings(vidgen_url), store=store) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def test_the_stream_follows_a_job_to_completion_and_ends(client: httpx.AsyncClient) -> None:
    """The first event is the Video now; statuses only move forward; the last is `video.completed` with the Video
    `GET` returns, and then the server closes the stream."""
    video_id = await create(client, "a heron in the reeds")
    async with asyncio.timeout(20), client.stream("GET", f"/v1/videos/{video_id}/events", headers=auth()) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [frame async for frame in frames(reply) if "event" in frame]
    final = (await client.get(f"/v1/videos/{video_id}", headers=auth())).json()

    assert events[0]["data"]["id"] == video_id
    statuses = [event["data"]["status"] for event in events]
    assert [ORDER[s] for s in statuses] == sorted(ORDER[s] for s in statuses)
    assert [event["event"] for event in events] == [f"video.{s}" for s in statuses]
    assert events[-1]["data"] == final
    assert final["status"] == "completed"
    assert [int(event["id"]) for event in events] == sorted({int(event["id"]) for event in events})


async def test_a_terminal_job_streams_one_event(client: httpx.AsyncClient) -> None:
    """Nothing more can change: the current Video, then the end of the stream."""
    video_id = await create(client, "a heron")
    await wait_terminal(client, video_id)
    async with asyncio.timeout(10), client.stream("GET", f"/v1/videos/{video_id}/events", headers=auth()) as reply:
        events = [frame async for frame in frames(reply)]

    assert [event["event"] for event in events] == ["video.completed"]


async def test_another_teams_job_is_a_404_before_any_stream(client: httpx.AsyncClient) -> None:
    """The team rule of every video route: not found, as the canonical JSON envelope."""
    video_id = await create(client, "a heron")
    other = await client.get(f"/v1/videos/{video_id}/events", headers=auth(TEAM_B_KEY))
    missing = await client.get("/v1/videos/video_000000000000ffffffffffffffff/events", headers=auth())

    for reply in (other, missing):
        assert reply.status_code == 404
        assert reply.headers["content-type"].startswith("application/json")
        assert reply.json()["error"]["type"] == "not_found"


async def test_a_delete_ends_the_stream_with_the_cancelled_video(client: httpx.AsyncClient) -> None:
    """A stuck job is deleted while watched: the stream's last event is `video.cancelled`, then it ends."""
    video_id = await create(client, "a heron [sandbox:stuck]")
    async with asyncio.timeout(20), client.stream("GET", f"/v1/videos/{video_id}/events", headers=auth()) as reply:
        events = frames(reply)
        first = await anext(events)
        assert (await client.delete(f"/v1/videos/{video_id}", headers=auth())).status_code == 200
        rest = [frame async for frame in events if "event" in frame]

    assert first["data"]["status"] in ("queued", "in_progress")
    assert rest[-1]["event"] == "video.cancelled"
    assert rest[-1]["data"]["status"] == "cancelled"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    previous = structlog.get_config()
    yield
    structlog.configure(**previous)


@pytest.mark.usefixtures("restore_logging")
async def test_a_client_that_disconnects_ends_its_stream_without_errors(
    vidgen_url: str, serve_gateway: GatewayFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    """The client reads the first event of a stuck job and leaves; the server logs no error or traceback and
    keeps serving."""
    configure_logging("info")
    async with (
        serve_gateway(gateway_settings(vidgen_url)) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        video_id = await create(client, "a heron [sandbox:stuck]")
        for _ in range(3):
            async with client.stream("GET", f"/v1/videos/{video_id}/events", headers=auth()) as reply:
                assert (await anext(frames(reply)))["event"].startswith("video.")
        await asyncio.sleep(1.2)  # past the watcher's next reads, where a broken stream would surface
        assert (await client.get(f"/v1/videos/{video_id}", headers=auth())).status_code == 200
    captured = capfd.readouterr()
    output = captured.out + captured.err
    assert "Traceback" not in output
    assert '"level": "error"' not in output
    assert "Exception in ASGI application" not in output


def _job(**changes: object) -> VideoJob:
    now = time.time()
    job = VideoJob(id=new_job_id(now), team="team-a", key_id="k", model="m", created_at=now, updated_at=now)
    return msgspec.structs.replace(job, **changes)


async def test_the_watcher_sends_keep_alives_while_nothing_changes_and_skips_store_outages() -> None:
    """Unchanged reads produce keep-alive comments, a failed read is skipped, a progress change is an event, and
    the terminal reading is the last frame."""
    first = _job(status="in_progress", progress=10)
    readings: list[VideoJob | Exception] = [
        first,
        first,
        StoreUnavailable("down"),
        first,
        msgspec.structs.replace(first, progress=50, version=2),
        msgspec.structs.replace(first, status="completed", progress=100, version=3),
    ]

    async def read(job_id: str) -> VideoJob | None:
        reading = readings.pop(0)
        if isinstance(reading, Exception):
            raise reading
        return reading

    out = [
        frame
        async for frame in job_events(
            first, read=read, render=lambda job: b'{"p":%d}' % job.progress, interval_s=0.001, keepalive_s=0.002
        )
    ]

    assert out[0] == b'id: 1\nevent: video.in_progress\ndata: {"p":10}\n\n'
    assert b": keep-alive\n\n" in out[1:4]  # README: `: keep-alive` comments while nothing changes
    assert out[-2] == b'id: 2\nevent: video.in_progress\ndata: {"p":50}\n\n'
    assert out[-1] == b'id: 3\nevent: video.completed\ndata: {"p":100}\n\n'
    assert readings == []

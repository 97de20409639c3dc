"""A Redis outage while creates are in flight loses no paid job: a provider's acceptance is recorded once the store
answers again (within the submit grace: the client gets its 202; past it: a retryable 503 whose retry with the
same Idempotency-Key returns the job), nothing is submitted twice, every job completes and settles once, and none
is failed as if its replica were lost. Redis is cut by a loopback TCP proxy that drops every connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.config import parse_settings
from gateway.store.redis import RedisStore
from gateway.usage.budget_redis import RedisBudgetBook
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from sandbox.serving import serve_app
from sandbox.vidgen.app import VidgenEmulatorConfig, create_vidgen_emulator
from tests.conftest import GatewayFactory, auth, gateway_settings_text, wait_terminal
from tests.stalls import bounded

pytestmark = pytest.mark.serial

JOBS = 10


class RedisCut:
    """A TCP proxy to the test Redis that can drop every connection and refuse new ones for a while."""

    def __init__(self) -> None:
        self.cut = False
        self._pipes: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 6379)
        self._pipes |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._pipes -= {writer, up_writer}

    def drop(self) -> None:
        self.cut = True
        for pipe in self._pipes:
            pipe.transport.abort()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            yield f"redis://127.0.0.1:{port}/9"
            self.drop()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()


def _settings(vidgen_url: str, *, grace_s: float) -> str:
    # The submit must fit the grace (checked at load): a 0.2 s capacity wait, 0.8 s failover deadline, 1.2 s timeout.
    # Replicas beat every 0.5 s (a beat lasts 1.5 s), so a live one is told from a lost one within the test.
    text = gateway_settings_text(vidgen_url)
    text = text.replace("submit_grace_s = 5.0", f"submit_grace_s = {grace_s}\nheartbeat_s = 0.5")
    text = text.replace("deadline_s = 2.0", "deadline_s = 0.8").replace(
        "wait_for_capacity_s = 0.5", "wait_for_capacity_s = 0.2"
    )
    return text.replace("timeout_s = 2.0", "timeout_s = 1.2")


async def _create(client: httpx.AsyncClient, n: int) -> httpx.Response:
    headers = {**auth(), "Idempotency-Key": f"outage-{n}"}
    return await client.post("/v1/videos", json={"prompt": f"outage wave {n}"}, headers=headers)


@pytest.mark.parametrize(
    ("grace_s", "outage_s", "replicas"),
    [(5.0, 2.0, 1), (2.5, 4.0, 1), (2.5, 4.0, 2)],
    ids=["within-grace", "past-grace", "past-grace-two-replicas"],
)
async def test_creates_in_flight_through_a_store_outage_lose_and_duplicate_nothing(
    vidgen_key: str, serve_gateway: GatewayFactory, redis_prefix: str, grace_s: float, outage_s: float, replicas: int
) -> None:
    """Ten creates are at the provider (a 0.6 s submit) when Redis drops for `outage_s`: each client ends with its
    job (at once, or by retrying with its key), the provider saw ten submits, and all ten complete and settle once.
    With a second replica polling the same store, it leaves the records the first is still writing alone."""
    config = VidgenEmulatorConfig(api_keys=frozenset({vidgen_key}), queue_s=0.05, run_s=0.25)
    cut = RedisCut()
    # A bound on the whole run (about 5-10 s): a run once stalled here, idle, for minutes (twice, each time in the
    # first gateway's shutdown, after the test's own work); bounded, a stall fails with every task's stack.
    async with (
        bounded(120),
        serve_app(create_vidgen_emulator(config)) as vidgen_url,
        httpx.AsyncClient(base_url=vidgen_url) as emulator,
        cut.serving() as redis_url,
    ):
        control = SandboxControl(emulator)
        await control.arm(FaultSpec(action="generate", delay_s=0.6, times=-1))
        store = RedisStore.from_url(redis_url, prefix=redis_prefix)
        other_store = RedisStore.from_url(redis_url, prefix=redis_prefix)
        settings = parse_settings(_settings(vidgen_url, grace_s=grace_s), source="test")
        async with (
            serve_gateway(settings, store=store) as url,
            serve_gateway(settings, store=other_store, run_poller=replicas > 1),
            httpx.AsyncClient(base_url=url, timeout=30) as client,
        ):
            creates = [asyncio.create_task(_create(client, n)) for n in range(JOBS)]
            await control.wait_for_calls("generate", JOBS)  # the cut lands inside every submit (each lasts 0.6 s)
            cut.drop()
            await asyncio.sleep(outage_s)
            cut.cut = False
            first = await asyncio.gather(*creates)
            retried = [reply if reply.status_code == 202 else await _create(client, n) for n, reply in enumerate(first)]
            ids = [reply.json()["id"] for reply in retried]
            videos = [await wait_terminal(client, video_id, retry_unavailable=True) for video_id in ids]
            replays = [await _create(client, n) for n in range(JOBS)]
            stats = await control.stats()
        ledger = [record async for record in RedisBudgetBook(store.client, prefix=redis_prefix).records()]
        await store.close()
        await other_store.close()

    statuses = sorted({reply.status_code for reply in first})
    print(
        f"grace {grace_s} s, outage {outage_s} s, {replicas} replica(s): first answers {statuses},"
        f" submits {stats.calls['generate']}"
    )
    if outage_s < grace_s:
        assert statuses == [202]
    else:
        assert {reply.json()["error"]["type"] for reply in first if reply.status_code != 202} <= {"store_unavailable"}
        assert any(reply.status_code == 503 and reply.json()["error"]["retryable"] for reply in first)
    assert [reply.status_code for reply in retried] == [202] * JOBS
    assert len(set(ids)) == JOBS
    assert [video["status"] for video in videos] == ["completed"] * JOBS, [v.get("error") for v in videos]
    assert stats.calls["generate"] == JOBS  # one submit per job: no retry started a second paid job
    assert [reply.json()["id"] for reply in replays] == ids
    assert sorted(record.job_id for record in ledger) == sorted(ids)  # settled once each

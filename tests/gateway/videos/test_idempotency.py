"""Idempotency-Key on `POST /v1/videos` over real sockets (gateway, Vidgen emulator), on both stores: a repeat
returns the original job without a second upstream submit, another body is a 409, concurrent requests make one
job, a dropped connection's retry gets the job the first request made, and a failed create frees the key."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import msgspec
import pytest

from gateway.app import create_app
from gateway.config import load_settings
from gateway.errors import StoreUnavailable
from gateway.store.base import JobStore
from gateway.videos.idempotency import IdempotentCreates, claim_ttl_s
from sandbox.control import SandboxControl
from sandbox.faults import FaultSpec
from tests.conftest import (
    EXAMPLE_CONFIG,
    TEAM_B_KEY,
    FakeClock,
    GatewayFactory,
    auth,
    gateway_settings,
    wait_terminal,
)
from tests.conftest import test_keyring as keyring_for_tests

BODY = {"model": "scenex", "prompt": "a lighthouse at dawn"}


@pytest.fixture
async def gateway(vidgen_url: str, serve_gateway: GatewayFactory, store: JobStore) -> AsyncIterator[str]:
    async with serve_gateway(gateway_settings(vidgen_url), store=store) as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        yield client


@pytest.fixture
async def emulator(vidgen_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=vidgen_url, timeout=10) as client:
        yield client
        await SandboxControl(client).clear_faults()


async def submits(emulator: httpx.AsyncClient) -> int:
    return (await SandboxControl(emulator).stats()).calls.get("generate", 0)


async def delay_submits(emulator: httpx.AsyncClient, delay_s: float) -> None:
    await SandboxControl(emulator).arm(FaultSpec(action="generate", delay_s=delay_s, times=1))  # raises unless 201


async def drop_mid_submit(client: httpx.AsyncClient, emulator: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Send the create, and once its (delayed) submit has reached upstream, drop the request: cancelling it closes
    the connection (under uvicorn) or cancels the request's task (in-process ASGI)."""
    request = asyncio.create_task(client.post("/v1/videos", json=BODY, headers=headers))
    for _ in range(500):
        if await submits(emulator) or request.done():
            break
        await asyncio.sleep(0.01)
    assert not request.done(), "the create answered before its submit was held upstream"
    request.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await request


def keyed(key: str, team_key: str | None = None) -> dict[str, str]:
    return {**auth(*(team_key,) if team_key else ()), "Idempotency-Key": key}


async def test_a_repeat_returns_the_original_job_without_a_second_submit(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """Same key, same body: 202 with the same job (its current state) and `Idempotent-Replayed: true`."""
    first = await client.post("/v1/videos", json=BODY, headers=keyed("order-1"))
    await wait_terminal(client, first.json()["id"])
    again = await client.post("/v1/videos", json=BODY, headers=keyed("order-1"))

    assert (first.status_code, again.status_code) == (202, 202)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "completed"
    assert await submits(emulator) == 1


async def test_the_same_key_with_another_body_is_a_conflict(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """Same key, different prompt: 409 `conflict` naming the header, and no second submit."""
    await client.post("/v1/videos", json=BODY, headers=keyed("order-2"))
    other = await client.post("/v1/videos", json={**BODY, "prompt": "a lighthouse at dusk"}, headers=keyed("order-2"))

    assert other.status_code == 409
    error = other.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("conflict", "idempotency_key_reused", "Idempotency-Key")
    assert await submits(emulator) == 1


async def test_keys_belong_to_a_team(client: httpx.AsyncClient, emulator: httpx.AsyncClient) -> None:
    """Another team using the same key string makes its own job."""
    mine = await client.post("/v1/videos", json=BODY, headers=keyed("shared-key"))
    theirs = await client.post("/v1/videos", json=BODY, headers=keyed("shared-key", TEAM_B_KEY))

    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json()["id"] != theirs.json()["id"]
    assert await submits(emulator) == 2


async def test_two_concurrent_requests_with_one_key_make_one_job(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """While the first request's submit is held upstream, the second waits for it and gets its job."""
    await delay_submits(emulator, 0.5)
    replies = await asyncio.gather(*(client.post("/v1/videos", json=BODY, headers=keyed("order-3")) for _ in range(2)))

    assert [r.status_code for r in replies] == [202, 202]
    assert replies[0].json()["id"] == replies[1].json()["id"]
    assert sorted(r.headers.get("idempotent-replayed", "") for r in replies) == ["", "true"]
    assert await submits(emulator) == 1


async def test_a_retry_after_a_dropped_connection_gets_the_first_job_and_no_second_submit(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """The client gives up while the submit is in flight; its retry with the key returns the job the first request
    went on to make (the create was not cancelled with the request), which completes, and upstream saw one submit."""
    await delay_submits(emulator, 0.6)
    await drop_mid_submit(client, emulator, keyed("order-4"))
    retry = await client.post("/v1/videos", json=BODY, headers=keyed("order-4"))

    assert retry.status_code == 202, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    done = await wait_terminal(client, retry.json()["id"])
    listed = (await client.get("/v1/videos", headers=auth())).json()["data"]
    assert done["status"] == "completed"
    assert [video["id"] for video in listed] == [retry.json()["id"]]
    assert await submits(emulator) == 1


async def test_a_dropped_connection_without_a_key_still_keeps_the_accepted_job(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """Without a key the create also runs to the end: the job upstream accepted is stored and followed."""
    await delay_submits(emulator, 0.6)
    await drop_mid_submit(client, emulator, auth())
    listed: list[dict[str, Any]] = []
    for _ in range(100):
        listed = (await client.get("/v1/videos", headers=auth())).json()["data"]
        if listed and listed[0]["provider"] and listed[0]["status"] != "queued":
            break
        await asyncio.sleep(0.05)
    assert len(listed) == 1
    assert (await wait_terminal(client, listed[0]["id"]))["status"] == "completed"
    assert await submits(emulator) == 1


async def test_a_failed_create_frees_the_key_for_the_retry(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """The first submit is refused upstream (an error reply, no job); the retry with the same key creates the job."""
    await SandboxControl(emulator).arm(FaultSpec(action="generate", status_code=500, times=1))  # raises unless 201
    failed = await client.post("/v1/videos", json=BODY, headers=keyed("order-5"))
    retry = await client.post("/v1/videos", json=BODY, headers=keyed("order-5"))

    assert failed.status_code >= 500
    assert retry.status_code == 202, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert await submits(emulator) == 2


async def test_json_and_multipart_forms_of_one_request_share_a_key(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """The fingerprint is of the normalized request: the SDK's multipart form matches the JSON body."""
    first = await client.post("/v1/videos", json=BODY, headers=keyed("order-6"))
    fields = {name: (None, value) for name, value in BODY.items()}  # multipart/form-data, as the SDK sends it
    form = await client.post("/v1/videos", files=fields, headers=keyed("order-6"))

    assert form.status_code == 202, form.text
    assert form.json()["id"] == first.json()["id"]
    assert await submits(emulator) == 1


@pytest.mark.parametrize("key", ["x" * 256, "has space", "tab\there", ""])
async def test_malformed_keys_are_refused(client: httpx.AsyncClient, key: str) -> None:
    """A key that is too long, empty or not printable ASCII is a 400 naming the header, before any work."""
    reply = await client.post("/v1/videos", json=BODY, headers=keyed(key))

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_idempotency_key", "Idempotency-Key")


async def test_a_create_whose_request_task_is_cancelled_still_finishes(
    vidgen_url: str, store: JobStore, emulator: httpx.AsyncClient
) -> None:
    """Some servers cancel the request's task when the client goes away (uvicorn does not, so this drives the app
    in-process): the create runs on, its job is kept, and the retry gets it with no second submit."""
    app = create_app(gateway_settings(vidgen_url), store=store, keyring=keyring_for_tests())
    await delay_submits(emulator, 0.6)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=10) as client,
    ):
        await drop_mid_submit(client, emulator, keyed("order-7"))
        retry = await client.post("/v1/videos", json=BODY, headers=keyed("order-7"))
        assert retry.status_code == 202, retry.text
        done = await wait_terminal(client, retry.json()["id"])

    assert retry.headers["idempotent-replayed"] == "true"
    assert done["status"] == "completed"
    assert await submits(emulator) == 1


def test_a_claim_outlives_the_longest_create_including_its_wait_for_capacity() -> None:
    """The in-progress claim must outlast a create that waits for capacity, fails over to its deadline and then
    writes its record until the submit grace runs out: with the example config (wait 5 s, deadline 60 s, slowest
    provider timeout, grace 120 s) the grace plus 30 s; and a longer grace when the wait is longer."""
    example = load_settings(EXAMPLE_CONFIG)
    slowest = max(p.timeout_s for p in example.providers.values())
    assert 5.0 + 60.0 + slowest < example.poller.submit_grace_s == 120.0
    assert claim_ttl_s(example) == 120.0 + 30.0
    waits_longer = msgspec.structs.replace(
        example,
        failover=msgspec.structs.replace(example.failover, wait_for_capacity_s=95.0),
        poller=msgspec.structs.replace(example.poller, submit_grace_s=300.0),  # it must outlast the longer submit
    )
    assert claim_ttl_s(waits_longer) == 300.0 + 30.0


async def test_a_replay_after_the_job_was_deleted_returns_it_cancelled(
    client: httpx.AsyncClient, emulator: httpx.AsyncClient
) -> None:
    """The job a key made was deleted (cancelled): a replay answers 202 with that job as it now is, not a 404,
    and submits nothing."""
    body = {**BODY, "prompt": "a lighthouse that never finishes [sandbox:stuck]"}  # still running at the delete
    first = await client.post("/v1/videos", json=body, headers=keyed("order-deleted"))
    assert first.status_code == 202, first.text
    deleted = await client.delete(f"/v1/videos/{first.json()['id']}", headers=auth())
    assert deleted.status_code == 200, deleted.text
    again = await client.post("/v1/videos", json=body, headers=keyed("order-deleted"))

    assert again.status_code == 202, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "cancelled"
    assert await submits(emulator) == 1


class _CompleteFailsOnce:
    """Memory keys whose first `complete` meets a store outage (the job is made, its key not yet recorded)."""

    def __init__(self) -> None:
        from gateway.store.idempotency import MemoryIdempotencyKeys

        self.keys = MemoryIdempotencyKeys()
        self.failed = False

    async def claim(self, key: str, **kwargs: Any) -> Any:
        return await self.keys.claim(key, **kwargs)

    async def complete(self, key: str, **kwargs: Any) -> bool:
        if not self.failed:
            from gateway.errors import StoreUnavailable

            self.failed = True
            raise StoreUnavailable("the job store is unreachable")
        return await self.keys.complete(key, **kwargs)

    async def release(self, key: str, **kwargs: Any) -> None:
        await self.keys.release(key, **kwargs)


async def test_a_key_whose_record_failed_after_the_create_is_recorded_once_the_store_answers() -> None:
    """The create made its job but writing the key's record met an outage: the record is retried in the background,
    so a retry with the key gets that job (not, once the claim lapses, a second paid one)."""
    from types import SimpleNamespace

    from gateway.auth import Caller
    from gateway.videos.idempotency import IdempotentCreates

    made: list[Any] = []

    class Service:
        async def create(self, caller: Any, intake: Any, *, metadata: Any) -> Any:
            made.append(SimpleNamespace(id=f"video_{len(made)}"))
            return made[-1]

        async def get(self, caller: Any, job_id: str, *, deleted: bool) -> Any:
            return next(job for job in made if job.id == job_id)

    creates = IdempotentCreates(service=Service(), keys=_CompleteFailsOnce(), claim_ttl_s=0.5)
    caller = Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"}))
    intake = SimpleNamespace(query="scenex", prompt="p", images=(), webhook=None, source=None)
    first, replayed = await creates.create(caller, intake, metadata={}, idempotency_key="k1")
    assert not replayed
    await asyncio.sleep(0.7)  # past the claim's lease: only a recorded key still leads to the job
    again, replayed = await creates.create(caller, intake, metadata={}, idempotency_key="k1")
    assert (again.id, replayed, len(made)) == (first.id, True, 1)


async def test_a_concurrent_repeat_that_outwaits_the_first_gets_a_retryable_409_in_use() -> None:
    """While the first create with a key is still running past the longest a create can take (the claim's TTL),
    a repeat stops waiting with 409 `idempotency_key_in_use`, retryable, Retry-After 1; the first still finishes."""
    from types import SimpleNamespace

    from gateway.auth import Caller
    from gateway.errors import GatewayError
    from gateway.store.idempotency import MemoryIdempotencyKeys
    from gateway.videos.idempotency import IdempotentCreates

    started, release = asyncio.Event(), asyncio.Event()

    class SlowService:
        async def create(self, caller: Any, intake: Any, *, metadata: Any) -> Any:
            started.set()
            await release.wait()
            return SimpleNamespace(id="video_slow")

    # The keys' clock stands still, so the first's claim is still held when the repeat's wait runs out.
    keys = MemoryIdempotencyKeys(clock=FakeClock())
    creates = IdempotentCreates(service=SlowService(), keys=keys, claim_ttl_s=0.2)  # type: ignore[arg-type]
    caller = Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"}))
    intake: Any = SimpleNamespace(query="scenex", prompt="p", images=(), webhook=None, source=None)
    first = asyncio.create_task(creates.create(caller, intake, metadata={}, idempotency_key="slow-key"))
    async with asyncio.timeout(10):
        await started.wait()  # the first holds the key
        with pytest.raises(GatewayError) as refused:
            await creates.create(caller, intake, metadata={}, idempotency_key="slow-key")
        release.set()
        made, replayed = await first

    assert (refused.value.status_code, refused.value.type, refused.value.code) == (
        409,
        "conflict",
        "idempotency_key_in_use",
    )
    assert refused.value.retryable is True
    assert refused.value.headers == {"Retry-After": "1"}
    assert (made.id, replayed) == ("video_slow", False)


async def test_a_key_is_kept_24_hours_then_the_same_request_makes_a_new_job(
    vidgen_url: str, serve_gateway: GatewayFactory, emulator: httpx.AsyncClient
) -> None:
    """README: a key is kept 24 h. On the gateway's clock, a repeat a minute before 24 h is replayed; one a
    minute after makes a second job with a second submit."""
    clock = FakeClock(time.time())
    async with (
        serve_gateway(gateway_settings(vidgen_url), clock=clock, run_poller=False) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        first = await client.post("/v1/videos", json=BODY, headers=keyed("day-key"))
        clock.advance(24 * 3600 - 60)
        within = await client.post("/v1/videos", json=BODY, headers=keyed("day-key"))
        clock.advance(120)
        after = await client.post("/v1/videos", json=BODY, headers=keyed("day-key"))

    assert (first.status_code, within.status_code, after.status_code) == (202, 202, 202)
    assert within.json()["id"] == first.json()["id"]
    assert within.headers["idempotent-replayed"] == "true"
    assert after.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in after.headers
    assert await submits(emulator) == 2


class _SlowService:
    """A stand-in for VideoService whose creates take `delay_s` and then return a job id or raise."""

    def __init__(self, delay_s: float, error: Exception | None = None) -> None:
        self.delay_s = delay_s
        self.error = error
        self.finished = 0

    async def create(self, caller: Any, intake: Any, *, metadata: dict[str, str]) -> Any:
        await asyncio.sleep(self.delay_s)
        self.finished += 1
        if self.error is not None:
            raise self.error
        return "video_made"


def _creates(service: _SlowService) -> IdempotentCreates:
    return IdempotentCreates(service=cast(Any, service), keys=cast(Any, None), claim_ttl_s=1.0)


async def test_a_detached_create_hands_its_job_or_its_error_to_the_request_and_is_then_forgotten() -> None:
    """Without a key the create runs as its own task: its job, or its error as raised, reaches the request, and
    the task leaves the set `drain` waits on once it is done."""
    creates = _creates(_SlowService(0.0))
    assert await creates.create(cast(Any, None), cast(Any, None), metadata={}, idempotency_key=None) == (
        "video_made",
        False,
    )
    failing = _creates(_SlowService(0.0, error=StoreUnavailable("down")))
    with pytest.raises(StoreUnavailable, match="down"):
        await failing.create(cast(Any, None), cast(Any, None), metadata={}, idempotency_key=None)
    assert not creates._tasks
    assert not failing._tasks


@pytest.mark.parametrize("error", [None, StoreUnavailable("down")])
async def test_a_detached_create_runs_on_when_its_request_is_cancelled(error: Exception | None) -> None:
    """The request's task is cancelled mid-create: the create still finishes (an error it ends with is nobody's
    to read), and `drain` waits for it."""
    service = _SlowService(0.05, error=error)
    creates = _creates(service)
    request = asyncio.ensure_future(creates.create(cast(Any, None), cast(Any, None), metadata={}, idempotency_key=None))
    await asyncio.sleep(0.01)
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert service.finished == 0
    assert len(creates._tasks) == 1
    await creates.drain(timeout_s=5.0)
    assert service.finished == 1
    assert not creates._tasks

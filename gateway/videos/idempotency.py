"""Creates, once: every create runs as its own task the request awaits (a client that disconnects mid-submit
does not cancel it, so an accepted job is kept), and with an `Idempotency-Key` the team's first request claims
the key, a repeat with the same request gets that job back, and one with another request is a 409."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import msgspec
import structlog

from gateway.auth import Caller
from gateway.config import Settings
from gateway.errors import Conflict, InvalidRequest, RequestInProgress, StoreUnavailable
from gateway.schema.job import VideoJob
from gateway.store.idempotency import IdempotencyKeys, IdempotencyRecord
from gateway.videos.failover import AcceptedNotRecorded
from gateway.videos.intake import Intake
from gateway.videos.service import VideoService

log = structlog.get_logger("gateway.videos.idempotency")
T = TypeVar("T")

KEY_TTL_S = 24 * 3600.0
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
_ENCODER = msgspec.msgpack.Encoder(order="deterministic")
_FIRST_WAIT_S = 0.02
_MAX_WAIT_STEP_S = 0.5


def check_key(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
            code="invalid_idempotency_key",
            param="Idempotency-Key",
        )
    return value


def claim_ttl_s(settings: Settings) -> float:
    """How long a create can run: its submit (capacity wait, failover deadline, one more provider call), then the
    write of its record, retried until the submit grace runs out (gateway/videos/failover.py `follow`; the config
    makes the grace exceed the submit), and margin. A claim older than that belongs to a create that died with its
    replica."""
    return settings.poller.submit_grace_s + 30.0


def fingerprint(intake: Intake, metadata: Mapping[str, str]) -> str:
    """A hash of the request as normalized (JSON and multipart forms of one request hash alike): the routing
    query with decoded images, the prompt, the metadata and the webhook URL."""
    webhook_url = None if intake.webhook is None else intake.webhook.url
    query = intake.query
    if intake.source is not None:
        # A source video's link is renewed from one request to the next: the source is named by its reference.
        query = msgspec.structs.replace(query, request=msgspec.structs.replace(query.request, video_input=None))
    material = (query, intake.prompt, intake.images, intake.source, dict(metadata), webhook_url)
    return hashlib.sha256(_ENCODER.encode(material)).hexdigest()


class IdempotentCreates:
    def __init__(
        self, *, service: VideoService, keys: IdempotencyKeys, claim_ttl_s: float, record_ttl_s: float = KEY_TTL_S
    ) -> None:
        self._service = service
        self._keys = keys
        self._claim_ttl_s = claim_ttl_s
        self._record_ttl_s = record_ttl_s
        self._tasks: set[asyncio.Task[Any]] = set()

    async def create(
        self, caller: Caller, intake: Intake, *, metadata: dict[str, str], idempotency_key: str | None
    ) -> tuple[VideoJob, bool]:
        """The job, and whether it was made by an earlier request with this key (a replay)."""
        if idempotency_key is None:
            return await self._detached(self._service.create(caller, intake, metadata=metadata)), False
        key = f"{caller.team}:{hashlib.sha256(check_key(idempotency_key).encode()).hexdigest()}"
        wanted = fingerprint(intake, metadata)
        loop = asyncio.get_running_loop()
        # A concurrent request with this key waits for the first, at most as long as the first can take.
        deadline, step = loop.time() + self._claim_ttl_s, _FIRST_WAIT_S
        while True:
            # The claim is made in the detached task too: a request cancelled mid-claim must not strand a claim
            # that nobody completes (its retries would wait for it until it expired).
            job, held = await self._detached(self._claim_and_create(key, wanted, caller, intake, metadata))
            if job is not None:
                return job, False
            assert held is not None
            if not hmac.compare_digest(held.fingerprint, wanted):
                raise Conflict(
                    "this Idempotency-Key was used with a different request in the last 24 h",
                    code="idempotency_key_reused",
                    param="Idempotency-Key",
                )
            if held.job_id is not None:
                return await self._service.get(caller, held.job_id, deleted=True), True
            if loop.time() >= deadline:
                raise RequestInProgress(
                    "a request with this Idempotency-Key is still being processed; retry shortly",
                    code="idempotency_key_in_use",
                    param="Idempotency-Key",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(step)
            step = min(step * 2, _MAX_WAIT_STEP_S)

    async def _claim_and_create(
        self, key: str, wanted: str, caller: Caller, intake: Intake, metadata: dict[str, str]
    ) -> tuple[VideoJob | None, IdempotencyRecord | None]:
        """Our job if we took the key, else the record of whoever holds it."""
        token = secrets.token_hex(16)
        held = await self._keys.claim(key, fingerprint=wanted, token=token, ttl_s=self._claim_ttl_s)
        if held is not None:
            return None, held
        return await self._claimed(key, token, caller, intake, metadata), None

    async def _claimed(
        self, key: str, token: str, caller: Caller, intake: Intake, metadata: dict[str, str]
    ) -> VideoJob:
        try:
            job = await self._service.create(caller, intake, metadata=metadata)
        except AcceptedNotRecorded as exc:
            # A provider has the job: the key must lead a retry to it, never to a second submit.
            self._background(self._until_reachable(self._completion(key, token, exc.job_id)))
            raise
        except BaseException:
            # Nothing was made: free the key so the client's retry can go ahead.
            await self._write_key(functools.partial(self._keys.release, key, token=token), "idempotency_release_failed")
            raise
        # The job exists and the client gets it. Should the store fail here, the key is recorded once it answers
        # (our claim holds a retry off meanwhile): a retry after the claim lapsed would start a second paid job
        # (seen in a Redis failover).
        await self._write_key(self._completion(key, token, job.id), "idempotency_record_failed", job_id=job.id)
        return job

    def _completion(self, key: str, token: str, job_id: str) -> Callable[[], Awaitable[None]]:
        async def complete() -> None:
            if not await self._keys.complete(key, token=token, job_id=job_id, ttl_s=self._record_ttl_s):
                log.warning("idempotency_claim_lost", job_id=job_id)

        return complete

    async def _write_key(self, write: Callable[[], Awaitable[object]], event: str, **fields: str) -> None:
        """A write of the key's record now; while the store is unreachable, again in the background until it
        answers, so a failed release does not hold the client's retries off for a whole claim lease."""
        try:
            await write()
        except StoreUnavailable:
            log.warning(event, **fields)
            self._background(self._until_reachable(write))

    async def _until_reachable(self, write: Callable[[], Awaitable[object]]) -> None:
        pause_s = _FIRST_WAIT_S
        while True:
            try:
                await write()
                return
            except StoreUnavailable:
                await asyncio.sleep(pause_s)
                pause_s = min(pause_s * 2, _MAX_WAIT_STEP_S * 4)

    def _background(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(_settled)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _detached(self, work: Coroutine[Any, Any, T]) -> T:
        """Run the create as its own task: if the request is cancelled (its client went away), the create still
        finishes and its job is kept, instead of being cut off between the upstream accept and the record."""
        return await asyncio.shield(self._background(work))

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for creates whose requests went away, at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


def _settled(task: asyncio.Task[Any]) -> None:
    # The request that awaited it may be gone: mark the outcome seen so asyncio does not warn; errors already
    # reached the client (or the client left).
    if not task.cancelled():
        task.exception()

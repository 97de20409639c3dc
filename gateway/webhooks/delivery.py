"""Webhook delivery: the terminal effect that puts a job's final Video in the outbox, and the dispatcher that
claims due deliveries with a lease, POSTs them signed, records every attempt and reschedules with backoff until
a 2xx (delivered) or the schedule runs out (failed). At least once: a receiver dedupes on `webhook-id`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping

import httpx
import msgspec
import structlog

from gateway.errors import StoreUnavailable
from gateway.schema.job import VideoJob, to_video
from gateway.store.outbox import DeliveryAttempt, Outbox, WebhookDelivery, delivery_id
from gateway.webhooks.settings import WebhookSettings
from gateway.webhooks.signing import SigningSecret, signed_headers
from gateway.webhooks.targets import BlockedTarget, resolve

log = structlog.get_logger("gateway.webhooks")

USER_AGENT = "video-gateway-webhooks/1"
_DETAIL_CHARS = 200


class WebhookDispatcher:
    def __init__(
        self,
        *,
        outbox: Outbox,
        client: httpx.AsyncClient,
        settings: WebhookSettings,
        secrets: Mapping[str, SigningSecret],
        clock: Callable[[], float],
        on_outcome: Callable[[str], None] = lambda outcome: None,
        allow_loopback: bool = False,
    ) -> None:
        self._on_outcome = on_outcome
        self._allow_loopback = allow_loopback
        self._outbox = outbox
        self._client = client
        self._settings = settings
        self._secrets = secrets
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._nudge = asyncio.Event()

    async def enqueue(self, job: VideoJob) -> None:
        """The terminal effect: the final Video, as `GET /v1/videos/{id}` renders it, goes in the outbox once.
        The delivery id derives from the job id, so running this again (after a crash) adds nothing."""
        if job.webhook is None:
            return
        now = self._clock()
        video = to_video(job, content_url=f"{job.webhook.content_base}/v1/videos/{job.id}/content")
        delivery = WebhookDelivery(
            id=delivery_id(job.id),
            job_id=job.id,
            team=job.team,
            url=job.webhook.url,
            body=msgspec.json.encode(video),
            created_at=now,
            next_attempt_at=now,
        )
        if await self._outbox.enqueue(delivery, due_at=now):
            log.info("webhook_queued", job_id=job.id, delivery_id=delivery.id)
            self._nudge.set()

    async def run(self) -> None:
        """Claim and send until `stop()`; outbox outages are waited out. In-flight attempts finish (each is
        bounded by `timeout_s`) before this returns, so a graceful stop records every attempt it made."""
        while not self._stopping:
            try:
                if not await self._claim_batch():
                    await self._idle()
            except StoreUnavailable:
                log.warning("webhook_outbox_unavailable")
                await self._pause(min(5.0, self._settings.tick_s * 8))
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        """Ask `run` to finish; cancelling it instead could drop an attempt between the POST and its record,
        and the receiver would get that delivery again after the lease."""
        self._stopping = True
        self._nudge.set()

    async def _pause(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), timeout=delay_s)

    async def _claim_batch(self) -> bool:
        """Claims no more than there are free senders, so no claimed delivery waits out its lease in a queue.
        True when it took a full batch (more may be due)."""
        free = min(self._settings.batch_size, self._settings.concurrency - len(self._tasks))
        if free <= 0:
            return False
        ids = await self._outbox.claim_due(self._clock(), limit=free, lease_s=self._settings.lease_s)
        for item in ids:
            task = asyncio.create_task(self._attempt_guarded(item))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        return len(ids) == free

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._nudge.set()

    async def _idle(self) -> None:
        if not self._stopping:
            self._nudge.clear()
        next_due = await self._outbox.next_due_at()
        delay = self._settings.tick_s if next_due is None else next_due - self._clock()
        await self._pause(max(0.0, min(delay, self._settings.tick_s)))

    async def _attempt_guarded(self, item: str) -> None:
        try:
            await self.attempt(item)
        except StoreUnavailable:
            log.warning("webhook_record_failed", delivery_id=item)  # the lease runs out and it comes back
        except Exception:
            log.exception("webhook_attempt_crashed", delivery_id=item)

    async def attempt(self, item: str) -> None:
        """One POST of a claimed delivery, then its record: delivered, failed, or due again after the backoff."""
        delivery = await self._outbox.get(item)
        if delivery is None or delivery.state != "pending":
            return
        started, clock_start = self._clock(), time.perf_counter()
        status_code, error = await self._post(delivery)
        attempt = DeliveryAttempt(
            at=started,
            duration_ms=int((time.perf_counter() - clock_start) * 1000),
            status_code=status_code,
            error=error,
        )
        await self._record(delivery, attempt)

    async def _record(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        now = self._clock()
        attempts = (*delivery.attempts, attempt)
        schedule = self._settings.retry_schedule_s
        fields = {"job_id": delivery.job_id, "delivery_id": delivery.id, "attempt": len(attempts)}
        due: float | None = None
        if attempt.status_code is not None and 200 <= attempt.status_code < 300:
            changes: dict[str, object] = {"state": "delivered", "finished_at": now, "next_attempt_at": None}
            log.info("webhook_delivered", **fields)
        elif len(attempts) > len(schedule):
            changes = {"state": "failed", "finished_at": now, "next_attempt_at": None}
            log.warning("webhook_abandoned", status_code=attempt.status_code, error=_kind(attempt.error), **fields)
        else:
            due = now + schedule[len(attempts) - 1]
            changes = {"next_attempt_at": due}
            log.info("webhook_attempt_failed", status_code=attempt.status_code, error=_kind(attempt.error), **fields)
        updated = msgspec.structs.replace(delivery, attempts=attempts, version=delivery.version + 1, **changes)
        if not await self._outbox.replace(updated, expected_version=delivery.version, due_at=due):
            log.warning("webhook_record_superseded", **fields)
            return
        self._on_outcome(updated.state if updated.state != "pending" else "retrying")

    async def _post(self, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
        """The receiver's status code, or why there is none; transport errors are mapped here, where we send."""
        secret = self._secrets.get(delivery.team)
        if secret is None:
            return None, "no_signing_secret: the team's secret was removed from the configuration"
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(secret, delivery.id, int(self._clock()), delivery.body),
        }
        timeout_s = self._settings.timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                target = await resolve(
                    delivery.url, allow_private=self._settings.allow_private_hosts, allow_loopback=self._allow_loopback
                )
                async with self._client.stream(
                    "POST",
                    target.url,
                    content=delivery.body,
                    headers={**headers, **target.headers},
                    extensions=dict(target.extensions),
                    timeout=timeout_s,
                ) as reply:
                    return reply.status_code, None
        except BlockedTarget as exc:
            return None, _error("blocked_target", str(exc))
        except (TimeoutError, httpx.TimeoutException):
            return None, f"timeout: no answer within {timeout_s:g} s"
        except httpx.ConnectError as exc:
            return None, _error("connect_error", str(exc))
        except httpx.HTTPError as exc:
            return None, _error("transport_error", f"{type(exc).__name__}: {exc}")


def _error(kind: str, detail: str) -> str:
    return f"{kind}: {detail}"[:_DETAIL_CHARS]


def _kind(error: str | None) -> str | None:
    """Logs carry the error kind only: details can echo parts of the client's URL."""
    return None if error is None else error.partition(":")[0]

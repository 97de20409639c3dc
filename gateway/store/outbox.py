"""The webhook outbox: one delivery record per job with a webhook, and a due schedule claimed with a lease, so
any replica sends it and a dead replica's claimed delivery comes back. The in-memory outbox is here; the Redis
one in outbox_redis.py passes the same contract suite."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Literal, Protocol

import msgspec

from gateway.store.retention import Expiries

DeliveryState = Literal["pending", "delivered", "failed"]


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    """One POST: when, how long, and the receiver's status code or why there was none."""

    at: float
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """The message (`id` is the Standard Webhooks `webhook-id`, the same on every retry) and its delivery log.

    `body` is fixed when the job becomes terminal, so every attempt sends the same bytes."""

    id: str
    job_id: str
    team: str
    url: str
    body: bytes
    created_at: float
    state: DeliveryState = "pending"
    attempts: tuple[DeliveryAttempt, ...] = ()
    next_attempt_at: float | None = None
    finished_at: float | None = None
    version: int = 1


class Outbox(Protocol):
    async def enqueue(self, delivery: WebhookDelivery, *, due_at: float) -> bool:
        """Store and schedule the delivery, all or nothing; False (and nothing changes) if its id exists."""
        ...

    async def get(self, delivery_id: str) -> WebhookDelivery | None: ...

    async def replace(self, delivery: WebhookDelivery, *, expected_version: int, due_at: float | None) -> bool:
        """Write if the stored version is `expected_version`, and reschedule at `due_at` or take it off the
        schedule when None, atomically. False when someone else wrote first."""
        ...

    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        """Atomically take up to `limit` deliveries due at `now`, pushing each to `now + lease_s` so no other
        claimer sees it until then (a crashed claimer's deliveries come back)."""
        ...

    async def next_due_at(self) -> float | None: ...


def delivery_id(job_id: str) -> str:
    """One delivery per job, named from the job id: re-running the terminal effect finds the same record."""
    return "msg_" + job_id.removeprefix("video_")


class MemoryOutbox:
    """With `retention_s`, a delivered or failed delivery is dropped that long after its last write (as on Redis),
    whenever the outbox is next used."""

    def __init__(self, *, retention_s: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self._records: dict[str, WebhookDelivery] = {}
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._retention_s = retention_s
        self._clock = clock
        self._expiries = Expiries()

    def _expire(self) -> None:
        for item in self._expiries.lapsed(self._clock()):
            self._records.pop(item, None)
            self._due.pop(item, None)

    async def enqueue(self, delivery: WebhookDelivery, *, due_at: float) -> bool:
        self._expire()
        if delivery.id in self._records:
            return False
        self._records[delivery.id] = delivery
        self._schedule(delivery.id, due_at)
        return True

    async def get(self, delivery_id: str) -> WebhookDelivery | None:
        self._expire()
        return self._records.get(delivery_id)

    async def replace(self, delivery: WebhookDelivery, *, expected_version: int, due_at: float | None) -> bool:
        self._expire()
        current = self._records.get(delivery.id)
        if current is None or current.version != expected_version:
            return False
        self._records[delivery.id] = delivery
        if self._retention_s is not None and delivery.state != "pending":
            self._expiries.expire_at(delivery.id, self._clock() + self._retention_s)
        if due_at is None:
            self._due.pop(delivery.id, None)
        else:
            self._schedule(delivery.id, due_at)
        return True

    async def claim_due(self, now: float, *, limit: int, lease_s: float) -> list[str]:
        claimed: list[str] = []
        while self._heap and self._heap[0][0] <= now and len(claimed) < limit:
            due, item = heapq.heappop(self._heap)
            if self._due.get(item) != due:
                continue  # stale heap entry: rescheduled or done since
            del self._due[item]
            claimed.append(item)
        for item in claimed:
            self._schedule(item, now + lease_s)
        return claimed

    async def next_due_at(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _schedule(self, item: str, due: float) -> None:
        self._due[item] = due
        heapq.heappush(self._heap, (due, item))

"""Headroom per provider account, shared by every replica: configured moving windows (`limits`), concurrency
slots with leases, and what providers last said (cooldowns, quotas, balance). routing/gate.py screens candidates
on `availability` and claims through it; this module never calls a provider and never retries."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping

import msgspec
import redis.asyncio as aioredis
import structlog
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio.cluster import RedisCluster

from providers import contract
from providers.contract import Operation
from routing.headroom.config import HeadroomConfig
from routing.headroom.demand import ExclusiveDemand, demand_reserve
from routing.headroom.store import HeadroomStore, HeadroomUnavailable, MemoryHeadroomStore, Reading, RedisHeadroomStore

log = structlog.get_logger("routing.headroom")

# Readings about one operation or one model only block requests for that scope; any other scope
# ("account", "month", "balance", "daily", "rate", ...) speaks for the whole provider account.
_OPERATION_SCOPES = frozenset(
    {Operation.GENERATE, Operation.STATUS, Operation.CANCEL, Operation.UPLOAD, Operation.FILE}
)
_QUOTA_LABELS = {"month": "monthly", "daily": "daily", "day": "daily"}


class Availability(msgspec.Struct, frozen=True, kw_only=True):
    """Whether a call may be made now: every reason it may not and, when each of them has a known end (a cooldown,
    a full moving window), the `clock` time the last one lapses; None while any has none (jobs in flight)."""

    reasons: tuple[str, ...] = ()
    clears_at: float | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons


class ReservedUnits(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider's `reserve` keeps now: units per window scope (only those above 0), and why a call would dig
    into them (a window down to its reserve), or None."""

    units: dict[str, int] = msgspec.field(default_factory=dict)
    why: str | None = None


class WindowView(msgspec.Struct, frozen=True, kw_only=True):
    """`reserved`: the units of `remaining` the provider's `reserve` keeps now for requests only it can serve."""

    scope: str
    """What the window counts: `generate` (submits) or `status` (polls)."""
    limit: int
    """Calls allowed per window."""
    per_s: int
    """The window length, seconds."""
    remaining: int
    """Calls left in the moving window now."""
    reserved: int = 0
    """Units of `remaining` kept for requests only this provider can serve."""


class ReadingView(msgspec.Struct, frozen=True, kw_only=True):
    """A provider's last reading for one scope; `blocked_until`/`reason` are set while it keeps the provider out."""

    reading: contract.CapacityReport
    """The capacity figures the provider last reported."""
    at: float
    """When they were reported, unix seconds."""
    blocked_until: float | None = None
    """Until when the reading keeps the provider out, unix seconds; null when it does not."""
    reason: str | None = None
    """Why it keeps the provider out (a 429, a spent quota, a low balance)."""


class HeadroomView(msgspec.Struct, frozen=True, kw_only=True):
    """One provider's headroom as `GET /v1/providers` shows it; `cooldown_until` is for generation."""

    provider: str
    """The provider slug."""
    available: bool
    """Whether a new job could be sent to it now."""
    reasons: tuple[str, ...]
    """Why not, when it could not."""
    windows: tuple[WindowView, ...]
    """Its configured rate-limit windows, as every replica counts them."""
    in_flight: int
    """Its jobs submitted and not yet finished."""
    max_in_flight: int | None
    """The configured cap on those; null for none."""
    cooldown_until: float | None
    """Until when a 429 keeps new jobs away, unix seconds; null when none does."""
    readings: tuple[ReadingView, ...]
    """Its last capacity readings, one per scope."""


class Headroom:
    """Build with `in_memory` (one process) or `on_redis` (every replica sees one count).

    `limits` windows run on wall time; leases, cooldowns and readings use the injected `clock`."""

    def __init__(
        self,
        configs: Mapping[str, HeadroomConfig],
        *,
        windows: Storage,
        store: HeadroomStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._configs = dict(configs)
        self._limiter = MovingWindowRateLimiter(windows)
        self._demand = ExclusiveDemand(windows)
        self._store = store
        self._clock = clock
        self._items = {
            (provider, w.scope): RateLimitItemPerSecond(w.limit, w.per_s)
            for provider, config in configs.items()
            for w in config.windows
        }
        self._pending: dict[tuple[str, str], Reading] = {}
        self._renewed: dict[tuple[str, str], float] = {}
        self._flush_lock = asyncio.Lock()
        self._take_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._flushing: asyncio.Task[None] | None = None

    @classmethod
    def in_memory(cls, configs: Mapping[str, HeadroomConfig], *, clock: Callable[[], float] = time.time) -> Headroom:
        return cls(configs, windows=MemoryStorage(), store=MemoryHeadroomStore(), clock=clock)

    @classmethod
    def on_redis(
        cls,
        configs: Mapping[str, HeadroomConfig],
        client: aioredis.Redis | RedisCluster,
        *,
        windows: Storage,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> Headroom:
        """Slots and readings under `prefix` over the app's own client (one node or a cluster); the `limits` windows
        on the storage the caller built next to it (the gateway's `windows_storage`)."""
        return cls(configs, windows=windows, store=RedisHeadroomStore(client, prefix=prefix), clock=clock)

    def now(self) -> float:
        """The clock leases, cooldowns and `Availability.clears_at` are on."""
        return self._clock()

    def _config(self, provider: str) -> HeadroomConfig:
        return self._configs.get(provider) or HeadroomConfig()

    # ---------------------------------------- windows

    async def try_take(self, provider: str, scope: str, *, cost: int = 1, keep: int = 0) -> bool:
        """Consume `cost` units of the scope's window, atomically across replicas; False if it has no room, or (with
        `keep`) if taking them would leave `keep` units or fewer: a call that must not dig into the reserve.

        A scope with no configured window always has room. Takes on a window with a `reserve` run one at a time in
        this process, so the reserve check and the take are one step here; across replicas the take itself is
        atomic (the window is never overrun) but two replicas racing may dig into the reserve by a unit."""
        item = self._items.get((provider, scope))
        if item is None:
            return True
        with _windows_unavailable():
            if self._config(provider).reserve == 0:
                return await self._limiter.hit(item, provider, scope, cost=cost)
            async with self._take_locks.setdefault((provider, scope), asyncio.Lock()):
                if keep > 0 and not await self._limiter.test(item, provider, scope, cost=keep + cost):
                    return False
                return await self._limiter.hit(item, provider, scope, cost=cost)

    async def take_each(self, provider: str, keeps: Mapping[str, int]) -> str | None:
        """A unit of each scope's window, leaving the units `keeps` maps it to; the first scope without room, if any.
        With more than one configured window each is tested first, so a refusal by one does not spend a unit of
        another (short of a concurrent take between the test and the take: `limits` cannot give a unit back)."""
        configured = [scope for scope in keeps if (provider, scope) in self._items]
        if len(configured) > 1:
            for scope in configured:
                with _windows_unavailable():
                    if not await self._limiter.test(
                        self._items[(provider, scope)], provider, scope, cost=1 + keeps[scope]
                    ):
                        return scope
        for scope in configured:
            if not await self.try_take(provider, scope, keep=keeps[scope]):
                return scope
        return None

    async def remaining(self, provider: str, scope: str) -> int | None:
        """Units left in the scope's window now; None if the scope has no configured window."""
        item = self._items.get((provider, scope))
        if item is None:
            return None
        with _windows_unavailable():
            stats = await self._limiter.get_window_stats(item, provider, scope)
        return max(0, stats.remaining)

    # ---------------------------------------- slots

    async def acquire_slot(self, provider: str, job_id: str) -> bool:
        """Hold a slot for an in-flight job (at submit); False at `max_in_flight`. Idempotent per job."""
        config = self._config(provider)
        return await self._store.acquire_slot(
            provider, job_id, now=self._clock(), lease_s=config.slot_lease_s, cap=config.max_in_flight
        )

    async def renew_slot(self, provider: str, job_id: str) -> bool:
        """Extend the job's lease (the poller, while the job runs); False if its lease already ran out."""
        lease_s = self._config(provider).slot_lease_s
        return await self._store.renew_slot(provider, job_id, now=self._clock(), lease_s=lease_s)

    async def keep_slot(self, provider: str, job_id: str) -> None:
        """Renew the job's slot lease unless this process did so within the last quarter lease: the poller calls
        this before every status call, and a Redis call per poll would buy nothing a quarter-lease renewal does not."""
        now, lease_s = self._clock(), self._config(provider).slot_lease_s
        key = (provider, job_id)
        if now - self._renewed.get(key, -math.inf) < lease_s / 4:
            return
        await self.renew_slot(provider, job_id)
        self._renewed[key] = now
        if len(self._renewed) % 4096 == 0:
            # Jobs finished by another replica never reach release_slot here: forget whatever is due anyway.
            self._renewed = {k: at for k, at in self._renewed.items() if now - at < self._config(k[0]).slot_lease_s / 4}

    async def release_slot(self, provider: str, job_id: str) -> None:
        """Free the job's slot (at a terminal state); releasing twice is harmless."""
        self._renewed.pop((provider, job_id), None)
        await self._store.release_slot(provider, job_id)

    async def in_flight(self, provider: str) -> int:
        """Jobs holding an unexpired slot of this provider: every accepted job until its terminal state."""
        return await self._store.in_flight(provider, now=self._clock())

    # ---------------------------------------- provider readings

    def record(self, report: contract.CapacityReport) -> None:
        """The sink adapters call (sync, from inside a reply). The reading is queued here and written by a
        background flush; `availability`/`snapshot` flush first, so this replica sees its own readings at once."""
        self._pending[(report.provider, report.scope)] = Reading(report=report, at=self._clock())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._flushing is None or self._flushing.done():
            self._flushing = loop.create_task(self._flush_in_background())

    async def flush(self) -> None:
        """Write queued readings; on failure they stay queued (newest per scope) and this raises."""
        async with self._flush_lock:
            batch, self._pending = list(self._pending.values()), {}
            try:
                await self._store.put_readings(batch)
            except HeadroomUnavailable:
                for reading in batch:
                    self._pending.setdefault((reading.report.provider, reading.report.scope), reading)
                raise

    async def close(self) -> None:
        """Wait for the background flush and write what is left (at shutdown)."""
        if self._flushing is not None:
            await self._flushing
        await self.flush()

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except HeadroomUnavailable:
            log.warning("headroom_flush_failed", pending=len(self._pending))

    # ---------------------------------------- what routing asks

    async def availability(self, provider: str, *, scopes: tuple[str, ...] = (Operation.GENERATE,)) -> Availability:
        """Whether a call in `scopes` may be made now: if not, every reason why (for `explain`) and when the
        provider's blocks lapse (routing waits for a short one)."""
        return await self._blocking(provider, scopes, await self._blocks(provider))

    async def reserved_units(self, provider: str, *, scopes: tuple[str, ...] = (Operation.GENERATE,)) -> ReservedUnits:
        """The units of each window in `scopes` the provider's `reserve` keeps for requests only it can serve, and
        why a call would dig into them now (a window down to them), or None."""
        config = self._config(provider)
        if config.reserve == 0:
            return ReservedUnits()
        units: dict[str, int] = {}
        why: str | None = None
        for window in config.windows:
            if window.scope not in scopes:
                continue
            item = self._items[(provider, window.scope)]
            with _windows_unavailable():
                stats = await self._limiter.get_window_stats(item, provider, window.scope)
                left = max(0, stats.remaining)
                if config.reserve != "auto":
                    units[window.scope], seen = config.reserve, None
                else:
                    seen = await self._demand.seen(provider, window.scope, window.per_s)
                    frees_in_s = stats.reset_time - time.time()  # `limits` windows run on wall time
                    units[window.scope] = demand_reserve(
                        seen=seen, per_s=window.per_s, frees_in_s=frees_in_s, margin=config.reserve_margin,
                        limit=window.limit,
                    )  # fmt: skip
            kept = units[window.scope]
            if why is None and kept > 0 and left <= kept:
                why = f"{provider}: {left} left in the {window.scope} window, kept for requests only it can serve"
                why = why if seen is None else f"{why} ({kept} held back: {seen} such in the last {window.per_s} s)"
        return ReservedUnits(units={scope: n for scope, n in units.items() if n > 0}, why=why)

    async def note_exclusive(self, provider: str) -> None:
        """A request only this provider can serve was planned: counted when its `reserve` is "auto"."""
        config = self._config(provider)
        if config.reserve != "auto":
            return
        with _windows_unavailable():
            for window in config.windows:
                await self._demand.note(provider, window.scope, window.per_s)

    async def snapshot(self, provider: str) -> HeadroomView:
        config = self._config(provider)
        blocks = await self._blocks(provider)
        reserved = (await self.reserved_units(provider, scopes=tuple(w.scope for w in config.windows))).units
        windows = [
            WindowView(
                scope=w.scope,
                limit=w.limit,
                per_s=w.per_s,
                remaining=await self._remaining(provider, w.scope),
                reserved=reserved.get(w.scope, 0),
            )
            for w in config.windows
        ]
        ends = [v.blocked_until for v in blocks if v.blocked_until and applies(v.reading.scope, (Operation.GENERATE,))]
        said = await self._blocking(provider, (Operation.GENERATE,), blocks)
        return HeadroomView(
            provider=provider,
            available=said.ok,
            reasons=said.reasons,
            windows=tuple(windows),
            in_flight=await self._store.in_flight(provider, now=self._clock()),
            max_in_flight=config.max_in_flight,
            cooldown_until=max(ends, default=None),
            readings=tuple(sorted(blocks, key=lambda v: v.reading.scope)),
        )

    async def _remaining(self, provider: str, scope: str) -> int:
        left = await self.remaining(provider, scope)
        assert left is not None  # only asked for configured windows
        return left

    async def _blocks(self, provider: str) -> list[ReadingView]:
        await self.flush()
        config, now = self._config(provider), self._clock()
        return [judge(reading, config, now) for reading in await self._store.readings(provider)]

    async def _blocking(self, provider: str, scopes: tuple[str, ...], blocks: list[ReadingView]) -> Availability:
        config, now = self._config(provider), self._clock()
        ends: list[float | None] = []
        reasons: list[str] = []
        for view in blocks:
            if view.reason is not None and applies(view.reading.scope, scopes):
                reasons.append(view.reason)
                ends.append(view.blocked_until)
        for window in config.windows:
            if window.scope not in scopes:
                continue
            item = self._items[(provider, window.scope)]
            with _windows_unavailable():
                stats = await self._limiter.get_window_stats(item, provider, window.scope)
            if stats.remaining <= 0:
                reasons.append(f"{provider}: {window.scope} window {window.limit}/{window.per_s}s exhausted")
                # Its oldest unit expires then (`limits` windows run on wall time; the rest here on `clock`).
                ends.append(now + max(0.0, stats.reset_time - time.time()))
        if Operation.GENERATE in scopes and config.max_in_flight is not None:
            in_flight = await self._store.in_flight(provider, now=now)
            if in_flight >= config.max_in_flight:
                reasons.append(f"{provider}: {in_flight}/{config.max_in_flight} jobs in flight")
                ends.append(None)  # a job ends when it ends
        known = [end for end in ends if end is not None]
        clears_at = max(known) if reasons and len(known) == len(ends) else None
        return Availability(reasons=tuple(reasons), clears_at=clears_at)


@contextlib.contextmanager
def _windows_unavailable() -> Iterator[None]:
    """`limits` wraps Redis failures in `StorageError` (wrap_exceptions=True); they become the routing error."""
    try:
        yield
    except StorageError as exc:
        raise HeadroomUnavailable("the shared rate-limit windows (Redis) are unreachable") from exc


def applies(reading_scope: str, scopes: tuple[str, ...]) -> bool:
    """Whether a reading for `reading_scope` concerns a call in `scopes` (a narrow scope only its own calls)."""
    narrow = reading_scope in _OPERATION_SCOPES or reading_scope.startswith("model:")
    return reading_scope in scopes or not narrow


def judge(reading: Reading, config: HeadroomConfig, now: float) -> ReadingView:
    """Whether a reading keeps its provider out now, until when and why (first matching rule wins)."""
    said, at = reading.report, reading.at
    hold_until = at + config.recheck_after_s
    floor_micros = round(config.min_balance_usd * 1_000_000)
    if said.retry_after_s is not None:
        until = at + said.retry_after_s
        on = "" if said.scope == "account" else f" ({said.scope})"
        why = f"cooling down {_seconds(until - now)} s after a 429{on}"
    elif said.used is not None and said.limit is not None and said.used >= said.limit:
        until = said.reset_at or hold_until
        why = f"{_QUOTA_LABELS.get(said.scope, said.scope)} quota used {said.used}/{said.limit}"
    elif said.remaining == 0:
        until = said.reset_at or hold_until
        why = f"{said.scope} exhausted, {'resets' if said.reset_at else 'rechecking'} in {_seconds(until - now)} s"
    elif said.balance_micros is not None and said.balance_micros < floor_micros:
        until = hold_until
        why = f"balance ${said.balance_micros / 1_000_000:.2f} below ${config.min_balance_usd:.2f}"
    else:
        return ReadingView(reading=said, at=at)
    if until <= now:
        return ReadingView(reading=said, at=at)
    return ReadingView(reading=said, at=at, blocked_until=until, reason=f"{said.provider}: {why}")


def _seconds(duration_s: float) -> int:
    return max(1, math.ceil(duration_s))

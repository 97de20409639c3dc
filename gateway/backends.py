"""Where each piece of shared state lives: in Redis (the job store's client and key prefix) when the jobs are in
Redis, so every replica sees one count; in this process with the memory store. One builder per piece."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from limits.aio.storage import MemoryStorage, Storage

from gateway.config import ConfigError, Settings, secret_from_env
from gateway.console.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from gateway.control.store import ControlStore, MemoryControlStore
from gateway.control.store_redis import RedisControlStore
from gateway.store.base import JobStore
from gateway.store.connect import (
    is_cluster_url,
    is_sentinel_url,
    parse_cluster_url,
    parse_sentinel_url,
    windows_storage,
)
from gateway.store.idempotency import IdempotencyKeys, MemoryIdempotencyKeys, RedisIdempotencyKeys
from gateway.store.memory import MemoryStore
from gateway.store.outbox import MemoryOutbox, Outbox
from gateway.store.outbox_redis import RedisOutbox
from gateway.store.redis import RedisStore
from gateway.store.replicas import MemoryReplicas, RedisReplicas, Replicas
from gateway.usage.admission import Admission
from gateway.usage.budget import BudgetBook, MemoryBudgetBook
from gateway.usage.budget_redis import RedisBudgetBook
from gateway.usage.hooks import UsageHooks
from routing.gate import ProviderGate
from routing.headroom.tracker import Headroom
from routing.health.breakers import CircuitBreakers, MemoryCircuitBreakers
from routing.health.redis_breakers import RedisCircuitBreakers
from routing.speed.book import SpeedBook
from routing.speed.redis_book import RedisSpeedBook

log = structlog.get_logger("gateway.backends")


def redis_url(settings: Settings) -> str:
    """The store's Redis URL: from the file, or from the environment variable it names (checked here: the URL
    itself may hold a password, so an error names the variable, never the value)."""
    if not settings.store.redis_url_env:
        return settings.store.redis_url
    url = secret_from_env(settings.store.redis_url_env, what="store.redis_url_env")
    try:
        if is_cluster_url(url):
            parse_cluster_url(url)
        if is_sentinel_url(url):
            parse_sentinel_url(url)
    except ValueError as exc:
        raise ConfigError(f"store.redis_url_env: {settings.store.redis_url_env}: {exc}") from None
    return url


def store_from(settings: Settings, clock: Callable[[], float]) -> JobStore:
    if settings.store.backend == "memory":
        log.warning("memory_store_in_use", note="single process; jobs do not survive a restart")
        return MemoryStore(retention=settings.retention, clock=clock)
    url = redis_url(settings)
    sentinel_password = None
    if settings.store.sentinel_password_env:
        sentinel_password = secret_from_env(settings.store.sentinel_password_env, what="store.sentinel_password_env")
    if is_sentinel_url(url):
        target = parse_sentinel_url(url)
        sentinels = ",".join(f"{host}:{port}" for host, port in target.sentinels)
        log.info("redis_sentinel_store", sentinels=sentinels, service=target.service, db=target.db)
    if is_cluster_url(url):
        nodes = ",".join(f"{host}:{port}" for host, port in parse_cluster_url(url).nodes)
        log.info("redis_cluster_store", nodes=nodes)
    return RedisStore.from_url(
        url, prefix=settings.store.key_prefix, retention=settings.retention, sentinel_password=sentinel_password
    )


def shared_records(settings: Settings, store: JobStore, clock: Callable[[], float]) -> tuple[Outbox, IdempotencyKeys]:
    """The webhook outbox and idempotency keys live where the jobs live: in Redis, or in this process. Finished
    deliveries are kept `[retention] webhooks_s` (idempotency records carry their own TTL)."""
    keep_s = settings.retention.webhooks_s
    if isinstance(store, RedisStore):
        outbox = RedisOutbox(store.client, prefix=store.prefix, retention_s=keep_s)
        return outbox, RedisIdempotencyKeys(store.client, prefix=store.prefix)
    return MemoryOutbox(retention_s=keep_s, clock=clock), MemoryIdempotencyKeys(clock=clock)


def replicas(store: JobStore, clock: Callable[[], float]) -> Replicas:
    """Replica beats live where the jobs live: in Redis for every replica, or in this process."""
    if isinstance(store, RedisStore):
        return RedisReplicas(store.client, prefix=store.prefix)
    return MemoryReplicas(clock=clock)


def console_sessions(store: JobStore, clock: Callable[[], float]) -> SessionStore:
    """Console sessions live where the jobs live: in Redis, so any replica serves a signed-in browser and a sign-out
    ends the session on all of them; or in this process."""
    if isinstance(store, RedisStore):
        return RedisSessionStore(store.client, prefix=store.prefix, clock=clock)
    return MemorySessionStore(clock=clock)


def control_store(settings: Settings, store: JobStore) -> ControlStore:
    """The control plane's documents live where the jobs live: in Redis for every replica, or in this process."""
    kept = {"history": settings.control.history, "audit_entries": settings.control.audit_entries}
    if isinstance(store, RedisStore):
        return RedisControlStore(store.client, prefix=store.prefix, **kept)
    return MemoryControlStore(**kept)


def gate(settings: Settings, store: JobStore, clock: Callable[[], float]) -> ProviderGate:
    """Headroom and circuit state live where the jobs live: shared in Redis, per process in memory. On Redis both
    read through the client's one `hash_reader`, so a screen's circuit and headroom reads go in one round trip."""
    configs = {provider: config.headroom for provider, config in settings.providers.items()}
    breakers: CircuitBreakers
    if isinstance(store, RedisStore):
        windows = windows_storage(store.client, key_prefix=f"{store.prefix}headroom")
        headroom = Headroom.on_redis(configs, store.client, windows=windows, prefix=store.prefix, clock=clock)
        breakers = RedisCircuitBreakers(store.client, settings.breakers, clock=clock, prefix=store.prefix)
    else:
        headroom = Headroom.in_memory(configs, clock=clock)
        breakers = MemoryCircuitBreakers(settings.breakers, clock=clock)
    return ProviderGate(headroom, breakers)


def admission(settings: Settings, store: JobStore, clock: Callable[[], float], hooks: UsageHooks) -> Admission:
    """Budgets and request windows live where the jobs live: shared in Redis (the store's client and prefix), per
    process in memory."""
    book: BudgetBook
    windows: Storage
    if isinstance(store, RedisStore):
        book = RedisBudgetBook(store.client, prefix=store.prefix)
        windows = windows_storage(store.client, key_prefix=f"{store.prefix}quota")
    else:
        book, windows = MemoryBudgetBook(), MemoryStorage()
    known = {key.id for key in settings.keys}
    for key_id in sorted(set(settings.quotas.keys) - known if known else ()):
        log.warning("quota_for_unknown_key_ignored", key_id=key_id)
    # A hold made at admission must outlast the submit (with failover) and the poller's resolution of a job
    # whose replica died mid-submit (`submit_grace_s`, then a lease or two for its finalization).
    pending_hold_s = settings.poller.submit_grace_s + settings.failover.deadline_s + 2 * settings.poller.lease_s
    return Admission(settings.quotas, book, windows, clock=clock, pending_hold_s=pending_hold_s, hooks=hooks)


def speeds(store: JobStore) -> SpeedBook:
    """Observed speeds live where the jobs live: shared in Redis (one atomic update per completion, reads from a
    copy refreshed at most every second), per process in memory."""
    if isinstance(store, RedisStore):
        return RedisSpeedBook(store.client, prefix=store.prefix)
    return SpeedBook()

"""The one wiring point: `create_app(settings, ...)` builds the litestar app; tests change behaviour only
through its arguments."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import structlog
from litestar import Litestar, Request
from litestar.di import Provide

from gateway.api.models import list_models
from gateway.api.operations import explain_route, list_providers
from gateway.api.routing import get_routing_rules, reload_routing_rules, reload_rules
from gateway.api.system import healthz, readyz
from gateway.api.videos import Session, create_video, delete_video, get_video, get_video_content, list_videos
from gateway.assets import AssetLinks
from gateway.auth import KeyRing
from gateway.config import Settings
from gateway.http import error_response, request_id_middleware
from gateway.jobs import VideoJob
from gateway.lifecycle import Finalizer, TerminalEffect
from gateway.openapi import openapi_config, patch_openapi
from gateway.poller import Poller
from gateway.service import VideoService
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.upstreams import build_upstreams
from providers.transport import CallObserver
from routing.gate import ProviderGate
from routing.headroom import Headroom
from routing.health import CircuitBreakers, MemoryCircuitBreakers
from routing.health_redis import RedisCircuitBreakers
from routing.router import Router
from routing.rules import RulesHolder
from routing.speed import SpeedBook

log = structlog.get_logger("gateway.app")


def _no_observer(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
    return None


def create_app(
    settings: Settings,
    *,
    config_path: str | None = None,
    http_client: httpx.AsyncClient | None = None,
    store: JobStore | None = None,
    keyring: KeyRing | None = None,
    clock: Callable[[], float] = time.time,
    run_poller: bool = True,
    observe: CallObserver = _no_observer,
) -> Litestar:
    keys = keyring or KeyRing.from_config(settings.keys)
    job_store = store or _store_from(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = http_client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )
        gate = _gate(settings, job_store, clock)
        upstreams = build_upstreams(settings.providers, client, observe=observe, headroom=gate.headroom.record)
        router = Router(settings.models, enabled={slug: u.enabled for slug, u in upstreams.items()})
        app.state.public_base_url = (settings.server.public_base_url or "").rstrip("/")
        speeds = SpeedBook()
        rules = RulesHolder(
            settings.routing, known_providers=settings.providers, known_models=settings.models, source="start-up"
        )
        app.state.reload_rules = functools.partial(reload_rules, rules, config_path)
        _on_sighup(app.state.reload_rules)
        finalizer = Finalizer(
            store=job_store, effects=[_release_slot(gate)], clock=clock, retry_s=settings.poller.lease_s
        )
        app.state.finalizer = finalizer
        app.state.service = VideoService(
            store=job_store,
            router=router,
            upstreams=upstreams,
            submit_grace_s=settings.poller.submit_grace_s,
            failover=settings.failover,
            speeds=speeds,
            rules=rules,
            gate=gate,
            finalizer=finalizer,
            clock=clock,
        )
        app.state.assets = AssetLinks(
            store=job_store,
            upstreams=upstreams,
            gate=gate,
            finalizer=finalizer,
            clock=clock,
            margin_s=settings.poller.asset_refresh_margin_s,
        )
        poller = Poller(
            store=job_store,
            upstreams=upstreams,
            settings=settings.poller,
            clock=clock,
            finalizer=finalizer,
            speeds=speeds,
            gate=gate,
            resubmit=app.state.service.resubmit,
        )
        task = asyncio.create_task(poller.run()) if run_poller else None
        log.info("gateway_started", store=type(job_store).__name__, providers=sorted(upstreams))
        try:
            yield
        finally:
            if task is not None:
                poller.stop()
                try:
                    await asyncio.wait_for(task, timeout=settings.poller.stop_timeout_s)
                except TimeoutError:
                    log.warning("poller_stop_timed_out")
            await gate.headroom.close()
            if http_client is None:
                await client.aclose()
            if store is None:
                await job_store.close()

    def provide_session(request: Request[Any, Any, Any]) -> Session:
        caller = keys.authenticate(request.headers.get("authorization"))
        return Session(caller=caller, service=request.app.state.service, settings=settings)

    app = Litestar(
        route_handlers=[
            explain_route,
            list_providers,
            get_routing_rules,
            reload_routing_rules,
            create_video,
            get_video,
            list_videos,
            delete_video,
            get_video_content,
            list_models,
            healthz,
            readyz,
        ],
        dependencies={
            "session": Provide(provide_session, sync_to_thread=False),
            "store": Provide(lambda: job_store, sync_to_thread=False, use_cache=True),
        },
        lifespan=[lifespan],
        middleware=[request_id_middleware],
        exception_handlers={Exception: error_response},
        openapi_config=openapi_config(),
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=None,
        debug=False,
    )
    patch_openapi(app)
    return app


def _store_from(settings: Settings) -> JobStore:
    if settings.store.backend == "memory":
        log.warning("memory_store_in_use", note="single process; jobs do not survive a restart")
        return MemoryStore()
    url = settings.store.redis_url
    if settings.store.redis_url_env:
        from gateway.config import secret_from_env

        url = secret_from_env(settings.store.redis_url_env, what="store.redis_url_env")
    return RedisStore.from_url(url, prefix=settings.store.key_prefix)


def _on_sighup(reload: Callable[[], object]) -> None:
    """SIGHUP reloads the routing rules, as `POST /v1/routing/reload` does (where the loop can take signals)."""

    def handle() -> None:
        try:
            reload()
        except Exception:
            log.warning("routing_reload_rejected", trigger="SIGHUP", exc_info=True)

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handle)


def _gate(settings: Settings, store: JobStore, clock: Callable[[], float]) -> ProviderGate:
    """Headroom and circuit state live where the jobs live: shared in Redis, per process in memory."""
    configs = {slug: provider.headroom for slug, provider in settings.providers.items()}
    breakers: CircuitBreakers
    if isinstance(store, RedisStore):
        headroom = Headroom.on_redis(configs, store.client, prefix=store.prefix, clock=clock)
        breakers = RedisCircuitBreakers(store.client, settings.breakers, clock=clock, prefix=store.prefix)
    else:
        headroom = Headroom.in_memory(configs, clock=clock)
        breakers = MemoryCircuitBreakers(settings.breakers, clock=clock)
    return ProviderGate(headroom, breakers)


def _release_slot(gate: ProviderGate) -> TerminalEffect:
    """The provider's concurrency slot is held from submit to terminal state; releasing twice is harmless."""

    async def release_slot(job: VideoJob) -> None:
        if job.provider is not None:
            await gate.finished(job.provider, job.id)

    return release_slot

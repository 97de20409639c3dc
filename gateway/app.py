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

from gateway import backends
from gateway.api.admin import ADMIN_ROUTES, ControlRoom
from gateway.api.events import stream_video_events
from gateway.api.fast_create import fast_create
from gateway.api.fast_status import fast_status
from gateway.api.http import QueryCheck, error_response, request_id_middleware
from gateway.api.metrics import scrape_metrics
from gateway.api.models import list_models
from gateway.api.openapi import docs_assets, openapi_config, patch_openapi
from gateway.api.operations import explain_route, list_providers
from gateway.api.prompts import enhance_prompt
from gateway.api.routing import Reloader, get_routing_rules, reload_routing_rules
from gateway.api.system import healthz, readyz
from gateway.api.usage import get_budgets, get_usage, get_usage_records
from gateway.api.video_edits import create_character, edit_video, extend_video, get_character, remix_video
from gateway.api.videos import Session, create_video, delete_video, get_video, get_video_content, list_videos
from gateway.api.webhooks import get_video_webhook
from gateway.auth import KeyRing
from gateway.config import Settings, configured_secrets
from gateway.console.pages import console_router
from gateway.console.sessions import ConsoleSessions
from gateway.control import keys as key_changes
from gateway.control.documents import Document, KeyRecord, KeysDocument, Kind
from gateway.control.plane import ControlPlane
from gateway.control.watcher import ControlWatcher
from gateway.errors import GatewayError, StoreUnavailable
from gateway.metrics.registry import Metrics, build_metrics
from gateway.polling.poller import HEARTBEAT_TTL_FACTOR, Poller
from gateway.prompts.enhance import PromptEnhancement
from gateway.schema.job import TerminalEffect, VideoJob
from gateway.scrubbing import Scrubber
from gateway.store.base import JobStore
from gateway.store.replicas import Replicas, ReplicaStatus, new_replica_id
from gateway.upstreams import build_upstreams
from gateway.usage.admission import Admission
from gateway.usage.gauges import BudgetGauges
from gateway.usage.hooks import NO_HOOKS, UsageHooks
from gateway.usage.ledger import settlement
from gateway.usage.quota_settings import QuotaSettings
from gateway.usage.records import LedgerRecord, Quota
from gateway.usage.retention import LedgerSweep
from gateway.videos.assets import AssetLinks
from gateway.videos.failover import Failover
from gateway.videos.idempotency import IdempotentCreates, claim_ttl_s
from gateway.videos.service import VideoService
from gateway.videos.writer import JobWriter
from gateway.webhooks.delivery import WebhookDispatcher
from gateway.webhooks.signing import team_secrets
from providers.transport import CallObserver, upstream_client
from routing.gate import ProviderGate
from routing.planner import Planner
from routing.router import Router
from routing.rules import RoutingRules, RulesHolder

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
    usage_hooks: UsageHooks = NO_HOOKS,
    sandbox: bool = False,
    fast_lanes: bool = True,
) -> Litestar:
    """`sandbox`: served by `video-gateway run --sandbox`, so webhook receivers on loopback are allowed (and only
    loopback: private networks stay refused unless `[webhooks] allow_private_hosts`). `fast_lanes`: the happy
    paths of the status read and the JSON create are answered in front of litestar (gateway/api/fast_status.py,
    fast_create.py); off, litestar answers them (what the tests comparing the two build)."""
    keys = keyring or KeyRing.from_config(settings.keys)
    job_store = store or backends.store_from(settings, clock)
    replica = new_replica_id()
    metrics = build_metrics(settings, keys.callers(), clock=clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = http_client or upstream_client()
        gate = backends.gate(settings, job_store, clock)
        upstreams = build_upstreams(
            settings.providers,
            client,
            observe=metrics.observer(observe),
            capacity=gate.headroom.record,
            scrubber=Scrubber(configured_secrets(settings)),
        )
        metrics.providers.watch(gate, {provider: u.enabled for provider, u in upstreams.items()})
        router = Router(settings.models, enabled={provider: u.enabled for provider, u in upstreams.items()})
        app.state.public_base_url = (settings.server.public_base_url or "").rstrip("/")
        speeds = backends.speeds(job_store)
        replicas = backends.replicas(job_store, clock)
        rules = RulesHolder(
            settings.routing, known_providers=settings.providers, known_models=settings.models, source="start-up"
        )
        hooks = _metered(usage_hooks, metrics)
        admission = backends.admission(settings, job_store, clock, hooks)
        plane, watcher, status = _control_plane(
            settings,
            job_store,
            rules=rules,
            admission=admission,
            keys=keys,
            replicas=replicas,
            replica=replica,
            clock=clock,
        )
        await _start_control(
            plane, watcher, settings, keys, source=f"file:{config_path}" if config_path else "start-up"
        )
        app.state.reloader = Reloader(rules=rules, plane=plane, watcher=watcher, config_path=config_path)
        app.state.console_sessions = ConsoleSessions(keys, backends.console_sessions(job_store, clock), clock=clock)
        app.state.settings = settings
        app.state.control = ControlRoom(
            plane=plane,
            watcher=watcher,
            replicas=replicas,
            rules=rules,
            settings=settings.control,
            last_used=keys.used,
        )
        _on_sighup(app.state.reloader)
        watcher_task = asyncio.create_task(watcher.run())
        settle = settlement(
            admission.book,
            clock=clock,
            cancels_upstream=lambda provider: provider in upstreams and upstreams[provider].adapter.traits.can_cancel,
            hooks=hooks,
        )
        outbox, idempotency_keys = backends.shared_records(settings, job_store, clock)
        app.state.outbox = outbox
        app.state.webhook_loopback = sandbox
        webhooks = WebhookDispatcher(
            outbox=outbox,
            client=client,
            settings=settings.webhooks,
            secrets=team_secrets(settings.webhooks),
            clock=clock,
            on_outcome=metrics.webhook_delivery,
            allow_loopback=sandbox,
        )
        writer = JobWriter(
            store=job_store,
            effects=[_release_slot(gate), settle, webhooks.enqueue, metrics.job_finished],
            clock=clock,
            retry_s=settings.poller.lease_s,
        )
        app.state.writer = writer
        planner = Planner(router=router, rules=rules, gate=gate, speeds=speeds, clock=clock)
        failover = Failover(
            planner=planner,
            upstreams=upstreams,
            writer=writer,
            admission=admission,
            settings=settings.failover,
            submit_grace_s=settings.poller.submit_grace_s,
            metrics=metrics,
            clock=clock,
            replica=replica,
        )
        app.state.service = VideoService(
            store=job_store,
            writer=writer,
            planner=planner,
            failover=failover,
            upstreams=upstreams,
            submit_grace_s=settings.poller.submit_grace_s,
            failover_settings=settings.failover,
            admission=admission,
            clock=clock,
            metrics=metrics,
            replica=replica,
        )
        app.state.prompt_enhancement = PromptEnhancement(router, upstreams)
        app.state.assets = AssetLinks(
            writer=writer,
            upstreams=upstreams,
            gate=gate,
            clock=clock,
            margin_s=settings.poller.asset_refresh_margin_s,
            client=client,
        )
        poller = Poller(
            store=job_store,
            upstreams=upstreams,
            settings=settings.poller,
            clock=clock,
            writer=writer,
            speeds=speeds,
            gate=gate,
            metrics=metrics,
            failover=failover,
            replica=replica,
            replicas=replicas,
            observe_lag=metrics.poll_lag,
        )
        app.state.creates = IdempotentCreates(
            service=app.state.service,
            keys=idempotency_keys,
            claim_ttl_s=claim_ttl_s(settings),
            record_ttl_s=settings.retention.idempotency_s,
        )
        heartbeat = asyncio.create_task(_beat(replicas, status, settings.poller.heartbeat_s))
        task = asyncio.create_task(poller.run()) if run_poller else None
        budgets = BudgetGauges(admission.book, lambda: admission.quotas, metrics, clock=clock)
        budgets_task = asyncio.create_task(budgets.run())
        ledger_sweep = LedgerSweep(admission.book, settings.retention, clock=clock)
        ledger_sweep_task = asyncio.create_task(ledger_sweep.run())
        webhooks_task = asyncio.create_task(webhooks.run()) if run_poller else None
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
            for background in (heartbeat, watcher_task):
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
            with contextlib.suppress(StoreUnavailable):
                await watcher.flush_used()
            budgets.stop()
            await budgets_task
            ledger_sweep.stop()
            await ledger_sweep_task
            await metrics.providers.close()
            if webhooks_task is not None:
                webhooks.stop()
                try:
                    await asyncio.wait_for(webhooks_task, timeout=settings.webhooks.timeout_s + 1.0)
                except TimeoutError:
                    log.warning("webhook_dispatcher_stop_timed_out")
            await app.state.creates.drain(settings.poller.stop_timeout_s)
            await gate.headroom.close()
            await speeds.close()
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
            *ADMIN_ROUTES,
            create_video,
            get_video,
            list_videos,
            delete_video,
            get_video_content,
            enhance_prompt,
            remix_video,
            edit_video,
            extend_video,
            create_character,
            get_character,
            get_usage,
            get_usage_records,
            get_budgets,
            stream_video_events,
            get_video_webhook,
            list_models,
            healthz,
            readyz,
            scrape_metrics,
            docs_assets(),
            console_router(),
        ],
        dependencies={
            "session": Provide(provide_session, sync_to_thread=False),
            "store": Provide(lambda: job_store, sync_to_thread=False, use_cache=True),
            "metrics": Provide(lambda: metrics, sync_to_thread=False, use_cache=True),
        },
        lifespan=[lifespan],
        middleware=[request_id_middleware],
        before_request=QueryCheck(),
        exception_handlers={Exception: error_response},
        openapi_config=openapi_config(),
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=None,
        debug=False,
    )
    patch_openapi(app)
    if fast_lanes:
        lanes = fast_status(app.asgi_handler, keys=keys, state=app.state)
        app.asgi_handler = fast_create(lanes, keys=keys, state=app.state, settings=settings)
    return app


def _on_sighup(reloader: Reloader) -> None:
    """SIGHUP applies the file's routing table to the control plane, as `POST /v1/routing/reload` does (where the
    loop can take signals; `video-gateway run` has granian pass its main process's SIGHUP on to the workers)."""

    async def reload() -> None:
        try:
            await reloader.reload(actor="SIGHUP")
        except GatewayError as exc:
            log.warning("routing_reload_rejected", trigger="SIGHUP", error=exc.message)

    def handle() -> None:
        reloads.add(task := asyncio.ensure_future(reload()))
        task.add_done_callback(reloads.discard)

    reloads: set[asyncio.Future[None]] = set()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, handle)


def _appliers(
    rules: RulesHolder, replace_quotas: Callable[[QuotaSettings], None], keys: KeyRing
) -> dict[Kind, Callable[[Document], None]]:
    """How each control-plane document takes effect in this replica: one reference swap each."""

    def routing(document: Document) -> None:
        if isinstance(document, RoutingRules):
            rules.install(document, source="control plane")

    def quotas(document: Document) -> None:
        if isinstance(document, QuotaSettings):
            replace_quotas(document)

    def accepted_keys(document: Document) -> None:
        if isinstance(document, KeysDocument):
            keys.replace(key_changes.accepted(document))

    return {"routing": routing, "quotas": quotas, "keys": accepted_keys}


def _control_plane(
    settings: Settings,
    job_store: JobStore,
    *,
    rules: RulesHolder,
    admission: Admission,
    keys: KeyRing,
    replicas: Replicas,
    replica: str,
    clock: Callable[[], float],
) -> tuple[ControlPlane, ControlWatcher, Callable[[], ReplicaStatus]]:
    """The control plane where the jobs live, the watcher applying it to this replica, and what this replica's
    beats say (including the versions it runs)."""
    control_store = backends.control_store(settings, job_store)
    started_at = clock()

    def status() -> ReplicaStatus:
        now = clock()
        return ReplicaStatus(
            id=replica,
            started_at=started_at,
            beat_at=now,
            until=now + settings.poller.heartbeat_s * HEARTBEAT_TTL_FACTOR,
            applied=dict(watcher.applied),
            applied_at=dict(watcher.applied_at),
        )

    watcher = ControlWatcher(
        control_store,
        apply=_appliers(rules, admission.replace_quotas, keys),
        check_s=settings.control.check_s,
        clock=clock,
        on_applied=functools.partial(_beat_once, replicas, status),
        take_used=keys.take_used,
        flush_used_s=settings.control.last_used_flush_s,
    )
    return ControlPlane(control_store, clock=clock), watcher, status


async def _start_control(
    plane: ControlPlane, watcher: ControlWatcher, settings: Settings, keys: KeyRing, *, source: str
) -> None:
    """An empty control plane is seeded from the file (and the keys this app was given), then this replica runs
    what the control plane holds. With the store down it starts on the file and catches up later."""
    now = plane.now()
    records = [
        KeyRecord(id=caller.key_id, team=caller.team, scopes=caller.scopes, sha256=d, created_at=now)
        for d, caller in keys.entries()
    ]
    try:
        await plane.seed("routing", settings.routing, actor=source)
        await plane.seed("quotas", settings.quotas, actor=source)
        await plane.seed("keys", KeysDocument(keys=tuple(records)), actor=source)
        await watcher.sync()
    except StoreUnavailable:
        log.warning("control_plane_unavailable_at_start", note="running on the file until the store answers")


async def _beat_once(replicas: Replicas, status: Callable[[], ReplicaStatus]) -> None:
    try:
        await replicas.beat(status())
    except StoreUnavailable:
        log.warning("replica_beat_failed", replica=status().id)


async def _beat(replicas: Replicas, status: Callable[[], ReplicaStatus], interval_s: float) -> None:
    """Say this replica is alive (and what it runs) every `interval_s`, until cancelled; a store outage only skips
    beats."""
    while True:
        await _beat_once(replicas, status)
        await asyncio.sleep(interval_s)


def _release_slot(gate: ProviderGate) -> TerminalEffect:
    """The provider's concurrency slot is held from submit to terminal state; releasing twice is harmless."""

    async def release_slot(job: VideoJob) -> None:
        if job.provider is not None:
            await gate.finished(job.provider, job.id)

    return release_slot


def _metered(hooks: UsageHooks, metrics: Metrics) -> UsageHooks:
    """The usage observers the app always runs (metrics), then the ones a test supplied."""

    def on_settled(record: LedgerRecord) -> None:
        metrics.settled(
            team=record.team,
            key_id=record.key_id,
            provider=record.provider,
            model=record.model,
            status=record.status,
            video_seconds=record.video_seconds,
            cost_micros=record.cost_micros,
        )
        metrics.reservation(team=record.team, outcome="settled")
        hooks.on_settled(record)

    def on_refused(quota: Quota, team: str) -> None:
        metrics.quota_refused(quota=quota, team=team)
        hooks.on_refused(quota, team)

    def on_reservation(outcome: str, team: str) -> None:
        metrics.reservation(team=team, outcome=outcome)
        hooks.on_reservation(outcome, team)

    return UsageHooks(on_settled=on_settled, on_refused=on_refused, on_reservation=on_reservation)

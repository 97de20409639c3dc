"""Ops views (admin scope): the routing plan for a create body without submitting, and provider state."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from gateway.api.videos import Session, read_create
from gateway.auth import Caller
from gateway.schema.wire import CreateVideoBody
from gateway.videos.intake import normalize
from gateway.videos.service import VideoService
from providers.contract import ImageData
from routing.headroom.tracker import HeadroomView
from routing.health.breakers import CircuitSnapshot
from routing.planner import Planner
from routing.ranking import Score
from routing.router import Drop


class ExplainedCandidate(msgspec.Struct, kw_only=True):
    provider: str
    model: str
    rank: int
    score: Score
    seconds: int
    size: str | None
    warnings: list[str]
    held_back: str | None = None


class ExplainedDrop(msgspec.Struct, kw_only=True):
    """`permanent`: a reason can never clear for this request as asked (a capability gap, the request's own cost
    cap or provider list), else the block is the gateway's state or the ops' choice ("not now"). `clears_in_s`:
    when every reason lapses on its own by then (a 429 cooldown, a full window), the seconds until it does; a
    create waits that long for it when it is within `[failover] wait_for_capacity_s`."""

    provider: str
    model: str
    reasons: list[str]
    permanent: bool
    clears_in_s: float | None = None


class Explanation(msgspec.Struct, kw_only=True):
    """`outcome`: what a create would get now: `routed` (a candidate is left), `no_provider_available` (a 503:
    offerings fit but none can take it now) or `unsupported_request` (a 400: none could ever serve it as asked,
    `models_serving` lists the models that could)."""

    team: str
    strategy: str
    rules_version: str
    matched_rules: list[str]
    outcome: Literal["routed", "no_provider_available", "unsupported_request"]
    candidates: list[ExplainedCandidate]
    dropped: list[ExplainedDrop]
    models_serving: list[str] = []


class ProviderState(msgspec.Struct, kw_only=True):
    provider: str
    enabled: bool
    circuit: CircuitSnapshot
    headroom: HeadroomView
    observed_seconds_by_model: dict[str, float]
    observed_completions_by_model: dict[str, int]


@post("/v1/routing/explain", status_code=200, summary="The routing plan for a create body", operation_id="explain")
async def explain_route(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    team: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Explanation:
    """Ranked candidates with their score components and every dropped offering with its reasons; no submit."""
    session.caller.require("admin")
    caller = session.caller if team is None else msgspec.structs.replace(session.caller, team=team)
    body, upload = await read_create(request, session.settings)
    return await explanation(session, caller, body, upload)


async def explanation(
    session: Session,
    caller: Caller,
    body: CreateVideoBody,
    upload: ImageData | None = None,
    *,
    planner: Planner | None = None,
) -> Explanation:
    """What `explain` shows for `body` as `caller`, under `planner`'s rules (by default the ones in force)."""
    limits, default_model = session.settings.limits, session.settings.default_model
    intake = normalize(body, limits=limits, default_model=default_model, upload=upload)
    planner = planner or session.service.planner
    await planner.speeds.refresh()  # ops see every replica's observations as of now
    planned = await session.service.plan(caller, intake, dict(body.metadata), planner=planner)
    plan = planned.plan
    unservable = plan.unservable
    return Explanation(
        team=caller.team,
        strategy=planned.strategy,
        rules_version=planner.rules.version,
        matched_rules=list(planned.policy.matched),
        outcome="unsupported_request" if unservable else "routed" if planned.ranked else "no_provider_available",
        candidates=[
            ExplainedCandidate(
                provider=r.candidate.provider,
                model=r.candidate.model,
                rank=i + 1,
                score=r.score,
                seconds=r.candidate.seconds,
                size=r.candidate.size,
                warnings=list(r.candidate.warnings),
                held_back=r.candidate.held_back,
            )
            for i, r in enumerate(planned.ranked)
        ],
        dropped=[_explained(d, now=session.service.now()) for d in plan.dropped],
        models_serving=planner.router.models_serving(intake.query) if unservable else [],
    )


def _explained(drop: Drop, *, now: float) -> ExplainedDrop:
    clears_in_s = None if drop.clears_at is None else round(max(0.0, drop.clears_at - now), 3)
    return ExplainedDrop(
        provider=drop.provider,
        model=drop.model,
        reasons=list(drop.reasons),
        permanent=drop.permanent,
        clears_in_s=clears_in_s,
    )


@get("/v1/providers", summary="Provider state: enabled, circuit, headroom, observed speed", operation_id="providers")
async def list_providers(session: NamedDependency[Session]) -> list[ProviderState]:
    session.caller.require("admin")
    return await provider_states(session.service)


async def provider_states(service: VideoService) -> list[ProviderState]:
    """Each configured provider's state as of now (what `/v1/providers` and the console show)."""
    circuits = await service.planner.gate.breakers.snapshots(set(service.upstreams))
    await service.planner.speeds.refresh()
    return [
        ProviderState(
            provider=provider,
            enabled=upstream.enabled,
            circuit=circuits[provider],
            headroom=await service.planner.gate.headroom.snapshot(provider),
            observed_seconds_by_model=service.planner.speeds.of(provider),
            observed_completions_by_model=service.planner.speeds.counts(provider),
        )
        for provider, upstream in sorted(service.upstreams.items())
    ]

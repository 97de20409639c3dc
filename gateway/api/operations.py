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
    """The provider slug."""
    model: str
    """The canonical model this candidate serves."""
    rank: int
    """Its place in the plan, 1 first: the order failover tries candidates in."""
    score: Score
    """The ranking figures behind the rank."""
    seconds: int
    """The length this offering would make."""
    size: str | None
    """The size this offering would make, `WxH`."""
    warnings: list[str]
    """Fields this offering would not honour (best-effort mode only)."""
    held_back: str | None = None
    """Why it ranks last whatever its score (its provider's `reserve` keeps capacity for requests only it can
    serve); null otherwise."""


class ExplainedDrop(msgspec.Struct, kw_only=True):
    """`permanent`: a reason can never clear for this request as asked (a capability gap, the request's own cost
    cap or provider list), else the block is the gateway's state or the ops' choice ("not now"). `clears_in_s`:
    when every reason lapses on its own by then (a 429 cooldown, a full window), the seconds until it does; a
    create waits that long for it when it is within `[failover] wait_for_capacity_s`."""

    provider: str
    """The provider slug."""
    model: str
    """The canonical model of the dropped offering."""
    reasons: list[str]
    """Why it was left out, one line per reason."""
    permanent: bool
    """True when a reason can never clear for this request as asked ("never"), false for "not now"."""
    clears_in_s: float | None = None
    """Seconds until every reason lapses on its own, when they all do; null otherwise."""


class Explanation(msgspec.Struct, kw_only=True):
    """`outcome`: what a create would get now: `routed` (a candidate is left), `no_provider_available` (a 503:
    offerings fit but none can take it now) or `unsupported_request` (a 400: none could ever serve it as asked,
    `models_serving` lists the models that could)."""

    team: str
    """The team the rules were evaluated for."""
    strategy: str
    """The ranking strategy used: `cheapest`, `fastest`, `balanced` or `priority`."""
    rules_version: str
    """The version of the routing table the plan was made under."""
    matched_rules: list[str]
    """The names of the ops rules that matched, in order."""
    outcome: Literal["routed", "no_provider_available", "unsupported_request"]
    """What a create would get now: `routed`, `no_provider_available` (503) or `unsupported_request` (400)."""
    candidates: list[ExplainedCandidate]
    """The offerings left, best first."""
    dropped: list[ExplainedDrop]
    """Every offering left out, with its reasons."""
    models_serving: list[str] = []
    """With `unsupported_request`: the models that could serve the request as asked."""


class ProviderState(msgspec.Struct, kw_only=True):
    provider: str
    """The provider slug."""
    enabled: bool
    """Whether routing may use it (config and control plane switches together)."""
    circuit: CircuitSnapshot
    """Its circuit breaker's state."""
    headroom: HeadroomView
    """Its rate-limit windows, in-flight jobs, cooldowns and last capacity readings."""
    observed_seconds_by_model: dict[str, float]
    """Observed time to video per canonical model (moving average, seconds), shared by every replica."""
    observed_completions_by_model: dict[str, int]
    """How many completions each of those averages is based on."""


@post("/v1/routing/explain", status_code=200, summary="The routing plan for a create body", operation_id="explain")
async def explain_route(
    request: Request[Any, Any, Any],
    session: NamedDependency[Session],
    team: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Explanation:
    """What a create with this body would do now, without submitting: the ranked candidates with their score
    components, every dropped offering with its reasons, and the outcome. `team` plans as that team would."""
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
    """Each configured provider: enabled or not, its circuit breaker, its rate and concurrency headroom, and the
    generation seconds and completions observed per model (every replica's)."""
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

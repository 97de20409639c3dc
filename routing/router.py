"""The router's plan: every offering of the requested model filtered by capability and policy.

Candidates keep the catalogue's order (the gate screens them, routing/ranking.py orders them by strategy); each
drop carries its reason for `explain`."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from providers.contract import GenerationRequest
from routing.capabilities import capability_gaps, resolved_seconds, without
from routing.catalogue import Catalogue, Offering, resolution_of
from routing.rules import Policy, Strategy

AUTO = "auto"
"""The model id that lets routing choose among every model whose offerings satisfy the request."""


class RouteQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What the router needs besides the request itself."""

    model: str
    request: GenerationRequest
    best_effort: bool = False
    allow_providers: tuple[str, ...] = ()
    exclude_providers: tuple[str, ...] = ()
    max_cost_micros: int | None = None
    strategy: Strategy | None = None
    allow_fallbacks: bool = True


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    provider: str
    request: GenerationRequest
    seconds: int
    size: str | None
    estimated_cost_micros: int
    warnings: tuple[str, ...] = ()
    held_back: str | None = None  # why it ranks after every other candidate (its provider's reserve)
    # Units of its provider's windows (by scope) kept for requests only that provider can serve: a submit that could
    # go elsewhere leaves them (routing/gate.py `claim`).
    reserve: dict[str, int] = msgspec.field(default_factory=dict)


class Drop(msgspec.Struct, frozen=True, kw_only=True):
    """An offering left out and why. `permanent` when a reason can never clear for this request as asked (what
    the request asks against what the offering is: a capability gap, the request's own cost cap or provider
    list); then only another request or catalogue serves it. Every other reason is the gateway's state or the
    ops' choice (disabled, rules, circuit, headroom), which may change: "not now". `clears_at` (the gate's clock)
    when every reason is one that lapses on its own by then (a 429 cooldown, a full window), else None."""

    model: str
    provider: str
    reasons: tuple[str, ...]
    permanent: bool = False
    clears_at: float | None = None


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    candidates: tuple[Candidate, ...]
    dropped: tuple[Drop, ...]

    @property
    def unservable(self) -> bool:
        """No offering could serve the request as asked, now or later: a 400, never a 503 worth retrying."""
        return not self.candidates and all(d.permanent for d in self.dropped)

    @property
    def clears_at(self) -> float | None:
        """When the first block on an offering that fits lapses on its own; None when none does."""
        return min((d.clears_at for d in self.dropped if d.clears_at is not None), default=None)


class UnknownModel(Exception):
    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__(f"unknown model {model!r}; known models: {', '.join(known)}, or {AUTO!r}")
        self.model = model


class Router:
    def __init__(self, catalogue: Catalogue, *, enabled: Mapping[str, bool]) -> None:
        self._catalogue = catalogue
        self._enabled = enabled

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    def enabled(self, provider: str) -> bool:
        return self._enabled.get(provider, False)

    def plan(self, query: RouteQuery, policy: Policy | None = None) -> Plan:
        """Every offering of the model (of every model for `auto`), kept or dropped with its reasons; `policy`
        adds the ops rules."""
        candidates: list[Candidate] = []
        dropped: list[Drop] = []
        for model_id, offering in self._offerings(query.model):
            outcome = self._consider(query, model_id, offering, policy)
            if isinstance(outcome, Drop):
                dropped.append(outcome)
            else:
                candidates.append(outcome)
        return Plan(candidates=tuple(candidates), dropped=tuple(dropped))

    def models_serving(self, query: RouteQuery) -> list[str]:
        """The catalogue's models with an offering that could serve the request as asked (rules, circuits and
        headroom aside): what to suggest when the requested model cannot."""
        offerings = self._offerings(AUTO)
        return sorted({m for m, o in offerings if m != query.model and self._fit(query, m, o)[1] is not None})

    def _offerings(self, model_id: str) -> list[tuple[str, Offering]]:
        if model_id == AUTO:
            return [(m, o) for m, model in self._catalogue.items() for o in model.offerings]
        if (model := self._catalogue.get(model_id)) is not None:
            return [(model_id, o) for o in model.offerings]
        raise UnknownModel(model_id, sorted(self._catalogue))

    def _consider(
        self, query: RouteQuery, model_id: str, offering: Offering, policy: Policy | None
    ) -> Candidate | Drop:
        never, fitted = self._fit(query, model_id, offering)
        for_now = [] if self.enabled(offering.provider) else ["provider disabled"]
        refusal = None if policy is None else policy.refusal(offering.provider)
        if refusal is not None:
            for_now.append(refusal)
        cap = None if policy is None else policy.max_cost_micros
        if fitted is not None and cap is not None and (cost := fitted.estimated_cost_micros) > cap:
            for_now.append(f"estimated cost {cost / 1e6:.4f} USD exceeds the routing rules' cost cap")
        if fitted is None or for_now:
            reasons = (*never, *for_now)
            return Drop(model=model_id, provider=offering.provider, reasons=reasons, permanent=fitted is None)
        return fitted

    def _fit(self, query: RouteQuery, model_id: str, offering: Offering) -> tuple[list[str], Candidate | None]:
        """What can never fit (capability gaps, the request's own cost cap and provider lists), else the candidate."""
        provider = offering.provider
        never = self._request_reasons(query, provider)
        request = msgspec.structs.replace(
            query.request, upstream_model=offering.upstream_model, upstream_variant=offering.upstream_variant
        )
        gaps = capability_gaps(request, offering.capabilities)
        hard = [g for g in gaps if not (query.best_effort and g.droppable)]
        never += [g.reason for g in hard]
        seconds = resolved_seconds(request, offering.capabilities)
        size = _size_of(request, offering)
        audio = request.audio is not None and request.audio.enabled and offering.capabilities.audio
        # Each result of a several-results call is a video billed as one (VideoGen `numResults`).
        cost = offering.price.estimate_micros(seconds=seconds or 0, resolution=_tier(size), audio=audio) * max(
            1, request.results
        )
        if query.max_cost_micros is not None and cost > query.max_cost_micros:
            never.append(f"estimated cost {cost / 1e6:.4f} USD exceeds max_cost_usd")
        if never or seconds is None:
            return never, None
        soft = [g for g in gaps if g not in hard]
        # The length that is priced is the length that is asked for: never left to the provider's default, except
        # where the provider has no documented length field (then nothing is sent and its default is priced).
        asked = seconds if offering.capabilities.seconds_control else None
        request = msgspec.structs.replace(without(request, soft) if soft else request, seconds=asked)
        return never, Candidate(
            model=model_id,
            provider=provider,
            request=request,
            seconds=seconds,
            size=size,
            estimated_cost_micros=cost,
            warnings=tuple(f"{provider} dropped {g.field}: {g.reason}" for g in soft),
        )

    @staticmethod
    def _request_reasons(query: RouteQuery, provider: str) -> list[str]:
        reasons = []
        if query.allow_providers and provider not in query.allow_providers:
            reasons.append("not in the request's routing.providers")
        if provider in query.exclude_providers:
            reasons.append("excluded by the request's routing.exclude")
        return reasons


def _size_of(request: GenerationRequest, offering: Offering) -> str | None:
    if request.dimensions is not None:
        return str(request.dimensions)
    return offering.capabilities.default_size


def _tier(size: str | None) -> str | None:
    if size is None:
        return None
    width, _, height = size.partition("x")
    return resolution_of(int(width), int(height))

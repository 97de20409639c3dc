"""`GET /v1/models`: the canonical models, what each can do, which providers serve it and at what price."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import get
from litestar.di import NamedDependency

from gateway.api.videos import Session
from providers.contract import Capabilities, Mode
from routing.capabilities import typical_seconds
from routing.catalogue import Model, Offering, Price
from routing.router import Router


class OfferingView(msgspec.Struct, kw_only=True):
    provider: str
    upstream_model: str
    enabled: bool
    capabilities: Capabilities
    price: Price
    typical_cost_usd: float
    typical_seconds: int


class ModelView(msgspec.Struct, kw_only=True):
    id: str
    object: Literal["model"] = "model"
    description: str
    modes: list[Mode]
    providers: list[OfferingView]
    price_range_usd: tuple[float, float]


class ModelList(msgspec.Struct, kw_only=True):
    object: Literal["list"] = "list"
    data: list[ModelView]


@get("/v1/models", summary="List canonical models", operation_id="listModels")
async def list_models(session: NamedDependency[Session]) -> ModelList:
    """Every canonical model a create's `model` can name: its modes, and per provider offering whether it is
    enabled, its capabilities, its price and the typical cost of a clip; `price_range_usd` spans the offerings."""
    session.caller.require("videos")
    router = session.service.planner.router
    return ModelList(data=[_model(model_id, model, router) for model_id, model in sorted(router.catalogue.items())])


def _model(model_id: str, model: Model, router: Router) -> ModelView:
    offerings = [_offering(o, router) for o in model.offerings]
    costs = [o.typical_cost_usd for o in offerings]
    modes = sorted({mode for o in model.offerings for mode in o.capabilities.modes})
    return ModelView(
        id=model_id,
        description=model.description,
        modes=modes,
        providers=offerings,
        price_range_usd=(min(costs), max(costs)),
    )


def _offering(offering: Offering, router: Router) -> OfferingView:
    seconds = typical_seconds(offering.capabilities)
    size = offering.capabilities.default_size
    tier = None if size is None else f"{min(int(side) for side in size.split('x'))}p"
    cost_micros = offering.price.estimate_micros(seconds=seconds, resolution=tier)
    return OfferingView(
        provider=offering.provider,
        upstream_model=offering.upstream_model,
        enabled=router.enabled(offering.provider),
        capabilities=offering.capabilities,
        price=offering.price,
        typical_cost_usd=cost_micros / 1_000_000,
        typical_seconds=seconds,
    )

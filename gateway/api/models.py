"""`GET /v1/models`: the canonical models, what each can do, which providers serve it and at what price."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import get
from litestar.di import NamedDependency

from gateway.api.videos import Session
from gateway.schema.wire import about
from providers.contract import Capabilities, Mode
from routing.capabilities import typical_seconds
from routing.catalogue import Model, Offering, Price
from routing.router import Router


class OfferingView(msgspec.Struct, kw_only=True):
    """One provider's offering of the model."""

    provider: Annotated[str, about("The provider's slug")]
    upstream_model: Annotated[str, about("The model's name at the provider")]
    enabled: Annotated[bool, about("Whether routing may send requests to it now")]
    capabilities: Annotated[Capabilities, about("What it can make: modes, lengths, sizes, optional fields")]
    price: Annotated[Price, about("What it costs, per second or per video")]
    typical_cost_usd: Annotated[float, about("The price of a clip of `typical_seconds` at its default size")]
    typical_seconds: Annotated[int, about("A typical length it makes")]


class ModelView(msgspec.Struct, kw_only=True):
    id: Annotated[str, about("The canonical id a create's `model` names")]
    object: Annotated[Literal["model"], about("Always `model`")] = "model"
    description: Annotated[str, about("What the model is")]
    modes: Annotated[list[Mode], about("What its offerings make together: t2v, i2v, first_last, multi_scene...")]
    providers: Annotated[list[OfferingView], about("Each provider offering it")]
    price_range_usd: Annotated[tuple[float, float], about("The lowest and highest `typical_cost_usd`")]


class ModelList(msgspec.Struct, kw_only=True):
    object: Annotated[Literal["list"], about("Always `list`")] = "list"
    data: Annotated[list[ModelView], about("Every canonical model, by id")]


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

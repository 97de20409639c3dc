"""`GET /v1/models` over a served gateway: the catalogue as clients see it."""

from __future__ import annotations

import httpx

from tests.conftest import GatewayFactory, auth, gateway_settings


async def test_models_lists_each_model_with_offerings_and_prices(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """Each canonical model shows its modes, the providers serving it and the price of a typical clip."""
    async with serve_gateway(gateway_settings(vidgen_url)) as url, httpx.AsyncClient(base_url=url) as client:
        reply = await client.get("/v1/models", headers=auth())
        assert reply.status_code == 200
        [model] = reply.json()["data"]
    assert model["id"] == "scenex"
    assert model["modes"] == ["first_last", "i2v", "multi_scene", "t2v"]
    [offering] = model["providers"]
    assert (offering["provider"], offering["upstream_model"], offering["enabled"]) == ("vidgen", "scenex", True)
    assert offering["typical_seconds"] == 5
    assert offering["typical_cost_usd"] == 0.1
    assert model["price_range_usd"] == [0.1, 0.1]


async def test_models_needs_a_key(vidgen_url: str, serve_gateway: GatewayFactory) -> None:
    """The catalogue is for authenticated callers only."""
    async with serve_gateway(gateway_settings(vidgen_url)) as url, httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/v1/models")).status_code == 401

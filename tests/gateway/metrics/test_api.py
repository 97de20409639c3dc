"""`GET /metrics` over real sockets (gateway + Vidgen emulator): the exposition, the optional scrape token, what a
finished job leaves in it, and that junk in requests (model, team, metadata, routing) creates no new series."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import create_app
from gateway.auth import Caller, KeyRing, digest
from gateway.config import ConfigError
from tests.conftest import TEAM_A_KEY, GatewayFactory, auth, gateway_settings, wait_terminal
from tests.gateway.metrics.conftest import parse, scrape, value

ADMIN_KEY = "vgk_test_metrics_admin_0123456789"
TOKEN_ENV = "TEST_METRICS_TOKEN"
SCENEX = {"model": "scenex", "prompt": "a lighthouse at dawn"}


def keyring() -> KeyRing:
    return KeyRing(
        {
            digest(TEAM_A_KEY): Caller(key_id="key-a", team="team-a", scopes=frozenset({"videos"})),
            digest(ADMIN_KEY): Caller(key_id="ops", team="ops", scopes=frozenset({"videos", "admin"})),
        }
    )


@pytest.fixture
async def gateway(vidgen_url: str, serve_gateway: GatewayFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve_gateway(gateway_settings(vidgen_url), keyring=keyring()) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        yield client


async def finish_one(gateway: httpx.AsyncClient, body: dict[str, object]) -> None:
    reply = await gateway.post("/v1/videos", json=body, headers=auth())
    assert reply.status_code == 202, reply.text
    assert (await wait_terminal(gateway, reply.json()["id"]))["status"] == "completed"


async def test_metrics_are_served_in_the_prometheus_text_format(gateway: httpx.AsyncClient) -> None:
    """Without a configured token anyone may scrape; the reply is the text format with its content type."""
    reply = await gateway.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "# TYPE video_gateway_upstream_request_duration_seconds histogram" in reply.text
    assert value(parse(reply.text), "video_gateway_provider_enabled", provider="vidgen") == 1


async def test_openmetrics_is_served_when_asked_for(gateway: httpx.AsyncClient) -> None:
    """A scraper that accepts OpenMetrics gets it (the content type says so, and the body ends with # EOF)."""
    reply = await gateway.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert reply.headers["content-type"].startswith("application/openmetrics-text")
    assert reply.text.endswith("# EOF\n")


async def test_a_finished_job_is_counted_with_its_upstream_calls_route_and_poll_lag(
    gateway: httpx.AsyncClient,
) -> None:
    """One completed job: a routing decision, a 2xx generate call, status calls with their lag, one finished job."""
    await finish_one(gateway, SCENEX)
    samples = await scrape(gateway)
    vidgen = {"provider": "vidgen"}
    assert value(samples, "video_gateway_router_decisions_total", **vidgen, model="scenex", strategy="cheapest") == 1
    generate = {**vidgen, "operation": "generate", "outcome": "2xx"}
    assert value(samples, "video_gateway_upstream_request_duration_seconds_count", **generate) == 1
    assert value(samples, "video_gateway_upstream_request_duration_seconds_count", **vidgen, operation="status") >= 1
    assert value(samples, "video_gateway_poll_lag_seconds_count", **vidgen) >= 1
    finished = {**vidgen, "model": "scenex", "team": "team-a"}
    assert value(samples, "video_gateway_jobs_finished_total", **finished, status="completed") == 1
    assert value(samples, "video_gateway_jobs_finished_video_seconds_total", **finished) == 5


async def test_junk_model_team_and_metadata_create_no_new_series(gateway: httpx.AsyncClient) -> None:
    """After a first job, junk in a model, a team, metadata, routing and ids leaves the set of series unchanged."""
    await finish_one(gateway, {**SCENEX, "metadata": {"purpose": "warm-up"}})
    before = await scrape(gateway)
    junk = "junk-9f3c"
    await finish_one(gateway, {**SCENEX, "metadata": {f"{junk}-key": f"{junk}-value"}})
    assert (await gateway.post("/v1/videos", json={**SCENEX, "model": junk}, headers=auth())).status_code == 400
    strange = {**SCENEX, "routing": {"strategy": junk, "providers": [junk]}}
    assert (await gateway.post("/v1/videos", json=strange, headers=auth())).status_code == 400
    explain = await gateway.post(f"/v1/routing/explain?team={junk}", json=SCENEX, headers=auth(ADMIN_KEY))
    assert explain.status_code == 200
    assert (await gateway.get(f"/v1/videos/video_{junk}", headers=auth())).status_code == 404
    assert (await gateway.post("/v1/videos", json=SCENEX, headers=auth(f"vgk_{junk}"))).status_code == 401
    assert (await gateway.get(f"/{junk}", headers={"x-request-id": junk})).status_code == 404
    after_reply = await gateway.get("/metrics")
    assert set(parse(after_reply.text)) == set(before)
    assert junk not in after_reply.text


async def test_the_scrape_token_is_required_when_configured(
    vidgen_url: str, serve_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[metrics] bearer_token_env`: no token or a wrong one is a 401 in the error envelope; the right one scrapes."""
    monkeypatch.setenv(TOKEN_ENV, "metrics-token-for-tests")
    settings = gateway_settings(vidgen_url, extra=f'[metrics]\nbearer_token_env = "{TOKEN_ENV}"\n')
    async with serve_gateway(settings) as url, httpx.AsyncClient(base_url=url) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, auth()):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_metrics_token"
            assert "metrics-token-for-tests" not in refused.text
        await scrape(client, {"authorization": "Bearer metrics-token-for-tests"})


def test_a_configured_token_variable_that_is_unset_fails_at_start(
    vidgen_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A named but unset token variable is a start-up error naming the variable, never an open endpoint."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    settings = gateway_settings("http://127.0.0.1:9", extra=f'[metrics]\nbearer_token_env = "{TOKEN_ENV}"\n')
    with pytest.raises(ConfigError, match=TOKEN_ENV):
        create_app(settings, keyring=keyring(), run_poller=False)


async def test_a_test_observer_and_the_metrics_both_see_upstream_calls(
    vidgen_url: str, serve_gateway: GatewayFactory
) -> None:
    """`create_app(observe=...)` still gets every call, and the app's histogram counts the same calls."""
    seen: list[tuple[str, str, str]] = []

    def observe(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
        seen.append((provider, operation, outcome))

    async with (
        serve_gateway(gateway_settings(vidgen_url), observe=observe) as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        await finish_one(client, SCENEX)
        samples = await scrape(client)
    assert ("vidgen", "generate", "200") in seen
    counted = value(samples, "video_gateway_upstream_request_duration_seconds_count", provider="vidgen")
    assert counted == len(seen)


def test_metrics_route_is_not_in_the_openapi_document() -> None:
    """`/metrics` is for scrapers, not clients: the committed document does not list it."""
    from tests.gateway.api.test_openapi import COMMITTED

    assert "/metrics" not in COMMITTED.read_text()

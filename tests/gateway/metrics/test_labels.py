"""Metrics recorded directly: every label value is bounded by the configuration or a fixed vocabulary, money is
counted in USD once per settlement, a job finalized twice in one process counts once, and the scrape token holds."""

from __future__ import annotations

import time

import pytest

from gateway.errors import Unauthorized
from gateway.metrics.labels import LabelGuard
from gateway.metrics.registry import Metrics
from gateway.schema.job import Usage, VideoJob
from tests.gateway.metrics.conftest import registry_series, value

OTHER = "other"  # README Metrics: anything else is counted as `other`

JUNK = "junk-\u2603-" + "x" * 200


def metrics(token: str | None = None) -> Metrics:
    guard = LabelGuard(providers={"vidgen", "nanogpt"}, models={"scenex", "sora-2"}, teams={"team-a"}, keys={"key-a"})
    return Metrics(guard, clock=time.time, bearer_token=token)


def finished(job_id: str = "video_1", **changes: object) -> VideoJob:
    fields: dict[str, object] = {
        "id": job_id,
        "team": "team-a",
        "key_id": "key-a",
        "model": "scenex",
        "created_at": 1.0,
        "updated_at": 2.0,
        "provider": "vidgen",
        "status": "completed",
        "usage": Usage(video_seconds=5, cost_micros=100_000, cost_source="price_table"),
    }
    return VideoJob(**(fields | changes))  # type: ignore[arg-type]


def test_unknown_values_become_other() -> None:
    """Provider, model, team, key, status and the fixed vocabularies map anything unknown to "other"."""
    guard = metrics().guard
    assert (guard.provider("vidgen"), guard.model("sora-2"), guard.team("team-a")) == ("vidgen", "sora-2", "team-a")
    for read in (guard.provider, guard.model, guard.team, guard.key, guard.status, guard.strategy, guard.quota):
        assert read(JUNK) == OTHER
        assert read(None) == OTHER
    assert guard.status("cancelled") == "cancelled"
    assert guard.strategy("fastest") == "fastest"


OUTCOMES = [("200", "2xx"), ("201", "2xx"), ("302", "3xx"), ("404", "4xx"), ("429", "429"), ("503", "5xx")]
FAILURES = [("timeout", "timeout"), ("connection_error", "connection_error"), ("999", OTHER), ("abc", OTHER)]


@pytest.mark.parametrize(("raw", "label"), [*OUTCOMES, *FAILURES])
def test_transport_outcomes_are_grouped_by_status_class(raw: str, label: str) -> None:
    """The transport's outcome (a status code or a failure kind) becomes one of a few classes."""
    assert LabelGuard.call_outcome(raw) == label


def test_junk_passed_to_every_recorder_creates_only_other_series() -> None:
    """Every recording method given junk labels creates series whose label values are known or "other"."""
    m = metrics()
    m.upstream_call(JUNK, JUNK, JUNK, 0.1)
    m.upstream_error(JUNK, JUNK, JUNK)
    m.routed(JUNK, JUNK, JUNK)
    m.failed_over(JUNK, JUNK)
    m.refused(JUNK)
    m.poll_lag(JUNK, 1.0)
    m.settled(team=JUNK, key_id=JUNK, provider=JUNK, model=JUNK, status=JUNK, video_seconds=1, cost_micros=1)
    m.reservation(team=JUNK, outcome=JUNK)
    m.reserved(team=JUNK, reserved_micros=1)
    m.budget(team=JUNK, period=JUNK, limit_micros=1, spent_micros=1)
    m.quota_refused(quota=JUNK, team=JUNK)
    m.webhook_delivery(JUNK)
    # A metric with no labels of its own (a histogram's `le` only) has nothing junk could reach.
    labelled = [labels for (_, labels) in registry_series(m.registry) if any(k != "le" for k, _ in labels)]
    assert len(labelled) > 20
    for labels in labelled:
        values = {v for k, v in labels if k != "le"}
        assert values == {OTHER}, labels


def test_settled_counts_cost_in_usd_and_seconds_per_team_key_provider_model() -> None:
    """Two settlements add up exactly: $0.10 + $1.99 and 5 + 10 seconds, with the job count by status."""
    m = metrics()
    common = {"team": "team-a", "key_id": "key-a", "provider": "vidgen", "model": "scenex", "status": "completed"}
    m.settled(**common, video_seconds=5, cost_micros=100_000)
    m.settled(**common, video_seconds=10, cost_micros=1_990_000)
    series = registry_series(m.registry)
    labels = {"team": "team-a", "key": "key-a", "provider": "vidgen", "model": "scenex"}
    assert value(series, "video_gateway_cost_usd_total", **labels) == pytest.approx(2.09)
    assert value(series, "video_gateway_video_seconds_total", **labels) == 15
    assert value(series, "video_gateway_settled_jobs_total", team="team-a", status="completed") == 2


def test_a_negative_settlement_is_not_counted_as_money() -> None:
    """Counters only go up: a negative cost is logged and left out of the money, the record still counted."""
    m = metrics()
    m.settled(
        team="team-a",
        key_id="key-a",
        provider="vidgen",
        model="scenex",
        status="failed",
        video_seconds=0,
        cost_micros=-5,
    )
    series = registry_series(m.registry)
    assert value(series, "video_gateway_cost_usd_total") == 0
    assert value(series, "video_gateway_settled_jobs_total", status="failed") == 1


async def test_a_job_finalized_twice_in_one_process_counts_once() -> None:
    """The terminal effect may run again for the same job (lifecycle.py): the count and seconds do not double."""
    m = metrics()
    await m.job_finished(finished())
    await m.job_finished(finished())
    await m.job_finished(finished("video_2", status="failed", usage=None))
    series = registry_series(m.registry)
    labels = {"provider": "vidgen", "model": "scenex", "team": "team-a"}
    assert value(series, "video_gateway_jobs_finished_total", **labels, status="completed") == 1
    assert value(series, "video_gateway_jobs_finished_total", **labels, status="failed") == 1
    assert value(series, "video_gateway_jobs_finished_video_seconds_total", **labels) == 5


def test_budget_reservation_quota_and_webhook_recorders() -> None:
    """The recorders other features call set their gauges in USD and count by their bounded labels."""
    m = metrics()
    m.budget(team="team-a", period="month", limit_micros=50_000_000, spent_micros=12_500_000)
    m.reserved(team="team-a", reserved_micros=1_990_000)
    m.reservation(team="team-a", outcome="reserved")
    m.quota_refused(quota="monthly_budget_usd", team="team-a")
    m.webhook_delivery("delivered")
    series = registry_series(m.registry)
    assert value(series, "video_gateway_budget_limit_usd", team="team-a", period="month") == 50
    assert value(series, "video_gateway_budget_spent_usd", team="team-a", period="month") == 12.5
    assert value(series, "video_gateway_budget_reserved_usd", team="team-a") == pytest.approx(1.99)
    assert value(series, "video_gateway_budget_reservations_total", outcome="reserved") == 1
    assert value(series, "video_gateway_quota_refusals_total", quota="monthly_budget_usd", team="team-a") == 1
    assert value(series, "video_gateway_webhook_deliveries_total", outcome="delivered") == 1


def test_scrape_token_is_required_when_configured() -> None:
    """With a token, a scrape without it or with another one is refused; without a token anyone may scrape."""
    metrics().authorize(None)
    guarded = metrics(token="s3cret-token")
    guarded.authorize("Bearer s3cret-token")
    for header in (None, "", "Bearer wrong", "Basic s3cret-token", "s3cret-token"):
        with pytest.raises(Unauthorized):
            guarded.authorize(header)


def test_each_app_metrics_has_its_own_registry() -> None:
    """Two Metrics never share series: counting in one leaves the other at zero (no global registry)."""
    first, second = metrics(), metrics()
    first.refused("all_attempts_failed")
    assert value(registry_series(first.registry), "video_gateway_router_refusals_total") == 1
    assert value(registry_series(second.registry), "video_gateway_router_refusals_total") == 0

"""The app's metrics: its own `CollectorRegistry` (never the global one), the metric definitions, and one method
per event the gateway reports. Every label value passes the `LabelGuard`; no job id, prompt or metadata is a label.

Counters are per process (Prometheus sums the replicas); the gauges of shared state (circuits, headroom, budgets)
are the same on every replica, so dashboards aggregate those with `max`."""

from __future__ import annotations

import collections
import hashlib
import hmac
from collections.abc import Callable, Iterable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from gateway.auth import Caller
from gateway.config import Settings, secret_from_env
from gateway.errors import Unauthorized
from gateway.metrics.labels import LabelGuard
from gateway.metrics.provider_gauges import ProviderGauges
from gateway.schema.job import VideoJob
from providers.transport import CallObserver

log = structlog.get_logger("gateway.metrics")

CALL_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Job ids this process already counted as finished: a finalizer that runs its effects again here counts once.
_REMEMBERED_JOBS = 10_000
_MICROS_PER_USD = 1_000_000


class Metrics:
    def __init__(
        self,
        guard: LabelGuard,
        *,
        clock: Callable[[], float],
        bearer_token: str | None = None,
        provider_refresh_s: float = 5.0,
        provider_refresh_timeout_s: float = 2.0,
    ) -> None:
        self.guard = guard
        self.registry = CollectorRegistry()
        self._token_digest = None if bearer_token is None else hashlib.sha256(bearer_token.encode()).digest()
        self._counted: collections.OrderedDict[str, None] = collections.OrderedDict()
        r = self.registry
        team_provider_model = ["team", "provider", "model"]
        self._jobs_finished = Counter(
            "video_gateway_jobs_finished_total",
            "Jobs that reached a terminal state, counted by the process that finalized them (approximate: a job"
            " finalized again by another replica after a crash counts twice; the settled figures are exact).",
            ["provider", "model", "team", "status"],
            registry=r,
        )
        self._finished_seconds = Counter(
            "video_gateway_jobs_finished_video_seconds_total",
            "Video seconds of completed jobs, per finalizing process (approximate, as jobs_finished_total).",
            ["provider", "model", "team"],
            registry=r,
        )
        self._cost = Counter(
            "video_gateway_cost_usd_total",
            "Cost of settled jobs in USD, counted once per usage-ledger record.",
            ["team", "key", "provider", "model"],
            registry=r,
        )
        self._seconds = Counter(
            "video_gateway_video_seconds_total",
            "Video seconds of settled jobs, counted once per usage-ledger record.",
            ["team", "key", "provider", "model"],
            registry=r,
        )
        self._settled = Counter(
            "video_gateway_settled_jobs_total",
            "Usage-ledger records written, by the job's terminal status.",
            [*team_provider_model, "status"],
            registry=r,
        )
        self._reservations = Counter(
            "video_gateway_budget_reservations_total",
            "Budget reservations by outcome (reserved, refused, released, settled).",
            ["team", "outcome"],
            registry=r,
        )
        self._reserved = Gauge(
            "video_gateway_budget_reserved_usd", "USD reserved by jobs not yet settled.", ["team"], registry=r
        )
        self._budget_limit = Gauge(
            "video_gateway_budget_limit_usd", "A team's budget for the period.", ["team", "period"], registry=r
        )
        self._budget_spent = Gauge(
            "video_gateway_budget_spent_usd",
            "What the team spent in the period so far.",
            ["team", "period"],
            registry=r,
        )
        self._quota_refusals = Counter(
            "video_gateway_quota_refusals_total", "Requests refused by a quota.", ["team", "quota"], registry=r
        )
        self._upstream = Histogram(
            "video_gateway_upstream_request_duration_seconds",
            "Calls to providers by operation and outcome (HTTP status class, 429, timeout, connection_error);"
            " `_count` is the number of calls.",
            ["provider", "operation", "outcome"],
            buckets=CALL_BUCKETS_S,
            registry=r,
        )
        self._upstream_errors = Counter(
            "video_gateway_upstream_errors_total",
            "Provider errors by canonical error class (submit and status calls).",
            ["provider", "operation", "error_class"],
            registry=r,
        )
        self._decisions = Counter(
            "video_gateway_router_decisions_total",
            "Creates routed: the first-ranked candidate and the strategy used.",
            ["provider", "model", "strategy"],
            registry=r,
        )
        self._failovers = Counter(
            "video_gateway_router_failovers_total",
            "Submits that moved on from a provider to the next candidate, and why (error class or gate refusal).",
            ["provider", "reason"],
            registry=r,
        )
        self._refusals = Counter(
            "video_gateway_router_refusals_total",
            "Creates refused: no offering fits (unsupported_request), none can take it now, or every attempt failed.",
            ["reason"],
            registry=r,
        )
        self._capacity_waits = Histogram(
            "video_gateway_router_capacity_wait_seconds",
            "Creates that waited for a provider's cooldown or window to lapse (none could take them at once).",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self._poll_lag = Histogram(
            "video_gateway_poll_lag_seconds",
            "How late the poller took up a job after its due time.",
            ["provider"],
            buckets=LAG_BUCKETS_S,
            registry=r,
        )
        self._webhooks = Counter(
            "video_gateway_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"], registry=r
        )
        self.providers = ProviderGauges(
            r, guard, refresh_s=provider_refresh_s, timeout_s=provider_refresh_timeout_s, clock=clock
        )

    # ---------------------------------------- exposition

    def authorize(self, authorization: str | None) -> None:
        """With a configured token, a scrape must send `Authorization: Bearer <token>` (compared in constant time)."""
        if self._token_digest is None:
            return
        scheme, _, token = (authorization or "").partition(" ")
        presented = hashlib.sha256(token.strip().encode()).digest()
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented, self._token_digest):
            raise Unauthorized("metrics need `Authorization: Bearer <metrics token>`", code="invalid_metrics_token")

    async def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (Prometheus text, or OpenMetrics) and its content type."""
        await self.providers.refresh()
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    # ---------------------------------------- upstream and routing

    def observer(self, also: CallObserver) -> CallObserver:
        """The transport's call observer: these metrics first, then `also` (a test's)."""

        def observe(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
            self.upstream_call(provider, operation, outcome, elapsed_s)
            also(provider, operation, outcome, elapsed_s)

        return observe

    def upstream_call(self, provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
        g = self.guard
        labels = (g.provider(provider), g.operation(operation), g.call_outcome(outcome))
        self._upstream.labels(*labels).observe(max(0.0, elapsed_s))

    def upstream_error(self, provider: str | None, operation: str, error_class: str) -> None:
        g = self.guard
        self._upstream_errors.labels(g.provider(provider), g.operation(operation), g.error_class(error_class)).inc()

    def routed(self, provider: str, model: str, strategy: str) -> None:
        g = self.guard
        self._decisions.labels(g.provider(provider), g.model(model), g.strategy(strategy)).inc()

    def failed_over(self, provider: str, reason: str) -> None:
        self._failovers.labels(self.guard.provider(provider), self.guard.failover_reason(reason)).inc()

    def refused(self, reason: str) -> None:
        self._refusals.labels(self.guard.refusal(reason)).inc()

    def waited_for_capacity(self, waited_s: float) -> None:
        self._capacity_waits.observe(max(0.0, waited_s))

    def poll_lag(self, provider: str | None, lag_s: float) -> None:
        self._poll_lag.labels(self.guard.provider(provider)).observe(max(0.0, lag_s))

    # ---------------------------------------- jobs, money and quotas

    async def job_finished(self, job: VideoJob) -> None:
        """A terminal effect (gateway/videos/writer.py): count the job once per process."""
        if job.id in self._counted:
            return
        self._counted[job.id] = None
        if len(self._counted) > _REMEMBERED_JOBS:
            self._counted.popitem(last=False)
        g = self.guard
        provider, model, team = g.provider(job.provider), g.model(job.model), g.team(job.team)
        self._jobs_finished.labels(provider, model, team, g.status(job.status)).inc()
        if job.status == "completed" and job.usage is not None:
            self._finished_seconds.labels(provider, model, team).inc(job.usage.video_seconds)

    def settled(
        self,
        *,
        team: str,
        key_id: str,
        provider: str | None,
        model: str,
        status: str,
        video_seconds: int,
        cost_micros: int,
    ) -> None:
        """Call exactly once per usage-ledger record written: the exact cost and video-seconds figures."""
        g = self.guard
        team_label, provider_label, model_label = g.team(team), g.provider(provider), g.model(model)
        money = (team_label, g.key(key_id), provider_label, model_label)
        if cost_micros < 0 or video_seconds < 0:
            # Counters only go up; a refund belongs in the ledger, not here.
            log.warning("metrics_negative_usage_ignored", cost_micros=cost_micros, video_seconds=video_seconds)
        else:
            self._cost.labels(*money).inc(cost_micros / _MICROS_PER_USD)
            self._seconds.labels(*money).inc(video_seconds)
        self._settled.labels(team_label, provider_label, model_label, g.status(status)).inc()

    def reservation(self, *, team: str, outcome: str) -> None:
        self._reservations.labels(self.guard.team(team), self.guard.reservation(outcome)).inc()

    def reserved(self, *, team: str, reserved_micros: int) -> None:
        """The team's total reserved now (read from the shared state by the budget feature)."""
        self._reserved.labels(self.guard.team(team)).set(reserved_micros / _MICROS_PER_USD)

    def budget(self, *, team: str, period: str, limit_micros: int, spent_micros: int) -> None:
        labels = (self.guard.team(team), self.guard.budget_period(period))
        self._budget_limit.labels(*labels).set(limit_micros / _MICROS_PER_USD)
        self._budget_spent.labels(*labels).set(spent_micros / _MICROS_PER_USD)

    def quota_refused(self, *, quota: str, team: str) -> None:
        self._quota_refusals.labels(self.guard.team(team), self.guard.quota(quota)).inc()

    def webhook_delivery(self, outcome: str) -> None:
        self._webhooks.labels(self.guard.webhook(outcome)).inc()


def build_metrics(settings: Settings, callers: Iterable[Caller], *, clock: Callable[[], float]) -> Metrics:
    """The app's metrics: labels bounded by its providers, catalogue and keys; the scrape token from the env."""
    known = list(callers)
    guard = LabelGuard(
        providers=settings.providers,
        models=settings.models,
        teams={c.team for c in known},
        keys={c.key_id for c in known},
    )
    config = settings.metrics
    token = None
    if config.bearer_token_env:
        token = secret_from_env(config.bearer_token_env, what="metrics.bearer_token_env")
    return Metrics(
        guard,
        clock=clock,
        bearer_token=token,
        provider_refresh_s=config.provider_refresh_s,
        provider_refresh_timeout_s=config.provider_refresh_timeout_s,
    )

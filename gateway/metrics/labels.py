"""Bounded label values: each label takes its values from the configuration, the catalogue or a fixed vocabulary,
and anything else is counted as "other", so no request (a junk model, team or metadata) can create a series."""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from providers.contract import CanonicalStatus, ErrorClass, Operation
from routing.rules import Strategy

OTHER = "other"

JOB_STATUSES = frozenset(get_args(CanonicalStatus))
STRATEGIES = frozenset(get_args(Strategy))
# What an adapter's HttpCall names as its operation (providers/*/translate.py).
OPERATIONS = frozenset(Operation)
# The transport reports a status code, "timeout" or "connection_error"; codes are grouped by class.
CALL_OUTCOMES = frozenset({"2xx", "3xx", "4xx", "429", "5xx", "timeout", "connection_error"})
# Why a submit left a candidate: an upstream error class, or the gate's refusal before any call (routing/gate.py).
FAILOVER_REASONS = frozenset(e.value for e in ErrorClass) | {
    "circuit_open",
    "no_headroom",
    "no_concurrency_slot",
    "reserve_kept",
}
ERROR_CLASSES = frozenset(e.value for e in ErrorClass)
# The codes of the 503 `no_provider_available` replies (gateway/videos/service.py).
REFUSAL_REASONS = frozenset({"unsupported_request", "no_provider_available", "all_attempts_failed"})
# Defaults for the features that report through `Metrics`; their owners pass their own vocabularies when wiring.
QUOTAS = frozenset({"requests", "max_concurrent_jobs", "monthly_budget_usd", "monthly_video_seconds"})
BUDGET_PERIODS = frozenset({"day", "month"})
RESERVATION_OUTCOMES = frozenset({"reserved", "refused", "released", "settled"})
WEBHOOK_OUTCOMES = frozenset({"delivered", "retrying", "failed"})


class LabelGuard:
    """Maps a raw value to itself when it is known, else to `OTHER`."""

    def __init__(
        self,
        *,
        providers: Iterable[str],
        models: Iterable[str],
        teams: Iterable[str],
        keys: Iterable[str],
        quotas: Iterable[str] = QUOTAS,
        budget_periods: Iterable[str] = BUDGET_PERIODS,
    ) -> None:
        self.providers = frozenset(providers)
        self.models = frozenset(models)
        self.teams = frozenset(teams)
        self.keys = frozenset(keys)
        self.quotas = frozenset(quotas)
        self.budget_periods = frozenset(budget_periods)

    def provider(self, value: str | None) -> str:
        return _known(value, self.providers)

    def model(self, value: str | None) -> str:
        return _known(value, self.models)

    def team(self, value: str | None) -> str:
        return _known(value, self.teams)

    def key(self, value: str | None) -> str:
        return _known(value, self.keys)

    def quota(self, value: str | None) -> str:
        return _known(value, self.quotas)

    def budget_period(self, value: str | None) -> str:
        return _known(value, self.budget_periods)

    @staticmethod
    def status(value: str | None) -> str:
        return _known(value, JOB_STATUSES)

    @staticmethod
    def strategy(value: str | None) -> str:
        return _known(value, STRATEGIES)

    @staticmethod
    def operation(value: str | None) -> str:
        return _known(value, OPERATIONS)

    @staticmethod
    def error_class(value: str | None) -> str:
        return _known(value, ERROR_CLASSES)

    @staticmethod
    def failover_reason(value: str | None) -> str:
        return _known(value, FAILOVER_REASONS)

    @staticmethod
    def refusal(value: str | None) -> str:
        return _known(value, REFUSAL_REASONS)

    @staticmethod
    def reservation(value: str | None) -> str:
        return _known(value, RESERVATION_OUTCOMES)

    @staticmethod
    def webhook(value: str | None) -> str:
        return _known(value, WEBHOOK_OUTCOMES)

    @staticmethod
    def call_outcome(value: str) -> str:
        """A transport outcome: "timeout" and "connection_error" as they are, an HTTP status by its class."""
        if value in CALL_OUTCOMES:
            return value
        if not value.isdigit():
            return OTHER
        code = int(value)
        if code == 429:
            return "429"
        return _known(f"{code // 100}xx", CALL_OUTCOMES) if 200 <= code < 600 else OTHER


def _known(value: str | None, allowed: frozenset[str]) -> str:
    return value if value is not None and value in allowed else OTHER

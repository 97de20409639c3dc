"""Observed time from accepted to completed, per provider and model: an exponentially weighted moving average.

Fed by the poller from finished jobs (never HTTP latency: a 202 says nothing about how long a video takes)."""

from __future__ import annotations


class SpeedBook:
    def __init__(self, *, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self._ewma_s: dict[tuple[str, str], float] = {}

    def observe(self, provider: str, model: str, seconds: float) -> None:
        key = (provider, model)
        previous = self._ewma_s.get(key)
        self._ewma_s[key] = seconds if previous is None else previous + self._alpha * (seconds - previous)

    def expected_s(self, provider: str, model: str) -> float | None:
        return self._ewma_s.get((provider, model))

    def of(self, provider: str) -> dict[str, float]:
        """Observed seconds by model for one provider."""
        return {model: s for (slug, model), s in self._ewma_s.items() if slug == provider}

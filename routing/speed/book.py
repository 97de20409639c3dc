"""Observed time from accepted to completed, per provider and model: an exponentially weighted moving average.

Fed by the poller from finished jobs (never HTTP latency: a 202 says nothing about how long a video takes). Reads
are synchronous, from this process's copy, because ranking runs on every create; `routing.speed.redis_book` shares the
averages between replicas behind the same interface."""

from __future__ import annotations

from typing import Annotated

import msgspec

Alpha = Annotated[float, msgspec.Meta(gt=0, le=1)]


class Observed(msgspec.Struct, frozen=True, kw_only=True):
    """One provider x model: the moving average of seconds to video and how many completions it has seen."""

    ewma_s: float
    count: int


def ewma(previous: float | None, seconds: float, alpha: float) -> float:
    """The next average; the first observation is taken as is. `routing.speed.redis_book` runs the same step in Lua."""
    return seconds if previous is None else previous + alpha * (seconds - previous)


class SpeedBook:
    """In one process (the memory store): observations update the averages here directly."""

    def __init__(self, *, alpha: float = 0.2) -> None:
        self._alpha = alpha
        self._seen: dict[tuple[str, str], Observed] = {}

    async def observe(self, provider: str, model: str, seconds: float) -> None:
        previous = self._seen.get((provider, model))
        self._seen[(provider, model)] = Observed(
            ewma_s=ewma(previous.ewma_s if previous else None, seconds, self._alpha),
            count=(previous.count if previous else 0) + 1,
        )

    async def refresh(self) -> None:
        """Bring this process's copy up to date now (nothing to do here: the copy is the book)."""

    async def close(self) -> None:
        """Let any background work finish (nothing here)."""

    def expected_s(self, provider: str, model: str) -> float | None:
        seen = self._seen.get((provider, model))
        return None if seen is None else seen.ewma_s

    def observed(self, provider: str, model: str) -> Observed | None:
        return self._seen.get((provider, model))

    def of(self, provider: str) -> dict[str, float]:
        """Observed seconds by model for one provider."""
        return {model: seen.ewma_s for (seen_by, model), seen in self._seen.items() if seen_by == provider}

    def counts(self, provider: str) -> dict[str, int]:
        """Completions observed by model for one provider (how much the average rests on)."""
        return {model: seen.count for (seen_by, model), seen in self._seen.items() if seen_by == provider}

    def _replace_all(self, seen: dict[tuple[str, str], Observed]) -> None:
        self._seen = seen

    def _put(self, provider: str, model: str, seen: Observed) -> None:
        self._seen[(provider, model)] = seen

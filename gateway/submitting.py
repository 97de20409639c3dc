"""Submitting a planned request: each candidate in turn, what the gate must grant first, and when to resubmit to
the same provider (a 502/503 with `same_provider_retries`, a 429 or a full window that clears within the create's
wait) or move on; every attempt recorded. Used at create and by post-acceptance failover (gateway/service.py)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping

import structlog

from gateway.config import FailoverSettings
from gateway.errors import GatewayError, NoProviderAvailable, from_upstream
from gateway.jobs import Attempt, VideoJob
from gateway.metrics.registry import Metrics
from gateway.upstreams import Upstream
from providers.contract import ErrorClass, UpstreamError, UpstreamJob
from routing.gate import ProviderGate
from routing.router import Candidate

log = structlog.get_logger("gateway.submitting")


class Submitter:
    def __init__(
        self,
        *,
        upstreams: Mapping[str, Upstream],
        gate: ProviderGate,
        failover: FailoverSettings,
        metrics: Metrics,
        clock: Callable[[], float],
    ) -> None:
        self._upstreams = upstreams
        self._gate = gate
        self._failover = failover
        self._metrics = metrics
        self._clock = clock

    async def first(
        self, job: VideoJob, candidates: list[Candidate], *, wait_until: float
    ) -> tuple[UpstreamJob, Candidate, tuple[Attempt, ...]]:
        """A create's submit: the accepted job, its candidate and every attempt; else the error for the client (a
        single provider's own, or 503 naming every attempt)."""
        attempts: list[Attempt] = []
        accepted = await self.try_candidates(job, candidates, attempts, wait_until=wait_until)
        if isinstance(accepted, tuple):
            return (*accepted, tuple(attempts))
        failure = _submit_failure(accepted, attempts, failed_over=accepted is not None and self.fails_over(accepted))
        if isinstance(failure, NoProviderAvailable):
            self._metrics.refused(failure.code)
        raise failure

    async def try_candidates(
        self, job: VideoJob, candidates: list[Candidate], attempts: list[Attempt], *, wait_until: float | None = None
    ) -> tuple[UpstreamJob, Candidate] | UpstreamError | None:
        """Submit to each candidate in turn until one accepts, recording each attempt; fail over only on classes
        that allow it. The accepted job and its candidate, else the last error (None if no call was made).
        `wait_until`: the last candidate may wait, until then, for its window or a 429's Retry-After."""
        deadline = self._clock() + self._failover.deadline_s
        last: UpstreamError | None = None
        for index, candidate in enumerate(candidates):
            later = candidates[index + 1 :]
            outcome = await self._try_provider(
                job,
                candidate,
                attempts,
                deadline=deadline,
                wait_until=None if later else wait_until,
                # Another provider could take it: leave the units this one keeps for requests only it can serve.
                spare_reserve=any(c.provider != candidate.provider for c in later),
            )
            if isinstance(outcome, UpstreamJob):
                return outcome, candidate
            if outcome is not None:  # None: refused by the gate, no call was made
                last = outcome
                if not self.fails_over(last) or self._clock() >= deadline:
                    return last
            if later:
                self._metrics.failed_over(candidate.provider, attempts[-1].error_code or "other")
        return last

    async def _try_provider(
        self,
        job: VideoJob,
        candidate: Candidate,
        attempts: list[Attempt],
        *,
        deadline: float,
        wait_until: float | None,
        spare_reserve: bool,
    ) -> UpstreamJob | UpstreamError | None:
        """Submit to one provider; None if the gate refused it (recorded as a failed attempt, no call made).
        Resubmit there only after a reply saying it accepted nothing (a 502/503, a 429), so a timeout whose outcome
        is unknown is never resubmitted to the same one."""
        retries = 0
        while True:
            outcome = await self._submit_once(job, candidate, attempts, spare_reserve=spare_reserve)
            if isinstance(outcome, str):
                # Capacity ran out between the screen and now (another request took it): wait if it comes back
                # within `wait_until`, else record the refusal and move on.
                pause = await self._until_claimable(candidate, outcome, wait_until)
                if pause is not None and self._clock() + pause < deadline:
                    await asyncio.sleep(pause)
                    continue
                attempts.append(
                    Attempt(provider=candidate.provider, outcome="failed", error_code=outcome, at=self._clock())
                )
                return None
            if not isinstance(outcome, UpstreamError) or not self.fails_over(outcome):
                return outcome
            # A resubmit after a 429 is one more attempt, within the request's `max_attempts` like a failover.
            pause = self._pause_before_resubmit(
                outcome, retries, wait_until if len(attempts) < job.max_attempts else None
            )
            if pause is None or self._clock() + pause >= deadline:
                return outcome
            retries += 1
            await asyncio.sleep(pause)

    async def _until_claimable(self, candidate: Candidate, refusal: str, wait_until: float | None) -> float | None:
        """How long to wait before claiming again after the gate refused for headroom, or None not to."""
        if wait_until is None or refusal != "no_headroom":
            return None
        clears_in = await self._gate.clears_in(candidate)
        if clears_in is None or self._clock() + clears_in > wait_until:
            return None
        return clears_in + random.uniform(0.01, 0.05)

    def _pause_before_resubmit(self, exc: UpstreamError, retries: int, wait_until: float | None) -> float | None:
        """How long to wait before resubmitting to the provider that answered `exc`, or None not to: after a 502/503,
        the n-th of `same_provider_retries` waits n x backoff; after a 429 (with `wait_until`), its Retry-After."""
        if _accepted_nothing(exc) and retries < self._failover.same_provider_retries:
            return (retries + 1) * self._failover.same_provider_backoff_s
        if wait_until is not None and exc.error_class == ErrorClass.RATE_LIMITED and exc.retry_after_s is not None:
            pause = exc.retry_after_s + random.uniform(0.01, 0.05)
            return pause if self._clock() + pause <= wait_until else None
        return None

    async def _submit_once(
        self, job: VideoJob, candidate: Candidate, attempts: list[Attempt], *, spare_reserve: bool
    ) -> UpstreamJob | UpstreamError | str:
        """One submit: the accepted job or the provider's error (recorded in `attempts`), or the gate's refusal
        (no call made; the caller records it if it gives up)."""
        refusal = await self._gate.claim(candidate, job.id, spare_reserve=spare_reserve)
        if refusal is not None:
            return refusal
        try:
            accepted = await self._upstreams[candidate.provider].adapter.submit(candidate.request)
        except UpstreamError as exc:
            await self._gate.outcome(candidate.provider, job.id, exc)
            attempts.append(_failed_attempt(candidate, exc, self._clock()))
            log.info("upstream_submit_failed", job_id=job.id, provider=exc.provider, error_class=exc.error_class)
            self._metrics.upstream_error(candidate.provider, "generate", exc.error_class)
            return exc
        await self._gate.outcome(candidate.provider, job.id, None)
        attempts.append(Attempt(provider=candidate.provider, outcome="accepted", at=self._clock()))
        return accepted

    def fails_over(self, exc: UpstreamError) -> bool:
        """By error class only; content policy is the one class ops may switch on (`[failover] on_content_policy`)."""
        return exc.failover or (exc.error_class == ErrorClass.CONTENT_POLICY and self._failover.on_content_policy)


def _accepted_nothing(exc: UpstreamError) -> bool:
    """The provider answered (a status code) that it is unavailable: nothing was accepted, a resubmit is safe."""
    return exc.error_class == ErrorClass.UPSTREAM_UNAVAILABLE and exc.status_code is not None


def _failed_attempt(candidate: Candidate, exc: UpstreamError, now: float) -> Attempt:
    return Attempt(provider=candidate.provider, outcome="failed", error_code=exc.error_class.value, at=now)


def _submit_failure(last: UpstreamError | None, attempts: list[Attempt], *, failed_over: bool) -> GatewayError:
    """One attempt, or a last error that ends failover: that provider's error as is. Otherwise 503 naming every
    attempt and how it failed."""
    if last is not None and (len(attempts) == 1 or not failed_over):
        return from_upstream(last)
    tried = "; ".join(f"{a.provider}: {a.error_code}" for a in attempts)
    return NoProviderAvailable(f"every candidate failed ({tried})", code="all_attempts_failed")

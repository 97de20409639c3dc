"""What may be sent to a provider right now: circuit state and headroom, shared by every replica.

The one place the gateway asks about capacity. A store outage here fails open (logged): refusing every job
because the limiter is unreachable would turn a Redis hiccup into a full outage."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import msgspec
import structlog

from providers.contract import ErrorClass, Operation, UpstreamError
from routing.headroom.store import HeadroomUnavailable
from routing.headroom.tracker import Availability, Headroom, ReservedUnits
from routing.health.breakers import CircuitBreakers, CircuitState, HealthUnavailable
from routing.router import Candidate, Drop, Plan

log = structlog.get_logger("routing.gate")
T = TypeVar("T")
# Outcomes that say the provider is unwell; a refusal (4xx, 429, quota) says it is up and answering.
_UNHEALTHY = frozenset({ErrorClass.UPSTREAM_UNAVAILABLE, ErrorClass.TIMEOUT, ErrorClass.INTERNAL, ErrorClass.PROTOCOL})


class ProviderGate:
    def __init__(self, headroom: Headroom, breakers: CircuitBreakers) -> None:
        self.headroom = headroom
        self.breakers = breakers

    async def screen(self, plan: Plan, *, demand: bool = False) -> Plan:
        """Drop candidates whose circuit is open or whose account has no headroom, with the reason. `demand`: the
        plan is for a create (not an explain), so a plan only one provider can serve counts toward its reserve."""
        providers = {c.provider for c in plan.candidates}
        if demand and len(providers) == 1:
            await _fail_open(self.headroom.note_exclusive(providers.pop()), None)
        kept: list[Candidate] = []
        dropped = list(plan.dropped)
        # Asked together: on Redis the circuits' and the readings' reads then share one round trip (a pipeline).
        states, availabilities = await asyncio.gather(
            _fail_open(self.breakers.snapshots({c.provider for c in plan.candidates}), {}),
            asyncio.gather(*(_fail_open(self._availability(c), Availability()) for c in plan.candidates)),
        )
        for candidate, said in zip(plan.candidates, availabilities, strict=True):
            snapshot = states.get(candidate.provider)
            if snapshot is not None and snapshot.state == CircuitState.OPEN:
                # A half-open probe may fail: an open circuit has no time the provider is sure to take calls again.
                said = Availability(reasons=("circuit open after repeated failures", *said.reasons))
            if said.ok:
                kept.append(candidate)
                continue
            provider, reasons, clears_at = candidate.provider, said.reasons, said.clears_at
            dropped.append(Drop(model=candidate.model, provider=provider, reasons=reasons, clears_at=clears_at))
        kept = await self._hold_back(kept)
        return msgspec.structs.replace(plan, candidates=tuple(kept), dropped=tuple(dropped))

    def _availability(self, candidate: Candidate) -> Awaitable[Availability]:
        scopes = (Operation.GENERATE, f"model:{candidate.request.upstream_model}")
        return self.headroom.availability(candidate.provider, scopes=scopes)

    async def _hold_back(self, kept: list[Candidate]) -> list[Candidate]:
        """Trunk reservation: each candidate carries the units its provider's reserve keeps (a claim that may go
        elsewhere leaves them); one whose provider is down to its reserve is marked to rank last, but only when
        another provider could serve the request (else the reserve is exactly what it is kept for)."""
        reserved = []
        for candidate in kept:
            scopes = (Operation.GENERATE, f"model:{candidate.request.upstream_model}")
            reserved.append(
                await _fail_open(self.headroom.reserved_units(candidate.provider, scopes=scopes), ReservedUnits())
            )
        marked = any(r.why is None for r in reserved)
        return [
            msgspec.structs.replace(c, reserve=r.units, held_back=r.why if marked else None) if r.units else c
            for c, r in zip(kept, reserved, strict=True)
        ]

    async def claim(self, candidate: Candidate, job_id: str, *, spare_reserve: bool = False) -> str | None:
        """Take what a submit to this candidate needs (a probe if half-open, a window unit, a slot); the
        refusal reason if any is missing, and nothing is taken then. `spare_reserve`: the request could go to another
        provider, so the units the candidate's reserve keeps are left ("reserve_kept" if that is all there is)."""
        provider = candidate.provider
        if not await _fail_open(self.breakers.allow(provider), True):
            return "circuit_open"
        scopes = (Operation.GENERATE, f"model:{candidate.request.upstream_model}")
        keeps = {scope: candidate.reserve.get(scope, 0) if spare_reserve else 0 for scope in scopes}
        refused = await _fail_open(self.headroom.take_each(provider, keeps), None)
        if refused is not None:
            return "reserve_kept" if keeps[refused] else "no_headroom"
        if not await _fail_open(self.headroom.acquire_slot(provider, job_id), True):
            return "no_concurrency_slot"
        return None

    async def clears_in(self, candidate: Candidate) -> float | None:
        """After a claim refused for headroom: seconds until the candidate's blocks lapse (0 if it has room again),
        None if that is not known (jobs in flight at the cap) or the headroom cannot be read."""
        scopes = (Operation.GENERATE, f"model:{candidate.request.upstream_model}")
        try:
            said = await self.headroom.availability(candidate.provider, scopes=scopes)
        except HeadroomUnavailable:
            return None
        if said.ok:
            return 0.0
        return None if said.clears_at is None else max(0.0, said.clears_at - self.headroom.now())

    async def outcome(self, provider: str, job_id: str, error: UpstreamError | None) -> None:
        """After a submit: feed the breaker; a refused or failed submit gives its slot back."""
        healthy = error is None or error.error_class not in _UNHEALTHY
        await _fail_open(self.breakers.record(provider, ok=healthy), CircuitState.CLOSED)
        if error is not None:
            await self.finished(provider, job_id)

    async def status_call(self, provider: str, job_id: str) -> bool:
        """Before a poll: a unit of the status window (the poller's calls count too), and the slot's lease kept."""
        await _fail_open(self.headroom.keep_slot(provider, job_id), None)
        return await _fail_open(self.headroom.try_take(provider, Operation.STATUS), True)

    async def in_flight(self, provider: str) -> int:
        """Accepted, unfinished jobs on this provider's account (the poller stretches its cadence by it); 0 when
        the count cannot be read, leaving the status window as the guard."""
        return await _fail_open(self.headroom.in_flight(provider), 0)

    async def finished(self, provider: str, job_id: str) -> None:
        await _fail_open(self.headroom.release_slot(provider, job_id), None)


async def _fail_open(call: Awaitable[T], fallback: T) -> T:
    try:
        return await call
    except (HeadroomUnavailable, HealthUnavailable) as exc:
        log.warning("capacity_check_unavailable", error=type(exc).__name__)
        return fallback

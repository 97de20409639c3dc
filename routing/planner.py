"""The planner the gateway asks: a request's plan under the ops rules for its team, model and metadata (the
router's filter), screened by the gate for circuits and headroom, ranked by the strategy; and, for a create,
the same after waiting out a block that lapses on its own. It submits nothing."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Mapping

import msgspec

from routing.gate import ProviderGate
from routing.ranking import Ranked, rank
from routing.router import Candidate, Plan, RouteQuery, Router
from routing.rules import Policy, RulesHolder, Strategy
from routing.speed.book import SpeedBook


class Planned(msgspec.Struct, frozen=True, kw_only=True):
    """A plan and its candidates best first; `waited_s`: how long a create waited for capacity before it (0 when
    it did not)."""

    plan: Plan
    ranked: list[Ranked]
    policy: Policy
    strategy: Strategy
    waited_s: float = 0.0

    def candidates(self, limit: int) -> list[Candidate]:
        return [r.candidate for r in self.ranked[:limit]]


class Planner:
    def __init__(
        self,
        *,
        router: Router,
        rules: RulesHolder,
        gate: ProviderGate,
        speeds: SpeedBook,
        clock: Callable[[], float],
    ) -> None:
        self.router = router
        self.rules = rules
        self.gate = gate
        self.speeds = speeds
        self._clock = clock

    async def plan(
        self,
        query: RouteQuery,
        *,
        team: str,
        metadata: Mapping[str, str],
        demand: bool = False,
        policy: Policy | None = None,
    ) -> Planned:
        """`demand`: for a create (counted toward a demand-aware reserve), not an explain. `policy`: the rules as
        resolved earlier (a create keeps the table it started with), else as they are now. Raises `UnknownModel`."""
        policy = policy or self.rules.resolve(team=team, model=query.model, metadata=metadata)
        plan = await self.gate.screen(self.router.plan(query, policy), demand=demand)
        strategy = query.strategy or policy.strategy
        ranked = rank(
            plan.candidates,
            strategy=strategy,
            expected_s=self.speeds.expected_s,
            order=policy.order,
            weights=(policy.weights.cost, policy.weights.speed),
        )
        return Planned(plan=plan, ranked=ranked, policy=policy, strategy=strategy)

    async def plan_or_wait(
        self, query: RouteQuery, *, team: str, metadata: Mapping[str, str], wait_until: float
    ) -> Planned:
        """`plan` for a create. While no candidate is left but a dropped one is blocked only by what lapses on its
        own by `wait_until` (a 429 cooldown, a full window), wait and plan again: a request a provider can take a
        moment later is served, not refused."""
        started = self._clock()
        # Resolved once: the rules may change while the create waits, and it finishes under those it started with.
        policy = self.rules.resolve(team=team, model=query.model, metadata=metadata)
        planned = await self.plan(query, team=team, metadata=metadata, demand=True, policy=policy)
        waited = False
        while not planned.ranked:
            clears_at = min((d.clears_at for d in planned.plan.dropped if d.clears_at is not None), default=math.inf)
            if clears_at > wait_until:
                break
            # Just past the moment (its window frees a unit then), spread so waiters do not all land at once.
            await asyncio.sleep(max(0.0, clears_at - self._clock()) + random.uniform(0.01, 0.05))
            waited = True
            planned = await self.plan(query, team=team, metadata=metadata, policy=policy)
        if waited:
            planned = msgspec.structs.replace(planned, waited_s=self._clock() - started)
        return planned

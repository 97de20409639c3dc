"""The cheapest feasible assignment for bench/routing_sim.py: requests in arrival order, the offerings able to
serve each (provider, price), the moving windows the run configures and the times a provider said it had no
capacity; returns the most requests that can be served and, among those assignments, the least total cost.

Exact when every request has at most one offering under a window (checked): each window is then an independent
max-weight interval packing, solved as a min-cost flow (Carlisle & Lloyd, "On the k-coloring of intervals", 1995).
Calls that failed (a 503) still took a unit of the window they were made under: pass them as `spent`."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_MUST = 10**12  # weight of a request with no alternative: serving one beats any saving
_SPENT = 10**18  # weight of a unit a failed call took: it happened, so it is always in


@dataclass(frozen=True)
class Offer:
    provider: str
    model: str  # the canonical model (a window may be per model)
    cost_micros: int


@dataclass(frozen=True)
class Arrival:
    index: int
    at_s: float
    offers: tuple[Offer, ...]


@dataclass(frozen=True)
class Window:
    """At most `limit` submits in any `per_s` (moving) to `provider`, or to its `model` only when set."""

    provider: str
    limit: int
    per_s: float
    model: str | None = None

    def covers(self, offer: Offer) -> bool:
        return offer.provider == self.provider and self.model in (None, offer.model)


@dataclass(frozen=True)
class Outage:
    """`provider` takes no submits in [start_s, end_s) (it answered 429 with a Retry-After)."""

    provider: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Spent:
    """A unit of `provider`'s windows taken at `at_s` by a call that served no request (it failed)."""

    provider: str
    model: str
    at_s: float


@dataclass
class Assignment:
    provider_of: dict[int, str] = field(default_factory=dict)
    cost_micros: int = 0
    unservable: set[int] = field(default_factory=set)


def cheapest_feasible(
    arrivals: Sequence[Arrival],
    windows: Sequence[Window],
    outages: Iterable[Outage] = (),
    spent: Iterable[Spent] = (),
) -> Assignment:
    """Serve as many arrivals as capacity allows, then at the least cost. Raises ValueError when an arrival has
    two offerings under windows (the decomposition would not be exact)."""
    down = list(outages)
    open_offers = {a.index: [o for o in a.offers if not _down(o.provider, a.at_s, down)] for a in arrivals}
    at = {a.index: a.at_s for a in arrivals}
    free: dict[int, Offer | None] = {}
    bound: dict[Window, list[tuple[int, Offer]]] = {w: [] for w in windows}
    for index, offers in open_offers.items():
        limited = [(w, o) for o in offers for w in windows if w.covers(o)]
        if len({o for _, o in limited}) > 1 or len(limited) > len({o for _, o in limited}):
            raise ValueError(f"arrival {index}: more than one windowed offering; the packing would not be exact")
        unlimited = [o for o in offers if all(not w.covers(o) for w in windows)]
        free[index] = min(unlimited, key=lambda o: o.cost_micros, default=None)
        for w, o in limited:
            bound[w].append((index, o))
    chosen: dict[int, Offer] = {}
    taken = list(spent)
    for window, members in bound.items():
        intervals = [(at[i], at[i] + window.per_s, _weight(o, free[i])) for i, o in members]
        used = [u.at_s for u in taken if window.covers(Offer(u.provider, u.model, 0))]
        picked = pack([*intervals, *((t, t + window.per_s, _SPENT) for t in used)], window.limit)
        picked = {k for k in picked if k < len(intervals)}
        chosen.update((members[k][0], members[k][1]) for k in picked)
    result = Assignment()
    for index in open_offers:
        offer = chosen.get(index) or free[index]
        if offer is None:
            result.unservable.add(index)
            continue
        result.provider_of[index] = offer.provider
        result.cost_micros += offer.cost_micros
    return result


def _down(provider: str, at_s: float, outages: list[Outage]) -> bool:
    return any(o.provider == provider and o.start_s <= at_s < o.end_s for o in outages)


def _weight(offer: Offer, alternative: Offer | None) -> int:
    """What taking the windowed offering is worth: everything if there is no alternative, else the saving."""
    if alternative is None:
        return _MUST
    return max(0, alternative.cost_micros - offer.cost_micros)


def pack(intervals: Sequence[tuple[float, float, int]], limit: int) -> set[int]:
    """The max-weight subset of half-open intervals [start, end) that overlap at most `limit` deep anywhere.

    Min-cost flow of `limit` units along a chain of the sorted endpoints (capacity `limit`, cost 0), with one
    arc per interval from its start to its end (capacity 1, cost -weight); the intervals whose arc carries flow."""
    useful = [k for k, (_, _, weight) in enumerate(intervals) if weight > 0]
    if not useful or limit <= 0:
        return set()
    points = sorted({x for k in useful for x in intervals[k][:2]})
    node = {x: n for n, x in enumerate(points)}
    graph = _FlowGraph(len(points))
    for n in range(len(points) - 1):
        graph.add(n, n + 1, limit, 0)
    arcs = {k: graph.add(node[intervals[k][0]], node[intervals[k][1]], 1, -intervals[k][2]) for k in useful}
    graph.min_cost_flow(0, len(points) - 1, limit)
    return {k for k, arc in arcs.items() if graph.flow(arc) == 1}


class _FlowGraph:
    """Successive shortest paths (SPFA, negative arc costs allowed; the residual graph has no negative cycle)."""

    def __init__(self, nodes: int) -> None:
        self._out: list[list[int]] = [[] for _ in range(nodes)]
        self._to: list[int] = []
        self._cap: list[int] = []
        self._cost: list[int] = []

    def add(self, tail: int, head: int, capacity: int, cost: int) -> int:
        arc = len(self._to)
        for frm, to, cap, c in ((tail, head, capacity, cost), (head, tail, 0, -cost)):
            self._out[frm].append(len(self._to))
            self._to.append(to)
            self._cap.append(cap)
            self._cost.append(c)
        return arc

    def flow(self, arc: int) -> int:
        return self._cap[arc ^ 1]

    def min_cost_flow(self, source: int, sink: int, amount: int) -> None:
        while amount > 0:
            parent = self._shortest_path_tree(source)
            if parent[sink] < 0:
                return
            push, node = amount, sink
            while node != source:
                push, node = min(push, self._cap[parent[node]]), self._to[parent[node] ^ 1]
            node = sink
            while node != source:
                self._cap[parent[node]] -= push
                self._cap[parent[node] ^ 1] += push
                node = self._to[parent[node] ^ 1]
            amount -= push

    def _shortest_path_tree(self, source: int) -> list[int]:
        distance = [math.inf] * len(self._out)
        parent, queued = [-1] * len(self._out), [False] * len(self._out)
        distance[source], queue = 0, deque([source])
        while queue:
            node = queue.popleft()
            queued[node] = False
            for arc in self._out[node]:
                to = self._to[arc]
                if self._cap[arc] > 0 and distance[node] + self._cost[arc] < distance[to]:
                    distance[to], parent[to] = distance[node] + self._cost[arc], arc
                    if not queued[to]:
                        queued[to] = True
                        queue.append(to)
        return parent

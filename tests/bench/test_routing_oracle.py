"""The routing benchmark's cheapest feasible assignment: interval packing against brute force, where greedy fails,
requests with no alternative before savings, outages, and the refusal of cases it cannot solve exactly."""

from __future__ import annotations

import itertools
import random

import pytest

from bench.routing.oracle import Arrival, Offer, Outage, Spent, Window, cheapest_feasible, pack
from bench.routing.report import peak


def brute_force(intervals: list[tuple[float, float, int]], limit: int) -> int:
    best = 0
    for size in range(len(intervals) + 1):
        for subset in itertools.combinations(range(len(intervals)), size):
            starts = [intervals[k][0] for k in subset]
            if all(sum(intervals[k][0] <= x < intervals[k][1] for k in subset) <= limit for x in starts):
                best = max(best, sum(intervals[k][2] for k in subset))
    return best


def test_packing_beats_greedy_where_greedy_is_wrong() -> None:
    """Window 1 s, one submit: 0.0 and 1.2 (worth 2 together) beat 0.6 alone (worth 1.5), which greedy keeps."""
    chosen = pack([(0.0, 1.0, 10), (0.6, 1.6, 15), (1.2, 2.2, 10)], limit=1)
    assert chosen == {0, 2}


@pytest.mark.parametrize("seed", range(25))
def test_packing_is_optimal_on_random_small_cases(seed: int) -> None:
    """Random arrivals, windows and weights: the packing's weight equals brute force's and respects the limit."""
    rng = random.Random(seed)
    per_s, limit = rng.choice([1.0, 2.5]), rng.randint(1, 3)
    starts = sorted(round(rng.uniform(0, 6), 1) for _ in range(rng.randint(1, 9)))
    intervals = [(s, s + per_s, rng.randint(1, 20)) for s in starts]
    chosen = pack(intervals, limit)
    assert all(sum(intervals[k][0] <= intervals[j][0] < intervals[k][1] for k in chosen) <= limit for j in chosen)
    assert sum(intervals[k][2] for k in chosen) == brute_force(intervals, limit)


def test_requests_with_no_alternative_are_served_before_any_saving() -> None:
    """Two requests in one window of 1: the one only NanoGPT serves gets it; the other pays videogenapi's price."""
    arrivals = [
        Arrival(index=0, at_s=0.0, offers=(Offer("nanogpt", "m", 100), Offer("videogenapi", "m", 900))),
        Arrival(index=1, at_s=0.5, offers=(Offer("nanogpt", "m", 400),)),
    ]
    result = cheapest_feasible(arrivals, [Window("nanogpt", limit=1, per_s=60)])
    assert result.provider_of == {0: "videogenapi", 1: "nanogpt"}
    assert (result.cost_micros, result.unservable) == (1300, set())


def test_an_outage_makes_a_single_provider_request_unservable() -> None:
    """During a 429 cooldown the NanoGPT-only request cannot be served; the shared one goes elsewhere."""
    arrivals = [
        Arrival(index=0, at_s=5.0, offers=(Offer("nanogpt", "m", 100),)),
        Arrival(index=1, at_s=6.0, offers=(Offer("nanogpt", "m", 100), Offer("videogenapi", "m", 900))),
        Arrival(index=2, at_s=70.0, offers=(Offer("nanogpt", "m", 100),)),
    ]
    result = cheapest_feasible(arrivals, [], [Outage("nanogpt", start_s=4.0, end_s=64.0)])
    assert result.unservable == {0}
    assert result.provider_of == {1: "videogenapi", 2: "nanogpt"}


def test_a_unit_taken_by_a_failed_call_is_not_available_to_requests() -> None:
    """Window 1 per minute, spent by a failed call at 0 s: the NanoGPT-only request at 10 s cannot be served, the
    shared one pays videogenapi; at 61 s the window has room again."""
    arrivals = [
        Arrival(index=0, at_s=10.0, offers=(Offer("nanogpt", "m", 100),)),
        Arrival(index=1, at_s=20.0, offers=(Offer("nanogpt", "m", 100), Offer("videogenapi", "m", 900))),
        Arrival(index=2, at_s=61.0, offers=(Offer("nanogpt", "m", 100),)),
    ]
    result = cheapest_feasible(arrivals, [Window("nanogpt", limit=1, per_s=60)], spent=[Spent("nanogpt", "m", 0.0)])
    assert (result.unservable, result.provider_of) == ({0}, {1: "videogenapi", 2: "nanogpt"})


def test_a_request_with_two_windowed_offerings_is_refused() -> None:
    """Two windowed offerings on one request would couple the windows: the oracle says so instead of guessing."""
    arrivals = [Arrival(index=0, at_s=0.0, offers=(Offer("nanogpt", "m", 1), Offer("videogenapi", "m", 2)))]
    windows = [Window("nanogpt", limit=1, per_s=60), Window("videogenapi", limit=1, per_s=60)]
    with pytest.raises(ValueError, match="more than one windowed offering"):
        cheapest_feasible(arrivals, windows)


def test_peak_counts_the_most_arrivals_in_any_half_open_window() -> None:
    """[t, t + per_s): arrivals exactly per_s apart never share a window; the densest stretch wins."""
    assert peak([], 60) == 0
    assert peak([0, 60, 120], 60) == 1
    assert peak([0, 10, 59.9, 61, 62, 200], 60) == 4
    rng = random.Random(3)
    times = [rng.uniform(0, 600) for _ in range(80)]
    assert peak(times, 60) == max(sum(t <= x < t + 60 for x in times) for t in times)

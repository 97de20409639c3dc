"""The Markdown section bench/routing_sim.py prints: per arm success (all requests, and those capacity could
serve), client 429s, cost against the cheapest feasible assignment, time to video, and the target verdicts."""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from typing import Any

from bench.routing.oracle import Arrival, Offer, Window, cheapest_feasible
from bench.routing.workload import Capacity, Fault, Job, Shapes
from bench.status_poll import machine


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def summarize(outcome: dict[str, Any], verdict: dict[str, Any], workload: list[Job]) -> dict[str, Any]:
    jobs = outcome["jobs"]
    done = [r for r in jobs if r.get("status") == "completed"]
    servable = [j.index for j in workload if j.index not in verdict["unservable"]]
    servable_done = sum(1 for i in servable if i in verdict["completed"])
    http = Counter(r.get("http") for r in jobs)
    cost = sum(r["cost_micros"] for r in done)
    least = verdict["least_cost_micros"]
    ttv = [r["ttv_s"] for r in done]
    return {
        "arm": outcome["arm"],
        "submitted": len(jobs),
        "completed": len(done),
        "success": len(done) / len(jobs) if jobs else 0.0,
        "servable": len(servable),
        "servable_done": servable_done,
        "servable_success": servable_done / len(servable) if servable else 0.0,
        "http429": http.get(429, 0),
        "http503": http.get(503, 0),
        "other_rejects": sum(n for code, n in http.items() if code not in (202, 429, 503)),
        "failed_after_accept": sum(1 for r in jobs if r.get("status") in ("failed", "cancelled", "timeout")),
        "cost": cost / 1_000_000,
        "least": least / 1_000_000,
        "regret": (cost - least) / least if least else 0.0,
        "p50": pct(ttv, 50),
        "p95": pct(ttv, 95),
        "wall_s": outcome["wall_s"],
        "providers": Counter(r.get("provider") for r in done),
        "stats": outcome["stats"],
        "outages": len(outcome["outages"]),
        "errors": Counter(r.get("error") for r in jobs if r.get("status") != "completed"),
        "oracle_nanogpt_spend_usd": verdict["oracle_nanogpt_spend_usd"],
    }


def report(
    results: list[tuple[dict[str, Any], dict[str, Any]]],
    workload: list[Job],
    shapes: Shapes,
    faults: list[Fault],
    args: argparse.Namespace,
    *,
    dropped: int,
    windows: list[Window],
) -> str:
    capacity: Capacity = args.capacity
    rows = [summarize(outcome, verdict, workload) for outcome, verdict in results]
    mix = Counter(j.model for j in workload)
    multi = sum(1 for j in workload if len({p for p, _, _ in shapes[j.shape]}) > 1)
    lines = [
        f"### routing_sim - {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: `.venv/bin/python bench/routing_sim.py --seed {args.seed} --jobs {args.jobs}"
        f" --time-scale {capacity.time_scale:g} --nanogpt-per-min {capacity.nanogpt_per_min}"
        f" --nanogpt-reserve {capacity.nanogpt_reserve}"
        + (f" --nanogpt-reserve-margin {capacity.nanogpt_reserve_margin}" if capacity.nanogpt_reserve == "auto" else "")
        + f" --veo-per-min {capacity.veo_per_min} --veo-reserve {capacity.veo_reserve}"
        + f" --videogenapi-sora-per-hour {capacity.videogenapi_sora_per_hour}"
        + ("" if len(args.arms) == 3 else f" --arms {' '.join(args.arms)}")
        + f" --same-provider-retries {capacity.same_provider_retries} --capacity-wait {capacity.capacity_wait_s:g}`."
        f" One process, one event loop: the emulators of {', '.join(sorted(rows[0]['stats']))} and the gateway"
        " (Redis store) on loopback; each arm on fresh emulators and a fresh Redis prefix.",
        "",
        f"Workload: {len(workload)} requests over {workload[-1].at_s / 60:.1f} provider minutes ({dropped} generated "
        f"shapes had no capable offering and were not sent), teams {sorted({j.team for j in workload})}, "
        f"{sum(j.mode == 'i2v' for j in workload)} i2v, {multi} servable by two providers; models: "
        + ", ".join(f"{m} {n}" for m, n in sorted(mix.items()))
        + f". Capacity and faults: {capacity.describe()}; fault plan: {plan_text(faults)}.",
        "",
        load_line(workload, shapes, windows),
        "",
        "Capacity sufficed = the cheapest feasible assignment (bench/routing/oracle.py: exact hindsight min-cost "
        "packing under the configured windows, less the units that arm's failed calls took, and the cooldowns "
        "NanoGPT announced in that arm; without, for each request, the providers that refused it in that arm: a 429 "
        "it met, or injected 5xx on every attempt there of a create refused in the end) can serve the request. "
        "Cheapest $ = that assignment's cost for the requests "
        "the arm completed. Cost = sum of `usage.cost_usd`. Time to video (provider s) = create sent -> client poll "
        "sees `completed`.",
        "",
        "| arm | success | success, capacity sufficed | client 429s | 503s | other rejects | failed after accept "
        "| cost $ | cheapest $ | regret | p50 s | p95 s | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arm']} | {r['completed']}/{r['submitted']} = {r['success']:.1%} | "
            f"{r['servable_done']}/{r['servable']} = {r['servable_success']:.1%} | {r['http429']} | {r['http503']} | "
            f"{r['other_rejects']} | {r['failed_after_accept']} | {r['cost']:.2f} | {r['least']:.2f} | "
            f"{r['regret']:.1%} | {r['p50']:.1f} | {r['p95']:.1f} | {r['wall_s']:.1f} |"
        )
    lines += ["", *detail_lines(rows), *miss_lines(results[0], workload, shapes), "", *verdict_lines(rows[0])]
    return "\n".join(lines) + "\n"


def load_line(workload: list[Job], shapes: Shapes, windows: list[Window]) -> str:
    """The offered load on each configured window (requests only it can serve, and those another offering could
    also serve; the most in any one window length) and how many requests the windows alone could not serve in
    hindsight, with no faults: whether total capacity suffices for the workload as offered."""
    parts = []
    for w in windows:
        only: list[float] = []
        shared: list[float] = []
        for job in workload:
            offers = [Offer(*o) for o in shapes[job.shape]]
            if any(w.covers(o) for o in offers):
                (only if all(w.covers(o) for o in offers) else shared).append(job.at_s)
        parts.append(
            f"{w.provider}{'' if w.model is None else ' ' + w.model} window {w.limit}/{w.per_s:g}s: {len(only)} "
            f"requests only it can serve (at most {peak(only, w.per_s)} in any {w.per_s:g} s) and {len(shared)} "
            f"another offering can also serve (at most {peak(only + shared, w.per_s)} of both in any {w.per_s:g} s)"
        )
    arrivals = [Arrival(j.index, j.at_s, tuple(Offer(*o) for o in shapes[j.shape])) for j in workload]
    short = len(cheapest_feasible(arrivals, windows).unservable)
    return (
        f"Offered load: {'; '.join(parts)}. With no faults, the windows alone leave {short} of {len(workload)} "
        f"requests unservable in hindsight ({'capacity suffices' if short == 0 else 'capacity does NOT suffice'})."
    )


def peak(times: list[float], per_s: float) -> int:
    """The most of `times` in any half-open interval of `per_s` seconds."""
    ordered, most, start = sorted(times), 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - per_s:
            start += 1
        most = max(most, end - start + 1)
    return most


def plan_text(faults: list[Fault]) -> str:
    planned = Counter((f.provider, f.status_code) for f in faults)
    return ", ".join(f"{provider} {code} x{n}" for (provider, code), n in sorted(planned.items()))


def detail_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        served = ", ".join(f"{p} {n}" for p, n in sorted(r["providers"].items(), key=str))
        calls = ", ".join(f"{p} {s['generate']}" for p, s in sorted(r["stats"].items()))
        taken = Counter((p, t["status_code"]) for p, s in r["stats"].items() for t in s["faults_taken"])
        faults = ", ".join(f"{p} {code} x{n}" for (p, code), n in sorted(taken.items())) or "none"
        errors = ", ".join(f"{e} {n}" for e, n in r["errors"].most_common()) or "none"
        out.append(
            f"- {r['arm']}: completed by {served}; upstream generate calls {calls}; faults met {faults}; "
            f"not completed: {errors}; oracle's NanoGPT spend ${r['oracle_nanogpt_spend_usd']:.2f}."
        )
    return out


def miss_lines(result: tuple[dict[str, Any], dict[str, Any]], workload: list[Job], shapes: Shapes) -> list[str]:
    """The first arm's requests capacity could serve that it did not complete, each with what could serve it."""
    outcome, verdict = result
    missed = [
        f"#{j.index} at {j.at_s:.0f} s {j.model} {j.mode} {j.seconds} s (capable: "
        f"{', '.join(sorted({p for p, _, _ in shapes[j.shape]}))}): {r.get('status')} {r.get('error')}"
        + (f" ({r['message'][:200]})" if r.get("message") else "")
        for j, r in zip(workload, outcome["jobs"], strict=True)
        if j.index not in verdict["unservable"] and j.index not in verdict["completed"]
    ]
    lost = [
        f"#{j.index} {j.model} (capable: {', '.join(sorted({p for p, _, _ in shapes[j.shape]}))}; 5xx from "
        f"{', '.join(r['met_5xx'])})"
        for j, r in zip(workload, outcome["jobs"], strict=True)
        if r.get("status") == "rejected" and r.get("met_5xx")
    ]
    return [
        f"- {outcome['arm']} missed where capacity sufficed: {'; '.join(missed) or 'none'}.",
        f"- {outcome['arm']} refused after injected 5xx answered every attempt at a provider (that provider is not "
        f"counted as able to serve the request, as for a 429): {'; '.join(lost) or 'none'}.",
    ]


def verdict_lines(router: dict[str, Any]) -> list[str]:
    word = {True: "met", False: "NOT met"}
    success_ok = router["servable_success"] >= 0.999
    regret_ok = router["regret"] <= 0.02
    no429 = router["http429"] == 0
    return [
        f"Targets (router arm): success >= 99.9% whenever capacity sufficed: {word[success_ok]} "
        f"({router['servable_success']:.2%}; {router['success']:.2%} of all requests); cost regret <= 2%: "
        f"{word[regret_ok]} ({router['regret']:.1%}); zero client-visible 429s: {word[no429]} ({router['http429']}).",
    ]

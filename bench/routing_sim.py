"""Routing simulation: a seeded open-loop workload (Poisson arrivals; mixed models, t2v/i2v, seconds, teams) through
the gateway against the emulator of every provider the example catalogue configures (sandbox/registry.py), with
configured windows, quotas and a seeded fault plan, for three arms, each on fresh emulators and a fresh Redis prefix:

  router       our gateway as configured (default strategy `cheapest`, failover on)
  single       every request pinned to the first catalogue offering able to serve it, no fallbacks
  round-robin  requests of a model rotated over the offerings able to serve it, no fallbacks

    .venv/bin/python bench/routing_sim.py [--seed 7] [--jobs 300] [--no-write]

Provider time runs `time_scale` times the wall clock (emulator jobs, windows and Retry-After; the gateway's
configured windows and poll cadence); times in the report are provider seconds. The cheapest feasible assignment
(bench/routing/oracle.py) respects the configured windows (NanoGPT's, Veo's per model, videogenapi's sora-2; less
the units failed calls took) and the cooldowns NanoGPT announced with its 429s; the requests it cannot serve either
are those for which capacity did not suffice. Prints a Markdown section and appends it to bench/RESULTS.md
(--no-write to skip). In-process: emulators and gateway share one event loop on loopback."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import sys
import time
from collections import defaultdict
from typing import Any

import httpx

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from bench.routing.oracle import Arrival, Offer, Outage, Spent, Window, cheapest_feasible
from bench.routing.report import report
from bench.routing.workload import (
    ADMIN_TEAM,
    NANOGPT_EMULATOR_PER_MIN,
    ROOT,
    VEO_EMULATOR_PER_MIN,
    Capacity,
    Fault,
    Job,
    Shapes,
    arm_fault,
    emulator_stats,
    emulators,
    fault_plan,
    gateway,
    gateway_settings,
    keys,
    load_settings,
    make_workload,
    probe,
    veo_models,
)
from bench.status_poll import write_results
from gateway.config import Settings
from sandbox.registry import EMULATORS

ARMS = ("router", "single", "round-robin")
TERMINAL = ("completed", "failed", "cancelled")
RETRY_AFTER_429_S = 60.0  # what the NanoGPT emulator's forced 429 announces, in provider seconds


def arm_bodies(arm: str, workload: list[Job], shapes: Shapes, catalogue_order: dict[str, list[str]]) -> None:
    """Set each job's create body for the arm: the router arm sends the body as is; baselines pin one provider."""
    turns: dict[str, itertools.count[int]] = defaultdict(itertools.count)
    for job in workload:
        capable = {p for p, _, _ in shapes[job.shape]}
        ordered = [p for p in catalogue_order[job.model] if p in capable]
        body = {k: v for k, v in job.body.items() if k != "routing"}
        if arm == "single" and ordered:
            body["routing"] = {"providers": [ordered[0]], "allow_fallbacks": False}
        elif arm == "round-robin" and ordered:
            body["routing"] = {"providers": [ordered[next(turns[job.model]) % len(ordered)]], "allow_fallbacks": False}
        job.body = body
        job.result = {}


async def follow(ctx: dict[str, Any], job: Job, headers: dict[str, str], sent: float) -> None:
    """Poll the gateway (as a client would, once a provider second) until the job is terminal or the bound passes."""
    capacity: Capacity = ctx["capacity"]
    video_id = job.result["id"]
    while time.monotonic() - sent < capacity.real(ctx["bound_s"]):
        reply = await ctx["client"].get(f"/v1/videos/{video_id}", headers=headers)
        if reply.status_code == 200 and reply.json()["status"] in TERMINAL:
            video = reply.json()
            job.result.update(status=video["status"], provider=video.get("provider"))
            job.result["cost_micros"] = round(((video.get("usage") or {}).get("cost_usd") or 0.0) * 1_000_000)
            job.result["ttv_s"] = (time.monotonic() - sent) / capacity.time_scale
            job.result["error"] = (video.get("error") or {}).get("code")
            return
        await asyncio.sleep(capacity.real(1.0))
    job.result["status"] = "timeout"


async def run_job(ctx: dict[str, Any], job: Job) -> None:
    capacity: Capacity = ctx["capacity"]
    await asyncio.sleep(max(0.0, ctx["t0"] + capacity.real(job.at_s) - time.monotonic()))
    headers = {"Authorization": f"Bearer {ctx['keys'][job.team]}"}
    sent = time.monotonic()
    job.result["sent_s"] = (sent - ctx["t0"]) / capacity.time_scale
    try:
        reply = await ctx["client"].post("/v1/videos", json=job.body, headers=headers)
    except httpx.TimeoutException:
        # No answer within the client's timeout: a failure the client sees, recorded rather than ending the run.
        job.result.update(status="no_reply", error="create_timed_out", http=None)
        return
    job.result["http"] = reply.status_code
    if reply.status_code >= 300:
        error = reply.json().get("error") or {}
        job.result.update(status="rejected", error=error.get("code"), message=error.get("message"))
        job.result["met_429"] = met_429(error)
        job.result["met_5xx"] = met_5xx(error)
        job.result["gate_refused"] = gate_refused(error)
        return
    job.result["id"] = reply.json()["id"]
    attempts = reply.json()["routing"]["attempts"]
    job.result["met_429"] = [a["provider"] for a in attempts if a["error_code"] == "rate_limited"]
    job.result["met_5xx"] = [a["provider"] for a in attempts if a["error_code"] == "upstream_unavailable"]
    await follow(ctx, job, headers, sent)


def met_429(error: dict[str, Any]) -> list[str]:
    """The providers whose 429 a refused create met: the one named, those listed as `provider: rate_limited`, or
    those a plan after it dropped as cooling down after a 429 (the request that consumed a 429 and was then
    replanned is refused as `no_provider_available`, naming the cooldown)."""
    if error.get("code") == "rate_limited" and error.get("provider"):
        return [error["provider"]]
    message = error.get("message") or ""
    return [
        p
        for p in EMULATORS
        if f"{p}: rate_limited" in message or re.search(rf"\b{p}: cooling down [0-9.]+ s after a 429", message)
    ]


def met_5xx(error: dict[str, Any]) -> list[str]:
    """The providers whose 5xx a refused create met (a call was made): the one named, or those listed as
    `provider: upstream_unavailable`."""
    if error.get("code") == "upstream_unavailable" and error.get("provider"):
        return [error["provider"]]
    message = error.get("message") or ""
    return [p for p in EMULATORS for _ in range(message.count(f"{p}: upstream_unavailable"))]


GATE_REFUSALS = ("no_headroom", "reserve_kept", "circuit_open", "no_concurrency_slot")


def gate_refused(error: dict[str, Any]) -> list[str]:
    """The providers the gateway's own gate refused an attempt of a refused create (`provider: no_headroom`, ...):
    capacity, which the oracle weighs itself, stopped an attempt there, not a fault."""
    message = error.get("message") or ""
    return [p for p in EMULATORS if any(f"{p}: {code}" in message for code in GATE_REFUSALS)]


async def inject(ctx: dict[str, Any], faults: list[Fault]) -> None:
    """Arm each fault at its time; the emulator's next generate call consumes it (and logs when)."""
    capacity: Capacity = ctx["capacity"]
    for fault in faults:
        await asyncio.sleep(max(0.0, ctx["t0"] + capacity.real(fault.at_s) - time.monotonic()))
        await arm_fault(ctx["control"], ctx["urls"][fault.provider], fault.status_code)


async def run_arm(arm: str, workload: list[Job], faults: list[Fault], args: argparse.Namespace) -> dict[str, Any]:
    capacity: Capacity = args.capacity
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    by_team, keyring = keys()
    async with (
        emulators(settings, capacity) as urls,
        gateway(gateway_settings(urls, capacity), keyring) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        httpx.AsyncClient(timeout=10) as control,
    ):
        ctx = {"keys": by_team, "client": client, "urls": urls, "control": control, "capacity": capacity}
        ctx |= {"bound_s": args.bound, "t0": time.monotonic() + 0.5}
        await asyncio.gather(inject(ctx, faults), *(run_job(ctx, job) for job in workload))
        wall_s = time.monotonic() - ctx["t0"]
        stats = await emulator_stats(control, urls)
    outages = [
        Outage("nanogpt", start_s=at_s, end_s=at_s + RETRY_AFTER_429_S)
        for at_s, code in _taken(stats["nanogpt"], ctx["t0"], capacity)
        if code == 429
    ]
    # Every NanoGPT or Veo call a fault answered took a unit of the gateway's window (it counts claims).
    spent = [Spent("nanogpt", "*", at_s) for at_s, _ in _taken(stats["nanogpt"], ctx["t0"], capacity)]
    spent += [
        Spent("veo", _model_at(workload, "veo", at_s), at_s) for at_s, _ in _taken(stats["veo"], ctx["t0"], capacity)
    ]
    jobs = [dict(j.result) for j in workload]
    return {"arm": arm, "wall_s": wall_s, "stats": stats, "outages": outages, "spent": spent, "jobs": jobs}


def _model_at(workload: list[Job], provider: str, at_s: float) -> str:
    """The model of the call a fault of `provider` answered at `at_s` (its windows are per model): that of the
    request last sent before it among those that met a 5xx there."""
    met = [j for j in workload if provider in j.result.get("met_5xx", ()) and j.result.get("sent_s", 0.0) <= at_s]
    if not met:  # its create got no reply (`no_reply`): the unit is left out, the oracle a little optimistic
        return "*"
    return max(met, key=lambda j: j.result["sent_s"]).model


def _taken(stats: dict[str, Any], t0: float, capacity: Capacity) -> list[tuple[float, int]]:
    """(provider seconds since the start, status) of each fault switch the emulator served."""
    return [((t["at"] - t0) / capacity.time_scale, t["status_code"]) for t in stats["faults_taken"]]


def oracle_windows(capacity: Capacity, settings: Settings) -> list[Window]:
    """The windows that bind an assignment, in provider seconds. NanoGPT's own 50/min and Veo's 10/min per model are
    implied by the gateway's windows of the same length, no looser; videogenapi's monthly allowance is far from reached
    in one run; fal limits concurrency only (it queues, never refuses), which costs time, not capacity."""
    if capacity.nanogpt_per_min > NANOGPT_EMULATOR_PER_MIN or capacity.veo_per_min > VEO_EMULATOR_PER_MIN:
        raise ValueError("the gateway's windows must be the binding ones for the oracle to be exact")
    return [
        Window("nanogpt", limit=capacity.nanogpt_per_min, per_s=60.0),
        Window("videogenapi", limit=capacity.videogenapi_sora_per_hour, per_s=3600.0, model="sora-2"),
        *(Window("veo", limit=capacity.veo_per_min, per_s=60.0, model=m) for m in sorted(veo_models(settings))),
    ]


def arrivals(
    workload: list[Job], jobs: list[dict[str, Any]], shapes: Shapes, only: set[int] | None = None
) -> list[Arrival]:
    """Each request when it was sent, with its capable offerings; minus any provider that refused it (`refused_by`)."""
    return [
        Arrival(
            index=j.index,
            at_s=r.get("sent_s", j.at_s),
            offers=tuple(Offer(*o) for o in shapes[j.shape] if o[0] not in refused_by(r)),
        )
        for j, r in zip(workload, jobs, strict=True)
        if only is None or j.index in only
    ]


def refused_by(result: dict[str, Any]) -> set[str]:
    """The providers that refused the request: one whose 429 it met (the request that consumed an injected 429
    cannot have been served there), and, for a create refused in the end, one whose injected 5xx answered every
    attempt the gateway's retry budget allowed there (it was served nowhere: each of its attempts failed), unless the
    gateway's own gate refused an attempt there (the window, which the oracle weighs, stopped a retry)."""
    refused = set(result.get("met_429", ()))
    if result.get("status") == "rejected":
        refused |= set(result.get("met_5xx", ())) - set(result.get("gate_refused", ()))
    return refused


def judge(outcome: dict[str, Any], workload: list[Job], shapes: Shapes, windows: list[Window]) -> dict[str, Any]:
    """The oracle's verdicts for one arm: which requests capacity could serve, and the least cost of what it did."""
    jobs = outcome["jobs"]
    everything = cheapest_feasible(arrivals(workload, jobs, shapes), windows, outcome["outages"], outcome["spent"])
    completed = {j.index for j, r in zip(workload, jobs, strict=True) if r.get("status") == "completed"}
    least = cheapest_feasible(
        arrivals(workload, jobs, shapes, completed), windows, outcome["outages"], outcome["spent"]
    )
    nanogpt_spend = sum(
        o.cost_micros for a in arrivals(workload, jobs, shapes) for o in a.offers
        if everything.provider_of.get(a.index) == "nanogpt" and o.provider == "nanogpt"
    )  # fmt: skip
    return {
        "unservable": everything.unservable,
        "completed": completed,
        "least_cost_micros": least.cost_micros,
        "least_unservable": least.unservable,
        "oracle_nanogpt_spend_usd": nanogpt_spend / 1_000_000,
    }


async def probe_shapes(workload: list[Job], capacity: Capacity) -> Shapes:
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    by_team, keyring = keys()
    async with emulators(settings, capacity) as urls, gateway(gateway_settings(urls, capacity), keyring) as url:
        return await probe(url, by_team[ADMIN_TEAM], workload)


async def main_async(args: argparse.Namespace) -> str:
    capacity: Capacity = args.capacity
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    generated = make_workload(settings, capacity, seed=args.seed, jobs=args.jobs)
    shapes = await probe_shapes(generated, capacity)
    workload = [j for j in generated if shapes[j.shape]]
    faults = fault_plan(capacity, seed=args.seed, until_s=workload[-1].at_s, providers=settings.providers)
    windows = oracle_windows(capacity, settings)
    order = {m: [o.provider for o in model.offerings] for m, model in settings.models.items()}
    rows = []
    for arm in args.arms:
        arm_bodies(arm, workload, shapes, order)
        outcome = await run_arm(arm, workload, faults, args)
        rows.append((outcome, judge(outcome, workload, shapes, windows)))
        print(f"[{arm}] done in {outcome['wall_s']:.1f}s", file=sys.stderr)
    dropped = len(generated) - len(workload)
    return report(rows, workload, shapes, faults, args, dropped=dropped, windows=windows)


def quiet() -> None:
    import logging

    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def reserve_arg(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--nanogpt-per-min", type=int, default=Capacity.nanogpt_per_min)
    parser.add_argument("--nanogpt-reserve", type=reserve_arg, default=Capacity.nanogpt_reserve, help="N or auto")
    parser.add_argument("--nanogpt-reserve-margin", type=int, default=Capacity.nanogpt_reserve_margin)
    parser.add_argument("--veo-per-min", type=int, default=Capacity.veo_per_min)
    parser.add_argument("--veo-reserve", type=reserve_arg, default=Capacity.veo_reserve, help="N or auto")
    parser.add_argument("--videogenapi-sora-per-hour", type=int, default=Capacity.videogenapi_sora_per_hour)
    parser.add_argument("--same-provider-retries", type=int, default=Capacity.same_provider_retries)
    parser.add_argument(
        "--capacity-wait", type=float, default=Capacity.capacity_wait_s, help="wait_for_capacity_s, provider seconds"
    )
    parser.add_argument("--bound", type=float, default=600.0, help="per-job time-to-video bound, provider seconds")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.capacity = Capacity(
        time_scale=args.time_scale,
        nanogpt_per_min=args.nanogpt_per_min,
        nanogpt_reserve=args.nanogpt_reserve,
        nanogpt_reserve_margin=args.nanogpt_reserve_margin,
        veo_per_min=args.veo_per_min,
        veo_reserve=args.veo_reserve,
        videogenapi_sora_per_hour=args.videogenapi_sora_per_hour,
        same_provider_retries=args.same_provider_retries,
        capacity_wait_s=args.capacity_wait,
    )
    quiet()
    text = asyncio.run(main_async(args))
    print(text)
    if not args.no_write:
        write_results(text)


if __name__ == "__main__":
    main()

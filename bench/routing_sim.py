"""Routing simulation: a seeded workload (mixed models, t2v/i2v, seconds, teams) through the gateway against the four
provider emulators, with configured limits, quotas and injected faults, for three arms on fresh emulators and state:

  router       our gateway as configured (default strategy `cheapest`, failover on)
  single       every request pinned to the first catalogue offering able to serve it, no fallbacks
  round-robin  requests of a model rotated over the offerings able to serve it, no fallbacks

    .venv/bin/python bench/routing_sim.py [--seed 7] [--jobs 300] [--concurrency 24] [--no-write]

Prints a Markdown section and appends it to bench/RESULTS.md (use --no-write to skip). In-process: emulators and
gateway share one event loop, served on loopback; the gateway's store is Redis under a unique prefix."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections import Counter, defaultdict
from typing import Any

import httpx

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from bench.routing_sim_support import (
    ADMIN_TEAM,
    ROOT,
    Capacity,
    Job,
    arm_fault,
    emulators,
    gateway,
    gateway_settings,
    generate_calls,
    keys,
    load_settings,
    make_workload,
    probe,
)
from bench.status_poll import machine

ARMS = ("router", "single", "round-robin")
TERMINAL = ("completed", "failed", "cancelled")
Shapes = dict[tuple[str, str, int], list[tuple[str, float]]]


def arm_bodies(arm: str, workload: list[Job], shapes: Shapes, catalogue_order: dict[str, list[str]]) -> None:
    """Set each job's create body for the arm: the router arm sends the body as is; baselines pin one provider."""
    turns: dict[str, itertools.count[int]] = defaultdict(itertools.count)
    for job in workload:
        capable = {p for p, _ in shapes[job.shape]}
        ordered = [p for p in catalogue_order[job.model] if p in capable]
        body = {k: v for k, v in job.body.items() if k != "routing"}
        if arm == "single" and ordered:
            body["routing"] = {"providers": [ordered[0]], "allow_fallbacks": False}
        elif arm == "round-robin" and ordered:
            body["routing"] = {"providers": [ordered[next(turns[job.model]) % len(ordered)]], "allow_fallbacks": False}
        job.body = body
        job.result = {}


async def follow(client: httpx.AsyncClient, job: Job, headers: dict[str, str], started: float, bound_s: float) -> None:
    """Poll the gateway (as a client would) until the job is terminal or `bound_s` passes."""
    video_id = job.result["id"]
    while time.monotonic() - started < bound_s:
        reply = await client.get(f"/v1/videos/{video_id}", headers=headers)
        if reply.status_code == 200 and reply.json()["status"] in TERMINAL:
            video = reply.json()
            job.result.update(status=video["status"], provider=video.get("provider"))
            job.result["cost"] = (video.get("usage") or {}).get("cost_usd") or 0.0
            job.result["ttv"] = time.monotonic() - started
            job.result["error"] = (video.get("error") or {}).get("code")
            return
        await asyncio.sleep(0.05)
    job.result["status"] = "timeout"


async def run_job(ctx: dict[str, Any], job: Job) -> None:
    async with ctx["gate"]:
        await maybe_fault(ctx)
        headers = {"Authorization": f"Bearer {ctx['keys'][job.team]}"}
        started = time.monotonic()
        reply = await ctx["client"].post("/v1/videos", json=job.body, headers=headers)
        job.result["http"] = reply.status_code
        if reply.status_code >= 300:
            job.result["status"] = "rejected"
            job.result["error"] = (reply.json().get("error") or {}).get("code") if reply.content else None
            return
        job.result["id"] = reply.json()["id"]
    await follow(ctx["client"], job, headers, started, ctx["bound_s"])


async def maybe_fault(ctx: dict[str, Any]) -> None:
    """The fault plan, by submission count: the same in every arm, spread over the run."""
    capacity: Capacity = ctx["capacity"]
    n = next(ctx["submitted"])
    urls, client = ctx["urls"], ctx["control"]
    if n % capacity.fault_every == capacity.fault_every - 1:
        await arm_fault(client, urls["nanogpt"], 503 if (n // capacity.fault_every) % 2 == 0 else 429)
    if n % capacity.fault_every_videogenapi == capacity.fault_every_videogenapi - 1:
        await arm_fault(client, urls["videogenapi"], 502)


async def run_arm(arm: str, workload: list[Job], args: argparse.Namespace, capacity: Capacity) -> dict[str, Any]:
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    by_team, keyring = keys()
    async with emulators(settings, capacity) as urls:
        gw_settings = gateway_settings(urls, capacity)
        async with (
            gateway(gw_settings, keyring) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as client,
            httpx.AsyncClient(timeout=10) as control,
        ):
            ctx = {
                "gate": asyncio.Semaphore(args.concurrency),
                "keys": by_team,
                "client": client,
                "urls": urls,
                "control": control,
                "capacity": capacity,
                "submitted": itertools.count(),
                "bound_s": args.bound,
            }
            started = time.monotonic()
            await asyncio.gather(*(run_job(ctx, job) for job in workload))
            wall = time.monotonic() - started
            calls = await generate_calls(control, urls)
    return {"arm": arm, "wall_s": wall, "calls": calls, "jobs": [dict(j.result) for j in workload]}


async def probe_shapes(workload: list[Job], capacity: Capacity) -> Shapes:
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    by_team, keyring = keys()
    async with emulators(settings, capacity) as urls, gateway(gateway_settings(urls, capacity), keyring) as url:
        return await probe(url, by_team[ADMIN_TEAM], workload)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summarize(outcome: dict[str, Any], workload: list[Job], shapes: Shapes) -> dict[str, Any]:
    jobs = outcome["jobs"]
    done = [(j, r) for j, r in zip(workload, jobs, strict=True) if r.get("status") == "completed"]
    cost = sum(r["cost"] for _, r in done)
    cheapest = sum(shapes[j.shape][0][1] for j, _ in done)
    http = Counter(r.get("http") for r in jobs)
    ttv = [r["ttv"] for _, r in done]
    multi = [r for j, r in zip(workload, jobs, strict=True) if len(shapes[j.shape]) > 1]
    multi_done = sum(1 for r in multi if r.get("status") == "completed")
    return {
        "arm": outcome["arm"],
        "submitted": len(jobs),
        "completed": len(done),
        "success": len(done) / len(jobs) if jobs else 0.0,
        "multi": len(multi),
        "multi_done": multi_done,
        "multi_success": multi_done / len(multi) if multi else 0.0,
        "http429": http.get(429, 0),
        "http503": http.get(503, 0),
        "other_rejects": sum(n for code, n in http.items() if code not in (200, 201, 202, 429, 503)),
        "failed_after_accept": sum(1 for r in jobs if r.get("status") in ("failed", "cancelled", "timeout")),
        "cost": cost,
        "cheapest": cheapest,
        "regret": (cost - cheapest) / cheapest if cheapest else 0.0,
        "p50": pct(ttv, 50),
        "p95": pct(ttv, 95),
        "wall_s": outcome["wall_s"],
        "providers": Counter(r.get("provider") for _, r in done),
        "calls": outcome["calls"],
        "errors": Counter(r.get("error") for r in jobs if r.get("status") != "completed"),
    }


def report(
    rows: list[dict[str, Any]], workload: list[Job], dropped: int, args: argparse.Namespace, cap: Capacity
) -> str:
    mix = Counter(j.model for j in workload)
    lines = [
        f"### routing_sim — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"Machine: {machine()}. Command: `.venv/bin/python bench/routing_sim.py --seed {args.seed} --jobs {args.jobs}"
        f" --concurrency {args.concurrency}`. One process, one event loop: four emulators and the gateway (Redis store)"
        f" on loopback; each arm on fresh emulators and a fresh Redis prefix.",
        "",
        f"Workload: {len(workload)} requests servable by the catalogue ({dropped} of {args.jobs} generated "
        "shapes had no "
        f"capable offering and were not sent), teams {sorted({j.team for j in workload})}, "
        f"{sum(j.mode == 'i2v' for j in workload)} i2v; models: "
        + ", ".join(f"{m} {n}" for m, n in sorted(mix.items()))
        + f". Capacity and faults: {cap.describe()}.",
        "",
        "Cheapest feasible = per completed request, the lowest `score.cost_usd` among the candidates of "
        "`POST /v1/routing/explain` on a fresh gateway (capability-feasible, ignoring capacity: a lower bound). "
        "Cost = sum of `usage.cost_usd` of completed jobs. Time to video = create sent -> client poll sees "
        f"`completed` (50 ms polls, bounded {args.bound:g} s).",
        "",
        "| arm | success | success, >=2 capable | client 429s | 503s | other rejects | failed after accept "
        "| cost $ | cheapest $ | regret | p50 s | p95 s | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arm']} | {r['completed']}/{r['submitted']} = {r['success']:.1%} | "
            f"{r['multi_done']}/{r['multi']} = {r['multi_success']:.1%} | {r['http429']} | {r['http503']} | "
            f"{r['other_rejects']} | {r['failed_after_accept']} | {r['cost']:.2f} | {r['cheapest']:.2f} | "
            f"{r['regret']:.1%} | {r['p50']:.2f} | {r['p95']:.2f} | {r['wall_s']:.1f} |"
        )
    lines += ["", *detail_lines(rows), "", *verdict(rows[0])]
    return "\n".join(lines) + "\n"


def detail_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        served = ", ".join(f"{p} {n}" for p, n in sorted(r["providers"].items(), key=str))
        calls = ", ".join(f"{p} {n}" for p, n in sorted(r["calls"].items()))
        errors = ", ".join(f"{e} {n}" for e, n in r["errors"].most_common()) or "none"
        out.append(f"- {r['arm']}: completed by {served}; upstream generate calls {calls}; not completed: {errors}.")
    return out


def verdict(router: dict[str, Any]) -> list[str]:
    success_ok = router["success"] >= 0.999
    multi_ok = router["multi_success"] >= 0.999
    regret_ok = router["regret"] <= 0.02
    no429 = router["http429"] == 0
    word = {True: "met", False: "NOT met"}
    return [
        f"Targets (router arm): success >= 99.9%: {word[success_ok]} over all requests ({router['success']:.2%}), "
        f"{word[multi_ok]} over requests two or more offerings can serve ({router['multi_success']:.2%}) - the "
        "others have a single eligible provider, so an injected fault there leaves no capacity; cost regret <= 2%: "
        f"{word[regret_ok]} ({router['regret']:.1%}); zero client-visible 429s: {word[no429]} ({router['http429']}).",
    ]


async def main_async(args: argparse.Namespace) -> str:
    capacity = Capacity(time_scale=args.time_scale)
    settings = load_settings(ROOT / "deploy" / "gateway.example.toml")
    generated = make_workload(settings, seed=args.seed, jobs=args.jobs)
    shapes = await probe_shapes(generated, capacity)
    workload = [j for j in generated if shapes[j.shape]]
    order = {m: [o.provider for o in model.offerings] for m, model in settings.models.items()}
    rows = []
    for arm in ARMS:
        arm_bodies(arm, workload, shapes, order)
        rows.append(summarize(await run_arm(arm, workload, args, capacity), workload, shapes))
        print(f"[{arm}] done in {rows[-1]['wall_s']:.1f}s", file=sys.stderr)
    return report(rows, workload, len(generated) - len(workload), args, capacity)


def quiet() -> None:
    import logging

    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument("--bound", type=float, default=60.0, help="per-job time-to-video bound, seconds")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    quiet()
    text = asyncio.run(main_async(args))
    print(text)
    if not args.no_write:
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as results:
            results.write("\n" + text)


if __name__ == "__main__":
    main()

"""The routing benchmark's setup from the example catalogue (every configured provider's faults and windows, a
workload of the models a text request can reach) and which providers the oracle counts out for a request."""

from __future__ import annotations

from bench.routing.oracle import Window
from bench.routing.workload import EXAMPLE_CONFIG, Capacity, fault_plan, load_settings, make_workload
from bench.routing_sim import gate_refused, met_5xx, met_429, oracle_windows, refused_by


def test_a_provider_joining_the_plan_leaves_the_others_faults_unchanged() -> None:
    """Each provider draws its faults from its own seeded stream, so adding Veo and fal moves no NanoGPT fault."""
    capacity = Capacity()
    seeds = ("nanogpt", "videogenapi")
    before = fault_plan(capacity, seed=7, until_s=400.0, providers=seeds)
    after = fault_plan(capacity, seed=7, until_s=400.0, providers=(*seeds, "veo", "fal"))
    assert [f for f in after if f.provider in seeds] == before
    assert {f.provider for f in after} == {"nanogpt", "videogenapi", "veo", "fal"}


def test_a_provider_the_run_does_not_serve_gets_no_faults() -> None:
    """Faults are planned only for the providers of the run's catalogue."""
    plan = fault_plan(Capacity(), seed=7, until_s=400.0, providers=("vidgen", "fal"))
    assert {(f.provider, f.status_code) for f in plan} == {("fal", 503)}


def test_the_oracle_keeps_veo_window_per_model_beside_nanogpt_and_sora() -> None:
    """Veo's generate window is per model: one oracle window for each of its three catalogue models."""
    windows = oracle_windows(Capacity(nanogpt_per_min=20, veo_per_min=8), load_settings(EXAMPLE_CONFIG))
    assert windows == [
        Window("nanogpt", limit=20, per_s=60.0),
        Window("videogenapi", limit=20, per_s=3600.0, model="sora-2"),
        Window("veo", limit=8, per_s=60.0, model="veo-2"),
        Window("veo", limit=8, per_s=60.0, model="veo-3"),
        Window("veo", limit=8, per_s=60.0, model="veo-3-fast"),
    ]


def test_the_workload_draws_only_models_a_text_request_reaches() -> None:
    """Video-to-video models (no text-to-video offering) never appear; the new providers' models do."""
    workload = make_workload(load_settings(EXAMPLE_CONFIG), Capacity(), seed=7, jobs=300)
    models = {job.model for job in workload}
    assert not models & {"runway-aleph", "wan-2.5-extend"}
    assert {"veo-3", "veo-3-fast", "veo-2", "wan-2.5"} <= models


def test_a_create_replanned_after_its_own_429_counts_that_provider_out() -> None:
    """The request that consumed NanoGPT's 429 and was refused on the replan names the cooldown, not the 429."""
    message = (
        "no provider can take this request now (videogenapi (sora-2): 8 s not offered (offers [10]); "
        "nanogpt (sora-2): nanogpt: cooling down 3 s after a 429 (rate))"
    )
    assert met_429({"code": "no_provider_available", "message": message}) == ["nanogpt"]


def test_a_refused_create_counts_out_the_provider_whose_5xx_answered_every_attempt() -> None:
    """Two videogenapi 502s (attempt and retry) on a refused create: videogenapi is out for it; not so once served."""
    error = {
        "code": "all_attempts_failed",
        "message": "every candidate failed (videogenapi: upstream_unavailable; videogenapi: upstream_unavailable)",
    }
    met = met_5xx(error)
    assert met == ["videogenapi", "videogenapi"]
    assert refused_by({"status": "rejected", "met_429": [], "met_5xx": met}) == {"videogenapi"}
    assert refused_by({"status": "completed", "met_429": [], "met_5xx": ["fal"]}) == set()


def test_a_retry_the_window_stopped_leaves_the_provider_counted_in() -> None:
    """NanoGPT's 503, then its retry refused for headroom: the window (the oracle weighs it) stopped it, not a fault."""
    error = {
        "code": "all_attempts_failed",
        "message": "every candidate failed (nanogpt: upstream_unavailable; nanogpt: no_headroom)",
    }
    result = {"status": "rejected", "met_429": [], "met_5xx": met_5xx(error), "gate_refused": gate_refused(error)}
    assert refused_by(result) == set()

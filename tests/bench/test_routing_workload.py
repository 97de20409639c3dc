"""The routing benchmark's setup from the example catalogue: every configured provider's faults and windows, and a
workload of the models a text request can reach."""

from __future__ import annotations

from bench.routing.oracle import Window
from bench.routing.workload import EXAMPLE_CONFIG, Capacity, fault_plan, load_settings, make_workload
from bench.routing_sim import oracle_windows


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

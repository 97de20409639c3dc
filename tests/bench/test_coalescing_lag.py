"""The lag benchmark's end-to-end mode: jobs really submitted to the OpenAI emulator in its own process, their
records pointing at the upstream ids it gave, every poll a real status call it counts."""

from __future__ import annotations

from bench.coalescing_lag import measure_lag
from gateway.cadence import PollingConfig
from tests.conftest import REDIS_URL

JOBS = 20


async def test_every_seeded_job_is_polled_upstream_over_http() -> None:
    """A flat 1 s cadence (gaps up to 1.1 s with jitter) for the first pass and 2 s after: every job is polled,
    each poll a status call the emulator answered 200 (a record whose upstream id it never gave would be a 404),
    and its CPU is measured beside the poller's."""
    result = await measure_lag(
        redis_url=REDIS_URL,
        jobs=JOBS,
        duration_s=2.0,
        polling=PollingConfig(growth=1.0, max_interval_s=1.0),
        interval_s=1.0,
        latency_s=0.0,
        upstream="emulator",
        seeding_s=1.0,
    )
    assert result.upstream == "emulator"
    assert result.upstream_polls is not None
    assert result.upstream_polls >= max(2 * JOBS, result.first_pass.polls + result.steady.polls)
    assert result.status_replies == {"200": result.upstream_polls}
    assert result.steady.upstream_cpu_share is not None
    assert result.first_pass.upstream_cpu_ms_per_poll is not None


async def test_the_fake_upstream_reports_no_emulator_figures() -> None:
    result = await measure_lag(
        redis_url=REDIS_URL,
        jobs=JOBS,
        duration_s=1.0,
        polling=PollingConfig(growth=1.0, max_interval_s=1.0),
        interval_s=1.0,
        latency_s=0.001,
        seeding_s=1.0,
    )
    assert result.upstream == "fake"
    assert result.first_pass.polls + result.steady.polls >= JOBS
    assert result.upstream_polls is None
    assert result.status_replies == {}
    assert result.steady.upstream_cpu_share is None

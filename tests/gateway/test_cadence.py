"""The pure cadence: early polls sooner then slower, jitter that only lengthens, the status-budget floor, the
backoff after errors and the client hints; and how a provider's config and status window resolve into it."""

from __future__ import annotations

import httpx
import pytest

from gateway.cadence import (
    Cadence,
    PollingConfig,
    backoff_delay_s,
    base_delay_s,
    budget_floor_s,
    next_delay_s,
    poll_hint_s,
    resolve_cadence,
)
from gateway.config import ConfigError, parse_settings
from gateway.upstreams import build_upstreams
from providers.contract import ignore_capacity
from tests.conftest import VIDGEN_KEY_ENV, gateway_settings_text


def cadence(status_window: tuple[int, int] | None = None) -> Cadence:
    config = PollingConfig(first_poll_s=2.0, growth=1.5, max_interval_s=20.0, jitter=0.2)
    return resolve_cadence(config, interval_s=5.0, status_window=status_window)


def test_the_first_poll_comes_sooner_and_later_gaps_grow_to_the_cap() -> None:
    """Gaps: the first-poll delay, then one interval growing by `growth` per poll until `max_interval_s`."""
    gaps = [base_delay_s(cadence(), n) for n in range(8)]

    assert gaps[:4] == [2.0, 5.0, 7.5, 11.25]
    assert gaps[4:] == [16.875, 20.0, 20.0, 20.0]
    assert base_delay_s(cadence(), 10_000) == 20.0  # a very long job stays at the cap, no overflow


def test_defaults_come_from_the_interval() -> None:
    """With no polling table the first poll is one interval away and the cap is four intervals."""
    resolved = resolve_cadence(PollingConfig(), interval_s=5.0)

    assert (resolved.first_poll_s, resolved.max_interval_s, resolved.growth) == (5.0, 20.0, 1.25)
    assert resolved.status_calls_per_s is None


def test_jitter_only_lengthens_a_gap_and_never_beyond_its_fraction() -> None:
    """Draws in [0, 1) spread a gap over [gap, gap x (1 + jitter)): never shorter than the cadence."""
    delays = [next_delay_s(cadence(), polls_done=1, in_flight=1, draw=d) for d in (0.0, 0.5, 0.999)]

    assert delays[0] == 5.0
    assert delays[1] == pytest.approx(5.5)
    assert 5.0 < delays[2] < 6.0


def test_many_jobs_on_one_account_stretch_every_gap_to_the_status_budget() -> None:
    """VideoGen's 5,000 status calls per hour: 1,000 jobs in flight need 720 s between polls of each job (800 s at
    the planned 90% of the window); a handful of jobs keep the cadence's own gap."""
    budgeted = cadence(status_window=(5000, 3600))

    assert budget_floor_s(budgeted, 1000) == pytest.approx(800.0)  # README: 90% of the window's rate
    assert next_delay_s(budgeted, polls_done=3, in_flight=1000, draw=0.0) == pytest.approx(800.0)
    assert next_delay_s(budgeted, polls_done=3, in_flight=3, draw=0.0) == 11.25
    assert budget_floor_s(cadence(), 1_000_000) == 0.0  # no status window: nothing to stretch for


def test_the_budget_holds_whatever_the_number_of_jobs() -> None:
    """With every job polled at the floor, the account's expected status-call rate never exceeds its window."""
    budgeted = cadence(status_window=(5000, 3600))
    for in_flight in (1, 10, 100, 1_000, 10_000):
        gap = next_delay_s(budgeted, polls_done=1, in_flight=in_flight, draw=0.0)
        assert in_flight / gap <= 0.9 * 5000 / 3600 + 1e-9


def test_backoff_doubles_per_error_up_to_the_cap_and_honours_retry_after() -> None:
    """Errors back off 5, 10, 20 s then the cap; a provider's Retry-After longer than that wins."""
    steps = [backoff_delay_s(cadence(), errors=e, cap_s=30.0, retry_after_s=None, draw=0.0) for e in (1, 2, 3, 4, 50)]

    assert steps == [5.0, 10.0, 20.0, 30.0, 30.0]
    assert backoff_delay_s(cadence(), errors=1, cap_s=30.0, retry_after_s=90.0, draw=0.0) == 90.0


def test_client_hints_follow_the_next_poll_within_floor_and_cap() -> None:
    """The hint is the time to the next poll plus a margin; never below the README's 0.5 s, never above its 60 s."""
    assert poll_hint_s(1000.0 + 7.0, 1000.0) == pytest.approx(7.1)
    assert poll_hint_s(999.0, 1000.0) == 0.5  # overdue: imminent, but never "now"
    assert poll_hint_s(None, 1000.0) == 0.5  # not scheduled yet (submitting)
    assert poll_hint_s(1000.0 + 7200.0, 1000.0) == 60.0


def test_a_cap_below_the_interval_is_refused() -> None:
    """`max_interval_s` under the poll interval cannot bound a cadence that starts above it."""
    with pytest.raises(ValueError, match="below the poll interval"):
        resolve_cadence(PollingConfig(max_interval_s=1.0), interval_s=5.0)


async def test_a_provider_polling_table_and_status_window_resolve_into_its_cadence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`[providers.vidgen.polling]` and a `status` headroom window reach the built upstream's cadence."""
    monkeypatch.setenv(VIDGEN_KEY_ENV, "sbx_test")
    extra = "[providers.vidgen.polling]\nfirst_poll_s = 0.5\ngrowth = 2.0\nmax_interval_s = 8.0\njitter = 0.0\n"
    extra += '[providers.vidgen.headroom]\nwindows = [{ scope = "status", limit = 100, per_s = 60 }]\n'
    settings = parse_settings(gateway_settings_text("http://127.0.0.1:9", poll_interval_s=2.0, extra=extra))
    async with httpx.AsyncClient() as client:
        upstreams = build_upstreams(settings.providers, client, observe=_unobserved, capacity=ignore_capacity)

    resolved = upstreams["vidgen"].cadence
    assert (resolved.first_poll_s, resolved.interval_s, resolved.growth, resolved.max_interval_s) == (
        0.5,
        2.0,
        2.0,
        8.0,
    )
    assert resolved.status_calls_per_s == pytest.approx(100 / 60)


async def test_a_bad_polling_table_fails_at_start_naming_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cap under the interval is a start-up error naming `providers.vidgen.polling`; an unknown key names its path."""
    monkeypatch.setenv(VIDGEN_KEY_ENV, "sbx_test")
    capped = parse_settings(
        gateway_settings_text("http://127.0.0.1:9", extra="[providers.vidgen.polling]\nmax_interval_s = 0.01\n")
    )
    async with httpx.AsyncClient() as client:
        with pytest.raises(ConfigError, match=r"providers\.vidgen\.polling: max_interval_s"):
            build_upstreams(capped.providers, client, observe=_unobserved, capacity=ignore_capacity)
    with pytest.raises(ConfigError, match=r"providers\.vidgen\.polling"):
        parse_settings(gateway_settings_text("http://127.0.0.1:9", extra="[providers.vidgen.polling]\nevery = 3\n"))


def _unobserved(provider: str, operation: str, outcome: str, elapsed_s: float) -> None:
    return None


def test_edges_of_the_cadence_arithmetic() -> None:
    """Growth 1 keeps every gap at the interval; a cap equal to the interval is allowed; draws outside [0, 1] are
    clamped; an idle account's floor counts one job; a Retry-After shorter than the backoff does not shorten it."""
    flat = resolve_cadence(PollingConfig(growth=1.0, jitter=0.5), interval_s=3.0)
    assert [base_delay_s(flat, n) for n in (1, 2, 50)] == [3.0, 3.0, 3.0]
    assert resolve_cadence(PollingConfig(max_interval_s=5.0), interval_s=5.0).max_interval_s == 5.0
    assert next_delay_s(flat, polls_done=1, in_flight=1, draw=-3.0) == 3.0
    assert next_delay_s(flat, polls_done=1, in_flight=1, draw=7.0) == 4.5
    budgeted = cadence(status_window=(5000, 3600))
    assert budget_floor_s(budgeted, 0) == budget_floor_s(budgeted, 1) == pytest.approx(3600 / (5000 * 0.9))
    assert backoff_delay_s(cadence(), errors=3, cap_s=30.0, retry_after_s=1.0, draw=0.0) == 20.0
    quick = resolve_cadence(PollingConfig(jitter=0.0), interval_s=0.25)
    assert backoff_delay_s(quick, errors=1, cap_s=30.0, retry_after_s=None, draw=0.0) == 0.25
    assert backoff_delay_s(quick, errors=40, cap_s=1e12, retry_after_s=None, draw=0.0) == 0.25 * 2.0**32


def test_a_sub_second_interval_still_grows_to_its_cap() -> None:
    """Half a second doubling to a 2 s cap: 0.5, 1, 2, then 2; the bound on the exponent (kept finite for long
    jobs) must not stop the growth short of the cap when the interval is below one second."""
    fast = resolve_cadence(PollingConfig(growth=2.0, max_interval_s=2.0, jitter=0.0), interval_s=0.5)
    assert [base_delay_s(fast, n) for n in (1, 2, 3, 4, 1_000)] == [0.5, 1.0, 2.0, 2.0, 2.0]

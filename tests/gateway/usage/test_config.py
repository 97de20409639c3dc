"""The `[quotas]` section and the prices budgets rely on: bad values fail at load naming their path, and a price
that would make some job cost $0 does not load."""

from __future__ import annotations

import pytest

from gateway.config import ConfigError, load_settings, parse_settings
from gateway.usage.quota_settings import QuotaLimits, QuotaSettings
from tests.conftest import EXAMPLE_CONFIG, gateway_settings_text


@pytest.mark.parametrize(
    ("quotas", "message"),
    [
        (
            '[quotas.teams.team-a]\nrequests = "lots"',
            r"`requests` = 'lots' is not a rate .* at `\$\.quotas\.teams\.team-a`",
        ),
        ('[quotas.default_team]\nrequests = "5 per fortnight"', r"not a rate .* at `\$\.quotas\.default_team`"),
        ("[quotas.keys.key-a]\nmax_concurrent_jobs = 0", r">= 1 - at `\$\.quotas\.keys\.key-a\.max_concurrent_jobs`"),
        (
            "[quotas.teams.team-a]\nmonthly_budget_usd = -1",
            r">= 0.0 - at `\$\.quotas\.teams\.team-a\.monthly_budget_usd`",
        ),
        ("[quotas.teams.team-a]\nbudget = 5", r"unknown field `budget` - at `\$\.quotas\.teams\.team-a`"),
        ("[quotas]\nteam = {}", r"unknown field `team` - at `\$\.quotas`"),
    ],
)
def test_bad_quotas_fail_at_load_naming_the_path(quotas: str, message: str) -> None:
    """Each malformed quota is a ConfigError whose message names the team or key entry and the key."""
    with pytest.raises(ConfigError, match=message):
        parse_settings(gateway_settings_text("http://127.0.0.1:9", extra=quotas))


def test_quotas_resolve_per_team_with_the_default_and_per_key() -> None:
    """A named team gets its own limits, any other team the default; keys only their own entry."""
    text = gateway_settings_text(
        "http://127.0.0.1:9",
        extra='[quotas.default_team]\nmonthly_budget_usd = 5\n[quotas.teams.a]\nrequests = "10/second;100/hour"\n'
        "[quotas.keys.k]\nmax_concurrent_jobs = 2\nmonthly_video_seconds = 60\n",
    )
    quotas = parse_settings(text).quotas
    assert quotas.for_team("a") == QuotaLimits(requests="10/second;100/hour")
    assert [str(r) for r in quotas.for_team("a").rates()] == ["10 per 1 second", "100 per 1 hour"]
    assert quotas.for_team("b").allowance().budget_micros == 5_000_000
    assert quotas.for_key("k").allowance().video_seconds == 60
    assert quotas.for_key("other") == QuotaLimits()
    assert QuotaSettings().for_team("a").allowance().budget_micros is None


def test_the_example_config_loads_with_its_quotas() -> None:
    """`deploy/gateway.example.toml` (what `make run` uses) keeps loading, with the sandbox team's budget."""
    settings = load_settings(EXAMPLE_CONFIG)
    assert settings.quotas.for_team("sandbox").allowance().budget_micros == 1_000_000_000


TIERED = """
[models.tiered]
[[models.tiered.offerings]]
provider = "vidgen"
upstream_model = "scenex"
price = { per_second_usd_by_resolution = { "720p" = 0.1 } }
[models.tiered.offerings.capabilities]
modes = ["t2v"]
seconds = [5]
"""


@pytest.mark.parametrize(
    ("sizes", "error"),
    [
        ('sizes = ["1280x720", "1920x1080"]', "no tier for 1080p"),
        ('size_range = [320, 1280]\ndefault_size = "1280x720"', "needs per_second_usd as a fallback"),
        ("", "no tier for the default size"),
        ('sizes = ["1280x720", "720x1280"]\ndefault_size = "1280x720"', None),
    ],
)
def test_a_price_by_resolution_must_cover_every_size_the_offering_makes(sizes: str, error: str | None) -> None:
    """Without a per-second fallback, a size whose tier is missing would be a $0 estimate: refused at load."""
    text = gateway_settings_text("http://127.0.0.1:9", extra=TIERED + sizes)
    if error is None:
        assert "tiered" in parse_settings(text).models
        return
    with pytest.raises(ConfigError, match=rf"{error} - at `\$\.models\.tiered\.offerings\[0\]`"):
        parse_settings(text)


def test_audio_adds_its_per_second_price_to_the_estimate() -> None:
    """With `audio_per_second_usd = 0.01`, a 5 s scenex job asking for audio is estimated $0.15, without $0.10."""
    from providers.contract import Audio, GenerationRequest, Scene
    from routing.router import RouteQuery, Router

    text = gateway_settings_text("http://127.0.0.1:9").replace(
        "price = { per_second_usd = 0.02 }", "price = { per_second_usd = 0.02, audio_per_second_usd = 0.01 }"
    )
    router = Router(parse_settings(text).models, enabled={"vidgen": True})

    def estimate(audio: Audio | None) -> int:
        request = GenerationRequest(upstream_model="", scenes=(Scene(prompt="a fox"),), audio=audio)
        (candidate,) = router.plan(RouteQuery(model="scenex", request=request)).candidates
        return candidate.estimated_cost_micros

    assert (estimate(None), estimate(Audio(enabled=False)), estimate(Audio())) == (100_000, 100_000, 150_000)

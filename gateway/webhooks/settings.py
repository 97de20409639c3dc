"""`[webhooks]` settings: per-team signing secrets (named by env var), the retry schedule, request timeout and
the private-host switch. Decoded with the rest of the config; holds no secret values."""

from __future__ import annotations

from typing import Annotated

import msgspec

_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]
_EnvName = Annotated[str, msgspec.Meta(pattern="^[A-Za-z_][A-Za-z0-9_]{0,127}$")]

# About 32 hours in all: quick retries for a blip, then hourly and every few hours for an outage (12 attempts).
DEFAULT_RETRY_SCHEDULE_S: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800)


class WebhookTeam(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A team's signing secret, `whsec_<base64 of 24-64 bytes>`, lives in the environment variable named here."""

    secret_env: _EnvName
    """The environment variable holding the team's signing secret, `whsec_` + base64 of 24-64 random bytes."""


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    allow_private_hosts: bool = False
    """SSRF guard: targets on private, loopback, link-local or reserved addresses are refused unless this is on
    (tests and local receivers only)."""
    timeout_s: _Seconds = 10.0
    """Per delivery attempt, DNS included."""
    retry_schedule_s: Annotated[tuple[_Seconds, ...], msgspec.Meta(min_length=0, max_length=50)] = (
        DEFAULT_RETRY_SCHEDULE_S
    )
    """The wait after each failed attempt (non-2xx, timeout, connection error); once it is used up the delivery is
    marked failed. The default is about 32 hours, 12 attempts."""
    tick_s: _Seconds = 1.0
    """How often each replica looks for deliveries due."""
    lease_s: _Seconds = 60.0
    """A claimed delivery comes back to any replica after this; must exceed `timeout_s`."""
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 100
    """The most due deliveries one replica claims per tick."""
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 16
    """The most deliveries one replica sends at once."""
    teams: dict[str, WebhookTeam] = {}
    """Signing secrets per team; a team without one gets a 400 `webhook_not_configured` when it asks for a webhook."""

    def __post_init__(self) -> None:
        # An attempt that can outlast its lease lets a second replica send the same delivery concurrently.
        if self.lease_s <= self.timeout_s:
            raise ValueError(f"lease_s ({self.lease_s:g}) must exceed timeout_s ({self.timeout_s:g})")

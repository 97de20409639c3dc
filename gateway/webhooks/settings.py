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


class WebhookSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # SSRF guard: targets on private, loopback, link-local or reserved addresses are refused unless this is on
    # (tests and local receivers only).
    allow_private_hosts: bool = False
    timeout_s: _Seconds = 10.0
    # The wait after each failed attempt; once it is used up the delivery is marked failed.
    retry_schedule_s: Annotated[tuple[_Seconds, ...], msgspec.Meta(min_length=0, max_length=50)] = (
        DEFAULT_RETRY_SCHEDULE_S
    )
    tick_s: _Seconds = 1.0
    lease_s: _Seconds = 60.0
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 100
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 16
    teams: dict[str, WebhookTeam] = {}

    def __post_init__(self) -> None:
        # An attempt that can outlast its lease lets a second replica send the same delivery concurrently.
        if self.lease_s <= self.timeout_s:
            raise ValueError(f"lease_s ({self.lease_s:g}) must exceed timeout_s ({self.timeout_s:g})")

"""What ops configure of a provider account's headroom ([providers.<slug>.headroom]): moving windows, reserve,
concurrency, balance floor (routing/headroom/tracker.py applies it)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

_Positive = Annotated[int, msgspec.Meta(ge=1)]


class WindowConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """At most `limit` calls in any `per_s` seconds (moving window) for one scope of a provider account.

    `per_s` is whole seconds: `limits` counts windows in whole seconds and Redis expires keys in them."""

    scope: Annotated[str, msgspec.Meta(min_length=1)]
    """What the window counts (e.g. `generate`, `status`): the adapter names the scope of each call."""
    limit: _Positive
    """The most calls in any `per_s` seconds."""
    per_s: _Positive
    """The window length in whole seconds."""


class HeadroomConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One provider account's limits. A reading that says "exhausted" without saying until when keeps the
    provider out for `recheck_after_s`; after that one call may find out (else it would never be tried again).

    `reserve`: once a configured window has this many units left or fewer, requests another provider could serve
    rank this one last (trunk reservation), so the rest go to requests only it can serve. `"auto"` sizes it per
    window from the requests only this provider could serve seen lately (routing/headroom/demand.py), plus
    `reserve_margin`; nothing is kept while none are seen."""

    windows: tuple[WindowConfig, ...] = ()
    """Moving windows the account is limited by, at most one per scope, e.g. `[{ scope = "generate", limit = 50,
    per_s = 60 }]`."""
    reserve: Annotated[int, msgspec.Meta(ge=0)] | Literal["auto"] = 0
    """Once a window has this many units left or fewer, requests another provider could serve rank this one last
    (trunk reservation); `"auto"` sizes it from the requests only this provider could serve seen lately, plus
    `reserve_margin`."""
    reserve_margin: Annotated[int, msgspec.Meta(ge=0)] = 1
    """With `reserve = "auto"`: units kept on top of the estimate."""
    max_in_flight: _Positive | None = None
    """The most jobs of this account submitted and not yet finished, across replicas; unset, no cap."""
    slot_lease_s: Annotated[float, msgspec.Meta(gt=0)] = 3600
    """An in-flight slot not renewed for this long is freed (a replica that died holding it)."""
    min_balance_usd: Annotated[float, msgspec.Meta(ge=0)] = 0
    """A provider that reports its balance is left out once the balance is below this."""
    recheck_after_s: Annotated[float, msgspec.Meta(gt=0)] = 300
    """A reading that says "exhausted" without saying until when keeps the provider out this long; then one call
    may find out."""

    def __post_init__(self) -> None:
        scopes = [w.scope for w in self.windows]
        if len(scopes) != len(set(scopes)):
            raise ValueError(f"one window per scope: {sorted(scopes)}")

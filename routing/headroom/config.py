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
    limit: _Positive
    per_s: _Positive


class HeadroomConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One provider account's limits. A reading that says "exhausted" without saying until when keeps the
    provider out for `recheck_after_s`; after that one call may find out (else it would never be tried again).

    `reserve`: once a configured window has this many units left or fewer, requests another provider could serve
    rank this one last (trunk reservation), so the rest go to requests only it can serve. `"auto"` sizes it per
    window from the requests only this provider could serve seen lately (routing/headroom/demand.py), plus
    `reserve_margin`; nothing is kept while none are seen."""

    windows: tuple[WindowConfig, ...] = ()
    reserve: Annotated[int, msgspec.Meta(ge=0)] | Literal["auto"] = 0
    reserve_margin: Annotated[int, msgspec.Meta(ge=0)] = 1
    max_in_flight: _Positive | None = None
    slot_lease_s: Annotated[float, msgspec.Meta(gt=0)] = 3600
    min_balance_usd: Annotated[float, msgspec.Meta(ge=0)] = 0
    recheck_after_s: Annotated[float, msgspec.Meta(gt=0)] = 300

    def __post_init__(self) -> None:
        scopes = [w.scope for w in self.windows]
        if len(scopes) != len(set(scopes)):
            raise ValueError(f"one window per scope: {sorted(scopes)}")

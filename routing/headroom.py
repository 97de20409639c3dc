"""What providers last said about their capacity (rate-limit headers, usage counters, balance), per provider.

In-process for now; the router issue moves it to Redis so every replica shares one view."""

from __future__ import annotations

from providers.contract import Headroom


class HeadroomBoard:
    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Headroom] = {}

    def record(self, headroom: Headroom) -> None:
        self._latest[(headroom.provider, headroom.scope)] = headroom

    def latest(self, provider: str) -> list[Headroom]:
        return [h for (slug, _), h in self._latest.items() if slug == provider]

"""The model catalogue: canonical model ids, the offerings that serve them and their prices.

Decoded from config; prices become integer micro-dollars here so no float money leaves this module."""

from __future__ import annotations

from typing import Annotated

import msgspec

from providers.contract import Capabilities

MICROS_PER_USD = 1_000_000
_USD = Annotated[float, msgspec.Meta(ge=0, le=10_000)]


def usd_to_micros(usd: float) -> int:
    return round(usd * MICROS_PER_USD)


class Price(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per video, per second, or per second by resolution tier (for example `{"720p": 0.10}`); plus
    `audio_per_second_usd` on top when the request asks for audio."""

    per_video_usd: _USD = 0.0
    """A flat price per video."""
    per_second_usd: _USD = 0.0
    """A price per second of video (the fallback when a resolution tier is missing)."""
    per_second_usd_by_resolution: dict[str, _USD] = {}
    """A price per second by resolution tier, the short side of the size (`{"720p" = 0.10}`)."""
    audio_per_second_usd: _USD = 0.0
    """Added per second when the request asks for audio."""

    def __post_init__(self) -> None:
        # A model with no price is a configuration error, never a $0 job.
        if not (self.per_video_usd or self.per_second_usd or self.per_second_usd_by_resolution):
            raise ValueError("a price needs per_video_usd, per_second_usd or per_second_usd_by_resolution")

    def estimate_micros(self, *, seconds: int, resolution: str | None, audio: bool = False) -> int:
        per_second = usd_to_micros(self.per_second_usd_by_resolution.get(resolution or "", self.per_second_usd))
        if audio:
            per_second += usd_to_micros(self.audio_per_second_usd)
        return usd_to_micros(self.per_video_usd) + per_second * seconds


class Offering(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One provider serving one canonical model."""

    provider: str
    """The provider slug serving the model; must be under `[providers]`."""
    upstream_model: str
    """The provider's own model id."""
    upstream_variant: str | None = None
    """The provider's sub-model selector, sent only by adapters that document one (videogenapi `veo_model`)."""
    capabilities: Capabilities
    """What this offering can do; routing filters on it and adapters never clamp."""
    price: Price
    """What a job costs; estimated before submit, held against the budget, then settled."""

    def __post_init__(self) -> None:
        # Priced by resolution tier without a per-second fallback: every size the offering can produce needs its
        # tier, or a job at a missing one would be estimated (and held, and billed) at $0 per second.
        tiers, caps = self.price.per_second_usd_by_resolution, self.capabilities
        if not tiers or self.price.per_second_usd:
            return
        if caps.size_range is not None:
            raise ValueError("a price by resolution for a size_range offering needs per_second_usd as a fallback")
        sizes = set(caps.sizes) | ({caps.default_size} if caps.default_size else set())
        missing = sorted({resolution_of(*(int(p) for p in s.split("x"))) for s in sizes} - set(tiers))
        if missing or not sizes:
            raise ValueError(f"per_second_usd_by_resolution has no tier for {', '.join(missing) or 'the default size'}")


class Model(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    description: str = ""
    """A one-line description, shown by `GET /v1/models`."""
    offerings: tuple[Offering, ...]
    """The providers serving this model, one `[[models.<id>.offerings]]` table each."""

    def __post_init__(self) -> None:
        if not self.offerings:
            raise ValueError("a model needs at least one offering")


Catalogue = dict[str, Model]


def resolution_of(width: int, height: int) -> str:
    """The tier name of a size: its short side, `1280x720` -> `720p`."""
    return f"{min(width, height)}p"

"""The demand-aware reserve (`reserve = "auto"`, routing/headroom/demand.py): the pure sizing, the shared count of
requests only one provider can serve (memory and a real Redis, across replicas), and the config it decodes from."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from routing.headroom.config import HeadroomConfig
from routing.headroom.demand import demand_reserve
from tests.conftest import FakeClock
from tests.routing.headroom.conftest import Backend, config

# --------------------------------------------------------------------------------------------- sizing


def test_nothing_is_held_while_no_exclusive_request_was_seen() -> None:
    """No exclusive demand: the margin alone never holds a unit back, however long until the window frees one."""
    assert demand_reserve(seen=0, per_s=60, frees_in_s=60, margin=3, limit=20) == 0


@pytest.mark.parametrize(
    ("seen", "per_s", "frees_in_s", "margin", "expected"),
    [
        (10, 60, 30, 1, 6),  # 10/min for half a minute: 5 expected, plus one
        (10, 60, 31, 1, 7),  # 5.17 expected rounds up
        (10, 60, 0, 1, 1),  # a unit frees now: the margin only
        (10, 60, -5, 2, 2),  # a reset already past counts as now
        (1, 3600, 3600, 0, 1),
    ],
)
def test_the_reserve_is_the_exclusive_demand_expected_before_a_unit_frees_plus_the_margin(
    seen: int, per_s: float, frees_in_s: float, margin: int, expected: int
) -> None:
    assert demand_reserve(seen=seen, per_s=per_s, frees_in_s=frees_in_s, margin=margin, limit=20) == expected


def test_the_reserve_never_exceeds_the_window() -> None:
    assert demand_reserve(seen=500, per_s=60, frees_in_s=60, margin=1, limit=20) == 20


# --------------------------------------------------------------------------------------------- config


def test_auto_and_a_margin_decode_and_the_default_is_unchanged() -> None:
    raw = b'{"windows": [{"scope": "generate", "limit": 2, "per_s": 60}], "reserve": "auto", "reserve_margin": 2}'
    decoded = msgspec.json.decode(raw, type=HeadroomConfig)
    assert (decoded.reserve, decoded.reserve_margin) == ("auto", 2)
    assert (HeadroomConfig().reserve, HeadroomConfig().reserve_margin) == (0, 1)


@pytest.mark.parametrize("raw", [b'{"reserve": "always"}', b'{"reserve": "auto", "reserve_margin": -1}'])
def test_a_reserve_that_is_neither_a_count_nor_auto_is_refused(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError, match="reserve"):
        msgspec.json.decode(raw, type=HeadroomConfig)


# --------------------------------------------------------------------------------------------- shared count


AUTO = {"nanogpt": config(("generate", 6, 3600), reserve="auto")}


async def test_exclusive_requests_seen_by_one_replica_size_the_reserve_on_another(backend: Backend) -> None:
    """Two exclusive requests noted on replica A (and two units taken) make replica B hold back the rest of a
    window of 6 (2 per hour expected over the hour until a unit frees, plus 1 = 3; 4 left is above that, 3 is not)."""
    a, b = backend.replica(AUTO, FakeClock()), backend.replica(AUTO, FakeClock())
    for _ in range(2):
        await a.note_exclusive("nanogpt")
        assert await a.try_take("nanogpt", "generate")
    assert (await b.reserved_units("nanogpt")).why is None  # 4 left > 3 held
    assert await b.try_take("nanogpt", "generate")
    why = (await b.reserved_units("nanogpt")).why
    assert why == (
        "nanogpt: 3 left in the generate window, kept for requests only it can serve"
        " (3 held back: 2 such in the last 3600 s)"
    )


async def test_with_no_exclusive_request_seen_the_window_is_spent_to_the_end(backend: Backend) -> None:
    headroom = backend.replica(AUTO, FakeClock())
    for _ in range(5):
        assert await headroom.try_take("nanogpt", "generate")
    assert (await headroom.reserved_units("nanogpt")).why is None
    assert await headroom.remaining("nanogpt", "generate") == 1


async def test_exclusive_requests_are_counted_only_where_the_reserve_is_auto(backend: Backend) -> None:
    """A fixed reserve keeps its count of units and ignores the demand count (nothing is written for it)."""
    configs = {"nanogpt": config(("generate", 6, 3600), reserve=1), "other": config(("generate", 6, 3600))}
    headroom = backend.replica(configs, FakeClock())
    for _ in range(4):
        await headroom.note_exclusive("nanogpt")
        await headroom.note_exclusive("other")
        assert await headroom.try_take("nanogpt", "generate")
    assert (await headroom.reserved_units("nanogpt")).why is None  # 2 left > 1
    assert (await headroom.reserved_units("other")).why is None


async def test_reserved_units_gives_the_units_kept_per_window(backend: Backend) -> None:
    """What claims that may go elsewhere must leave: the auto size per window, nothing without demand."""
    headroom = backend.replica(AUTO, FakeClock())
    assert (await headroom.reserved_units("nanogpt")).units == {}
    for _ in range(2):
        await headroom.note_exclusive("nanogpt")
        assert await headroom.try_take("nanogpt", "generate")
    assert (await headroom.reserved_units("nanogpt")).units == {"generate": 3}


async def test_a_take_that_must_keep_the_reserve_stops_above_it(backend: Backend) -> None:
    """Window 6, keep 2: four takes that must keep 2 succeed, the next is refused with 2 left; plain takes (a
    request only this provider serves) then spend those 2."""
    headroom = backend.replica({"nanogpt": config(("generate", 6, 3600), reserve=2)}, FakeClock())
    assert [await headroom.try_take("nanogpt", "generate", keep=2) for _ in range(5)] == [True] * 4 + [False]
    assert await headroom.remaining("nanogpt", "generate") == 2
    assert [await headroom.try_take("nanogpt", "generate") for _ in range(3)] == [True, True, False]


async def test_concurrent_takes_that_must_keep_the_reserve_never_dig_into_it(backend: Backend) -> None:
    """Twenty takes at once on one replica, window 10, keep 3: exactly 7 succeed (check and take are one step)."""
    headroom = backend.replica({"nanogpt": config(("generate", 10, 3600), reserve=3)}, FakeClock())
    taken = await asyncio.gather(*(headroom.try_take("nanogpt", "generate", keep=3) for _ in range(20)))
    assert sum(taken) == 7
    assert await headroom.remaining("nanogpt", "generate") == 3

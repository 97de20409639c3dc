"""Every provider fixture says where it comes from: each fixtures/ folder's SOURCES.md has one row per JSON file,
naming the seed, a cited page or us (inferred), so a fixture written for the emulator is never taken for the
provider's own text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

FIXTURE_DIRS = sorted(Path(__file__).parent.glob("*/fixtures"))
_ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<source>[^|]+) \|")


@pytest.mark.parametrize("folder", FIXTURE_DIRS, ids=lambda folder: folder.parent.name)
def test_each_fixture_has_one_provenance_row(folder: Path) -> None:
    """SOURCES.md lists exactly the folder's fixtures, each with one of the three sources."""
    rows = [m for line in (folder / "SOURCES.md").read_text().splitlines() if (m := _ROW.match(line))]

    assert sorted(m["name"] for m in rows) == sorted(p.name for p in folder.glob("*.json"))
    assert {m["source"].strip() for m in rows} <= {"seed", "cited page", "ours (inferred)"}


def test_every_provider_has_a_fixture_folder() -> None:
    """The four adapters' folders are all checked (a renamed folder would silently skip the test above)."""
    assert [folder.parent.name for folder in FIXTURE_DIRS] == ["nanogpt", "videogen", "videogenapi", "vidgen"]

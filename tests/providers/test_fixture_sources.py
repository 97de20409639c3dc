"""Every provider fixture says where it comes from: each fixtures/ folder's SOURCES.md names every fixture in it,
and where it is a table of source kinds, each is the seed, a cited page or us (inferred), so a fixture written
for the emulator is never taken for the provider's own text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from providers.registry import PROVIDERS

FIXTURE_DIRS = sorted(Path(__file__).parent.glob("*/fixtures"))
_NAMED = re.compile(r"`([^`]+\.(?:json|html))`")
_KIND_ROW = re.compile(r"^\| `[^`]+` \| (?P<kind>seed|cited page|ours \(inferred\)|[^|`]+) \| .* \|$")


@pytest.mark.parametrize("folder", FIXTURE_DIRS, ids=lambda folder: folder.parent.name)
def test_every_fixture_is_named_in_its_folder_sources(folder: Path) -> None:
    """SOURCES.md names each fixture of the folder, and nothing that is not there."""
    sources = (folder / "SOURCES.md").read_text()
    fixtures = {p.name for p in folder.iterdir() if p.suffix in (".json", ".html")}

    assert set(_NAMED.findall(sources)) == fixtures


@pytest.mark.parametrize("folder", FIXTURE_DIRS, ids=lambda folder: folder.parent.name)
def test_a_table_of_source_kinds_uses_the_three_kinds(folder: Path) -> None:
    """Where SOURCES.md classifies fixture by fixture, each is the seed, a cited page or ours (inferred)."""
    kinds = {m["kind"] for line in (folder / "SOURCES.md").read_text().splitlines() if (m := _KIND_ROW.match(line))}
    if "| fixture | source | note |" in (folder / "SOURCES.md").read_text():
        assert kinds <= {"seed", "cited page", "ours (inferred)"}


def test_every_adapter_has_a_fixture_folder() -> None:
    """Each registered adapter's folder is checked (a renamed folder would silently skip the tests above)."""
    assert {folder.parent.name for folder in FIXTURE_DIRS} == set(PROVIDERS)

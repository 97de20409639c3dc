from pathlib import Path

import msgspec
import pytest

from gateway.config_reference import render_reference

REFERENCE = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_committed_reference_matches_the_config_structs() -> None:
    """docs/configuration.md is exactly what the config structs generate (run `make config-docs` after a change)."""
    assert REFERENCE.read_text() == render_reference()


def test_reference_shows_types_constraints_and_defaults() -> None:
    """A key's row gives its type with its bounds, its default and its description."""
    assert "| `port` | integer (≥ 0, ≤ 65,535) | `8080` | The TCP port the server listens on. |" in render_reference()
    assert '| `backend` | one of `"memory"`, `"redis"` | `"memory"` |' in render_reference()


class _Undocumented(msgspec.Struct, frozen=True, kw_only=True):
    described: int = 1
    """This one has a description."""
    bare: int = 2


def test_a_field_without_a_description_fails_the_generation() -> None:
    """Generating the reference refuses a struct field that has no attribute docstring, naming it."""
    with pytest.raises(ValueError, match=r"_Undocumented\.bare$"):
        render_reference(_Undocumented)

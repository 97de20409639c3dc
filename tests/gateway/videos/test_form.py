"""The multipart form's bracketed keys back to the JSON body's shape, as the OpenAI SDK writes `extra_body`; and
a JSON parameter path spelled as the form's key."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidRequest
from gateway.videos.form import bracketed, unflatten


def test_nested_objects_and_repeated_list_items_are_rebuilt() -> None:
    """`a[b]` nests, `a[b][]` repeats into a list, plain keys stay; every value stays a string."""
    items = [
        ("prompt", "a fox"),
        ("metadata[project]", "x"),
        ("routing[providers][]", "nanogpt"),
        ("routing[providers][]", "vidgen"),
        ("routing[max_cost_usd]", "1.5"),
    ]
    assert unflatten(items) == {
        "prompt": "a fox",
        "metadata": {"project": "x"},
        "routing": {"providers": ["nanogpt", "vidgen"], "max_cost_usd": "1.5"},
    }


def test_a_key_the_last_list_object_holds_starts_the_next_object() -> None:
    """`scenes[][prompt]` twice makes two scenes, each keeping the keys written after its prompt."""
    items = [
        ("scenes[][prompt]", "dawn"),
        ("scenes[][image][url]", "https://example.com/a.png"),
        ("scenes[][prompt]", "dusk"),
        ("scenes[][image][url]", "https://example.com/b.png"),
    ]
    assert unflatten(items) == {
        "scenes": [
            {"prompt": "dawn", "image": {"url": "https://example.com/a.png"}},
            {"prompt": "dusk", "image": {"url": "https://example.com/b.png"}},
        ]
    }


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([("prompt", "a"), ("prompt", "b")], "prompt"),
        ([("metadata[a]", "1"), ("metadata[a]", "2")], "metadata[a]"),
        ([("routing", "x"), ("routing[strategy]", "fastest")], "routing[strategy]"),
        ([("routing[providers][]", "a"), ("routing[providers]", "b")], "routing[providers]"),
        ([("routing[providers", "a")], "routing[providers"),
        ([("scenes[][]", "a")], "scenes[][]"),
    ],
)
def test_ambiguous_or_malformed_keys_are_a_400_naming_the_key(items: list[tuple[str, str]], param: str) -> None:
    """A key given twice, a plain value mixed with a nested one, a broken bracket or a list of lists is refused."""
    with pytest.raises(InvalidRequest) as raised:
        unflatten(items)
    assert raised.value.param == param


@pytest.mark.parametrize(
    ("path", "spelled"),
    [
        ("seed", "seed"),
        ("routing.max_cost_usd", "routing[max_cost_usd]"),
        ("routing.providers[0]", "routing[providers][0]"),
        ("scenes[1].image.url", "scenes[1][image][url]"),
    ],
)
def test_a_json_path_is_spelled_as_the_form_key(path: str, spelled: str) -> None:
    """Errors name a form field the way the client sent it."""
    assert bracketed(path) == spelled

"""A multipart create form back to the JSON body's shape, as the OpenAI SDK flattens `extra_body`: nested objects
as bracketed keys (`routing[strategy]`), list items repeated with `[]`, every value a string. It only reshapes;
the typed decode (strings to numbers and booleans) and every check stay with the JSON body's schema."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.errors import InvalidRequest

# `name`, then any number of `[key]` or `[]`; keys are identifiers or metadata keys (no brackets).
_KEY = re.compile(r"^(?P<head>[^\[\]]+)(?P<tail>(?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"\[(\d+)\]")

FormValue = str | list["FormValue"] | dict[str, "FormValue"]


def unflatten(items: Iterable[tuple[str, str]]) -> dict[str, FormValue]:
    """`routing[providers][]=a` -> `{"routing": {"providers": ["a"]}}`. In a list of objects (`scenes[][prompt]`)
    a key the last item already has starts the next item, as the SDK writes each object's keys together."""
    body: dict[str, FormValue] = {}
    for name, value in items:
        match = _KEY.match(name)
        if match is None:
            raise InvalidRequest(f"malformed field name `{name}`", code="invalid_value", param=name)
        path = [match.group("head"), *_SEGMENT.findall(match.group("tail"))]
        _put(body, path, value, name)
    return body


def _put(node: dict[str, FormValue], path: list[str], value: str, name: str) -> None:
    key, rest = path[0], path[1:]
    if not rest:
        if key in node:
            raise InvalidRequest(f"field `{name}` given twice", code="invalid_value", param=name)
        node[key] = value
        return
    if rest[0] == "":
        items = node.setdefault(key, [])
        if not isinstance(items, list):
            raise _mixed(name)
        _append(items, rest[1:], value, name)
        return
    child = node.setdefault(key, {})
    if not isinstance(child, dict):
        raise _mixed(name)
    _put(child, rest, value, name)


def _append(items: list[FormValue], path: list[str], value: str, name: str) -> None:
    if not path:
        items.append(value)
        return
    if path[0] == "":
        raise InvalidRequest(f"lists of lists are not taken: `{name}`", code="invalid_value", param=name)
    last = items[-1] if items else None
    # A key the last object already holds begins the next object of the list.
    if not isinstance(last, dict) or _holds(last, path):
        last = {}
        items.append(last)
    _put(last, path, value, name)


def _holds(node: FormValue, path: list[str]) -> bool:
    for key in path:
        if key == "" or not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _mixed(name: str) -> InvalidRequest:
    return InvalidRequest(
        f"field `{name}` mixes a plain value with a nested one of the same name", code="invalid_value", param=name
    )


def bracketed(path: str) -> str:
    """A JSON body's dotted parameter path in the form's spelling: `routing.providers[0]` ->
    `routing[providers][0]`, so an error names the field as the client sent it."""
    head, *rest = path.split(".")
    return head + "".join("[" + _INDEX.sub(r"][\1", part) + "]" for part in rest)

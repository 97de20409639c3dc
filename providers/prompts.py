"""The `-term` negative prompt syntax of the Vidgen seed, accepted in every prompt for every provider."""

from __future__ import annotations


def split_negative_terms(raw: str) -> tuple[str, tuple[str, ...]]:
    """Split a raw prompt into (positive, negative terms).

    Comma-separated tokens that start with `-` move to the negatives (seed 000, "Prompt Syntax"):
    `"waves, golden hour, -blurry, -low quality"` -> `("waves, golden hour", ("blurry", "low quality"))`.
    A hyphen inside a token (`self-driving car`) or a bare `-` is ordinary text.
    """
    positive: list[str] = []
    negative: list[str] = []
    for token in raw.split(","):
        stripped = token.strip()
        if len(stripped) > 1 and stripped[0] == "-" and stripped[1] not in "- ":
            negative.append(stripped[1:].strip())
        elif stripped:
            positive.append(stripped)
    return ", ".join(positive), tuple(negative)


def join_negatives(terms: tuple[str, ...], explicit: str | None) -> str:
    """Negative text in the seed's order: parsed `-terms`, then the explicit negative string."""
    parts = [*terms, *([explicit.strip()] if explicit and explicit.strip() else [])]
    return ", ".join(parts)

"""Comparing two lists (of column names, category codes, classes): where they first differ."""

from __future__ import annotations

from collections.abc import Sequence


def first_difference(a: Sequence[object], b: Sequence[object]) -> int | None:
    """The first position where ``a`` and ``b`` differ, or None if they are equal.

    When one is the start of the other, the shorter one's length: the first position
    only one of them has. ``i < min(len(a), len(b))`` tells a differing item from that.
    """
    same_start = min(len(a), len(b))
    differ = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    if differ is not None:
        return differ
    return None if len(a) == len(b) else same_start


def header_difference(first: object, a: list[str], second: object, b: list[str], *, what: str = "columns") -> str:
    """Why ``second``'s header ``b`` is not ``first``'s ``a``: the message for inputs that must share one header."""
    i = first_difference(a, b)
    if i is not None and i < min(len(a), len(b)):
        return (
            f"{second} does not match {first}: {what.removesuffix('s')} {i + 1} is {b[i]!r} in {second} but {a[i]!r}"
            f" in {first};"
            " inputs converted together must share one header"
        )
    return f"{second} has {len(b)} {what} but {first} has {len(a)}; inputs converted together must share one header"

"""The files a command is given: glob patterns expanded, and one file given twice found.

``convert``, ``merge``, ``info`` and the trainer's data arguments take glob
patterns themselves, so a pattern quoted, or typed in a shell that does not
expand patterns (Windows ``cmd``, PowerShell), still names its files.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

from .errors import InputError

_PATTERN_CHARACTERS = frozenset("*?[")


def expand_patterns(arguments: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Each argument as the files it names, in the order given.

    An argument that names something that exists is that thing, even when its name holds
    ``*``, ``?`` or ``[``; otherwise an argument holding one of them is a glob pattern,
    expanded to its matches sorted by name (as a shell sorts them). Anything else (``-`` for
    standard input, a missing file) is kept as it is, for the caller to judge.

    Raises:
        InputError: a pattern that matches nothing.
    """
    paths: list[Path] = []
    for argument in arguments:
        text = os.fspath(argument)
        if _PATTERN_CHARACTERS.isdisjoint(text) or os.path.lexists(text):
            paths.append(Path(text))
            continue
        found = sorted(glob.glob(text))
        if not found:
            raise InputError(f"{text} matches no file; check the pattern")
        paths.extend(map(Path, found))
    return paths


def given_twice(sources: Sequence[str | os.PathLike[str]]) -> str | None:
    """How one file given twice (by two spellings, a link, or a glob and its name) was named, or None.

    Its rows would be stored or read twice, and a split of them would put the same rows
    on both sides; callers refuse it with their own error.
    """
    seen: dict[tuple[int, int], str] = {}
    for source in map(str, sources):
        try:
            found = os.stat(source)
        except OSError:
            continue  # said when it is opened
        first = seen.get((found.st_dev, found.st_ino))
        if first is not None:
            return f"{source} is given twice" + ("" if first == source else f" (as {first} too)")
        seen[(found.st_dev, found.st_ino)] = source
    return None


def input_key(source: dict[str, object]) -> tuple[str, int, int] | None:
    """An input's name, bytes and rows as a file's ``sources`` records them; None when they cannot tell it (a pipe, no rows).

    Two files that record one key hold, all but surely, the rows of one CSV (as a merged file
    and its parts do); two CSVs of one base name may still agree on size and rows.
    """
    size, rows = source.get("bytes"), source.get("rows")
    if not isinstance(size, int) or not isinstance(rows, int) or size <= 0 or rows <= 0:
        return None
    return str(source.get("name")), size, rows

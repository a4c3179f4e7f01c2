"""How labels keep their codes when files are united: one order rule for classes and vocabularies.

A file codes its own labels ``0..K-1``: class labels in sorted order, the
values of a categorical column in the order they first appear. When several
files are united — ``csv2h5 merge``, parts read as one by the trainer,
``convert --like``, ``convert --append`` — the union follows one rule:

    the first file's list as it is, then the labels new in each later file,
    in that file's order (first seen over the parts).

So a file converted ``--like`` the previous one keeps every code it shares
with it, and the vocabularies of parts converted one by one unite into those
of converting the concatenated CSV in one go. Each file's codes reach the
union through a small lookup table (own code -> united code).

Pure numpy: nothing here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np


def unite(lists: Iterable[Sequence[object]]) -> list[object]:
    """The labels of several files in first-seen order (see the module docstring)."""
    united: dict[object, None] = {}
    for labels in lists:
        united.update(dict.fromkeys(labels))
    return list(united)


def code_table(own: Sequence[object], united: Sequence[object]) -> np.ndarray:
    """Lookup table from a file's codes (positions in ``own``) to codes in ``united``."""
    position = {label: code for code, label in enumerate(united)}
    return np.fromiter((position[label] for label in own), dtype=np.int64, count=len(own))


def is_identity(table: np.ndarray) -> bool:
    """Whether a lookup table leaves every code as it is (its file's list starts the union)."""
    return bool(np.array_equal(table, np.arange(table.size)))


def label_kind(labels: Sequence[object]) -> str | None:
    """``"text"`` or ``"number"`` for a list of class labels; None when it is empty."""
    if not labels:
        return None
    return "text" if all(isinstance(label, str) for label in labels) else "number"


def parts_differ(paths: Sequence[object], classes: Sequence[Sequence[object]], coded: Sequence[Collection[str]]) -> str | None:
    """Why files cannot be united (text classes with numeric ones; a column coded in some only), or None.

    ``coded`` holds each file's categorical column names.
    """
    for path, labels in zip(paths[1:], classes[1:]):
        kinds = [{"text": "text", "number": "numeric"}.get(label_kind(x)) for x in (classes[0], labels)]
        if None not in kinds and kinds[0] != kinds[1]:
            return (
                f"{path} has {kinds[1]} classes but {paths[0]} has {kinds[0]} ones "
                f"({', '.join(map(str, labels[:3]))} against {', '.join(map(str, classes[0][:3]))}); "
                "files united need labels alike"
            )
    for path, names in zip(paths[1:], coded[1:]):
        differ = sorted(set(names) ^ set(coded[0]))
        if differ:
            text, numbers = (path, paths[0]) if differ[0] in names else (paths[0], path)
            return (
                f"{text} stores column {differ[0]!r} as text codes (--categorical) but {numbers} as numbers;"
                f" convert the parts alike: {text}'s CSV again with --like {numbers} to store it as numbers,"
                f" or {numbers}'s with --like {text} to store it as codes"
            )
    return None


def unite_vocabularies(
    columns: Sequence[str], vocabularies: Sequence[Mapping[str, Sequence[str]]], dtype: np.dtype
) -> tuple[dict[str, list[str]], list[dict[int, np.ndarray]], np.dtype]:
    """Unite each categorical column's vocabulary over files of one schema.

    Args:
        columns: the feature column names.
        vocabularies: per file, categorical column name -> its values (index = code).
        dtype: the features' common dtype.

    Returns:
        The united vocabularies; per file, the lookup tables by feature column position
        (only those that change a code); and a dtype that also holds the united codes.
    """
    united = {name: unite(found[name] for found in vocabularies) for name in vocabularies[0]}
    tables: list[dict[int, np.ndarray]] = [{} for _ in vocabularies]
    for name, values in united.items():
        for found, changes in zip(vocabularies, tables):
            table = code_table(found[name], values)
            if not is_identity(table):
                changes[columns.index(name)] = table
        dtype = code_dtype(dtype, len(values))
    return united, tables, dtype


def code_dtype(dtype: np.dtype, size: int) -> np.dtype:
    """A dtype that holds every value of ``dtype`` and the codes ``0..size-1`` exactly."""
    dtype = np.dtype(dtype)
    top = max(size - 1, 0)
    if dtype.kind in "iu":
        if top <= np.iinfo(dtype).max:
            return dtype
        return next(
            np.dtype(name)
            for name in ("uint16", "int16", "uint32", "int32", "int64")
            if np.can_cast(dtype, name) and top <= np.iinfo(name).max
        )
    if dtype.kind == "f" and top > 2 ** (np.finfo(dtype).nmant + 1):  # float16 holds the integers to 2048
        return np.promote_types(dtype, np.float32 if top <= 2**24 else np.float64)
    return dtype


def remap_columns(block: np.ndarray, tables: Mapping[int, np.ndarray], dtype: np.dtype) -> np.ndarray:
    """``block`` in ``dtype`` with the codes of each column ``j`` in ``tables`` passed through ``tables[j]``.

    Missing cells (NaN codes in float columns) stay missing. ``block`` is the
    caller's to give away: when it already has ``dtype`` it is changed in place.
    """
    out = block.astype(dtype, copy=False)
    if not out.flags.writeable:
        out = out.copy()
    for column, table in tables.items():
        codes = out[:, column]
        if out.dtype.kind == "f":
            valid = ~np.isnan(codes)
            codes[valid] = table[codes[valid].astype(np.intp)]
        else:
            codes[:] = table[codes.astype(np.intp)]
    return out


def count_codes(codes: np.ndarray, size: int) -> np.ndarray:
    """Rows per code ``0..size-1`` in a column of codes (missing cells are not counted)."""
    if codes.dtype.kind == "f":
        codes = codes[~np.isnan(codes)]
    return np.bincount(codes.astype(np.intp), minlength=size).astype(np.float64)


def united_counts(parts: Sequence[tuple[np.ndarray, np.ndarray]], size: int) -> np.ndarray:
    """Rows per united code, from each file's (rows per own code, lookup table)."""
    total = np.zeros(size, dtype=np.float64)
    for counts, table in parts:
        np.add.at(total, table, counts)
    return total


def set_code_stats(stats: dict[str, np.ndarray], column: int, counts: np.ndarray) -> None:
    """Make the stored stats of a categorical ``column`` those of codes with these ``counts``.

    Stats of a categorical column are stats of its codes, which change when
    codes are remapped; from the rows per code they are exact. ``nan_count``
    (missing cells) does not change under remapping and is left as it is.
    """
    codes = np.arange(counts.size, dtype=np.float64)
    rows = counts.sum()
    present = np.flatnonzero(counts)
    if rows == 0:
        values = {"mean": np.nan, "std": np.nan, "min": np.nan, "max": np.nan}
    else:
        mean = float(codes @ counts) / rows
        values = {
            "mean": mean,
            "std": float(np.sqrt(counts @ (codes - mean) ** 2 / rows)),
            "min": float(present[0]),
            "max": float(present[-1]),
        }
    for name, value in values.items():
        if name in stats:
            stats[name][column] = value

"""The CSV ``predict`` writes: where it may go, and how its numbers are spelt; no typer here."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import RunError

NOT_CSV = (".h5", ".hdf5", ".keras")  # names of what predict reads, never of the CSV it writes


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path (symlinks, ``./x``), or the same inode."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): it cannot be the other
        return False


def check_output(out: Path, *, overwrite: bool, data: Sequence[str], model: Path, run_files: Sequence[Path]) -> None:
    """Refuse an output that is no CSV name, a directory, an existing file without ``overwrite``, or a file
    predict reads: a data file (any part of a glob), the model, or a file of its run directory."""
    if out.suffix.lower() in NOT_CSV:
        raise RunError(
            f"{out} names a {out.suffix} file, but predict writes CSV; pass a .csv name, e.g. -o {out.with_suffix('.csv')}"
        )
    if out.is_dir():  # --overwrite would not help: a directory is not replaced by a file
        raise RunError(f"{out} is a directory; name the file to write, e.g. -o {out / 'predictions.csv'}")
    read = [(Path(p), "the data") for p in data] + [(model, "the model")] + [(p, "a file of the run") for p in run_files]
    for path, what in read:
        if _same_file(out, path):
            raise RunError(f"{out} is also an input ({what}); write to another file")
    if out.exists() and not overwrite:
        raise RunError(f"{out} already exists; pass --overwrite to replace it")


def spelt(scores: np.ndarray) -> list[list[str]]:
    """Each row's numbers as text: float32 ones in the shortest digits that read back to the same float32
    (``0.1``, never ``0.10000000149011612``), wider ones likewise in their own precision."""
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    return scores.astype(str).tolist()  # numpy spells each float by its shortest round-trip digits


def not_finite(scores: np.ndarray) -> np.ndarray:
    """The positions of the rows of ``scores`` with any infinite or NaN value."""
    return np.flatnonzero(~np.isfinite(scores.reshape(len(scores), -1)).all(axis=1))

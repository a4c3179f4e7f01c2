"""A file's category codes turned into the training data's, by label, for ``evaluate`` and ``predict``.

A file converted on its own (or a part of the files a run was trained on, read
as one) codes its text columns by what it saw: code 2 may be another city than
in training. When the run records the training vocabularies, the codes are
passed through small lookup tables as the rows are read, as the reader of files
read as one does (:class:`.rows.PartsRows`); values training never saw get
codes after the known ones, as ``--like`` gives them, and a warning.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np

from csv2h5.vocabulary import code_dtype, is_identity, remap_columns

from ._keras import keras
from .fileinfo import FileInfo


def training_codes(config: dict | None, info: FileInfo) -> tuple[dict[int, np.ndarray], dict[str, list[str]]]:
    """Per feature column whose codes differ from training's, a table from the file's codes to training's;
    and per column the values training never saw (given codes after the known ones)."""
    vocabularies = ((config or {}).get("data") or {}).get("vocabularies") or {}
    tables: dict[int, np.ndarray] = {}
    new: dict[str, list[str]] = {}
    for name, found in info.vocabularies.items():
        known = vocabularies.get(name)
        if known is None or name not in info.columns:  # check_like_training refuses a column coded in one only
            continue
        position = {label: code for code, label in enumerate(known)}
        unseen = [label for label in found if label not in position]
        position.update({label: len(known) + k for k, label in enumerate(unseen)})
        table = np.fromiter((position[label] for label in found), dtype=np.int64, count=len(found))
        if not is_identity(table):
            tables[info.columns.index(name)] = table
        if unseen:
            new[name] = unseen
    return tables, new


def warn_unseen(new: Mapping[str, list[str]], info: FileInfo) -> None:
    """One line on stderr counting the values training never saw, by column."""
    if not new:
        return
    count = sum(len(labels) for labels in new.values())
    shown = "; ".join(
        f"{name!r}: {', '.join(map(repr, labels[:3]))}{', ...' if len(labels) > 3 else ''}" for name, labels in new.items()
    )
    print(
        f"warning: {info.named} holds {count} categorical value{'s' if count > 1 else ''} the training data did not"
        f" ({shown}); the model knows nothing of them",
        file=sys.stderr,
    )


def recode(x: np.ndarray, tables: Mapping[int, np.ndarray]) -> np.ndarray:
    """A batch of rows with the codes of each column in ``tables`` passed through its table."""
    if not tables:
        return x
    size = max(int(table.max(initial=0)) + 1 for table in tables.values())
    return remap_columns(np.array(x), tables, code_dtype(np.asarray(x).dtype, size))


class Recoded(keras.utils.PyDataset):
    """A sequence's batches with their rows recoded (targets and weights as they are)."""

    def __init__(self, seq: keras.utils.PyDataset, tables: Mapping[int, np.ndarray]) -> None:
        super().__init__()
        self.seq, self.tables = seq, tables

    def __len__(self) -> int:
        return len(self.seq)

    def __getitem__(self, index: int):
        batch = self.seq[index]
        if isinstance(batch, tuple):
            return (recode(batch[0], self.tables), *batch[1:])
        return recode(batch, self.tables)

"""Collect target values while streaming, then store them as classes or numbers.

Whether a target is a classification or a regression target (``--task auto``)
is known only at the end, so values wait in a scratch file beside the output
(bounded memory at any row count) and are written to ``/target`` once, as class
codes 0..K-1 in sorted label order (after the known classes of the file appended
to or converted --like, which keep their codes), or as float32 numbers.
"""

from __future__ import annotations

import dataclasses
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import BadValueError, SchemaError, excerpt
from .layout import CLASSES, COLUMNS, TASK
from .options import MAX_AUTO_CLASSES
from .regression import Rounded, RoundedTargets, rounded_in, write_numbers
from .schema import FLOAT64_MAX_EXACT_INT, check_storable_text, class_code_dtype
from .shared import SharedArray
from .vocabulary import label_kind, unite

if TYPE_CHECKING:
    from .rowcopies import RowCopies

_ROWS_PER_PASS = 1 << 20  # rows re-read from the scratch file at once


@dataclasses.dataclass(frozen=True, slots=True)
class TargetSummary:
    task: str
    classes: list[object]  # original labels; index = stored code
    class_counts: np.ndarray | None
    warnings: tuple[str, ...] = ()  # e.g. every row holds one class, or float32 rounded some values


def single_class_problem(name: str, label: object, rows: str) -> str:
    """The words for a classification target whose ``rows`` (e.g. "every row") hold one class.

    The converter warns with them (a part of the data may hold one class); the
    trainer refuses with them (a classifier cannot learn from such rows).
    """
    return f"target {name!r} has a single class ({label!r}) in {rows}: a classifier cannot learn from it"


_LABELS = {"number": "numbers", "boolean": "true/false labels", "text": "text labels"}


class TargetCollector:
    """Streams target values to a scratch file and tracks the distinct labels."""

    def __init__(
        self,
        scratch: Path,
        *,
        names: list[str],
        task: str,
        known_classes: list[object] | None = None,
        known_from: str = "",
        decimal: str = ".",
    ) -> None:
        self.scratch = Path(scratch)
        self.decimal = decimal  # the labels' decimal mark: which text labels are numbers, for messages
        self.names = names
        self.task = task
        self.rows = 0
        self._kind: str | None = None  # "number", "boolean" or "text", fixed by the first block
        self._vocabulary: dict[object, int] = {}  # text label -> first-appearance code
        self._distinct: set[object] | None = set()  # numeric labels; None once past the limit
        self._integral = True
        self._known = known_classes
        self._known_from = known_from  # the file the known classes come from, for messages
        self._file = open(self.scratch, "wb", buffering=0)
        self._bytes = 0  # of the scratch file: where the next block's values go
        # Where a parser process left a block's float64 values in shared memory, one of them copies
        # them into the scratch file (``rowcopies``) and this process never maps them; None: mapped here.
        self.copies: RowCopies | None = None
        self.rounded = RoundedTargets(names)  # the values float32 rounds, for a regression target's warnings

    def add(
        self,
        values: np.ndarray | SharedArray,
        *,
        source: str,
        first_line: int,
        lines: np.ndarray | Callable[[], np.ndarray] | None,
        distinct: np.ndarray | None = None,
        rounded: Rounded | None = None,
    ) -> None:
        """Append one block's target values (numbers, bool for true/false labels, or object array of text).

        ``lines``: the line of each row, or a function that finds them (only an error needs them);
        None: the block's rows are not in a CSV (``first_line`` stands for them all).
        ``distinct``, ``rounded``: the block's ``distinct_labels`` and ``rounded_in``, when a parser process found them.
        ``values`` may be a ``SharedArray`` a parser process left (see ``copies``).
        """
        if not values.shape[0]:  # every row of the block skipped: no labels, and no kind to hold the others to
            return
        if isinstance(values, SharedArray):
            if rounded is not None and self._copied(values, distinct):
                self.rounded.add(rounded, source=source, line=lambda row: _line(lines, first_line, row))
                return
            values = values.open()
        if values.dtype == bool and (values.ndim > 1 or self.task == "regression"):
            values = values.astype(np.float64)  # booleans as 1/0 where the target is numbers
        kind = {np.dtype(object): "text", np.dtype(bool): "boolean"}.get(values.dtype, "number")
        if self._kind is None:
            self._kind = kind
        if kind != self._kind:
            row = _first_text_row(values, self.decimal) if self._kind == "number" else 0  # else the whole block differs
            raise BadValueError(
                f"{source}:{_line(lines, first_line, row)}: target column {self.names[0]!r} has"
                f" {excerpt(str(values[row]))!r}, {_LABELS[kind]} from here on but {_LABELS[self._kind]} before;"
                " make the labels all numbers, all true/false or all other text"
            )
        if kind == "boolean":  # classes false, true: codes 0 and 1 whichever the block holds
            for label in ("false", "true"):
                self._vocabulary.setdefault(label, len(self._vocabulary))
            values = np.where(values, "true", "false").astype(object)
            kind = "text"
        if kind == "text":
            if len(self.names) > 1:
                raise SchemaError(
                    f"target column {self.names[0]!r} holds text; several target columns must be numbers (regression)"
                )
            if self.task == "regression":
                row = _first_text_row(values, self.decimal)
                raise BadValueError(
                    f"{source}:{_line(lines, first_line, row)}: target {self.names[0]!r} has {excerpt(values[row])!r},"
                    " which is not a number; regression needs numbers: pass --task classification"
                )
            codes = np.empty(len(values), dtype=np.int64)
            vocab = self._vocabulary
            for i, label in enumerate(values):
                code = vocab.get(label)
                if code is None:
                    code = vocab[label] = len(vocab)
                codes[i] = code
            self._write(codes)
        else:
            values = np.asarray(values)
            if values.dtype.kind in "iu" and values.size and np.abs(values).max() > FLOAT64_MAX_EXACT_INT:
                at = int(np.flatnonzero(np.abs(values).ravel() > FLOAT64_MAX_EXACT_INT)[0])
                raise BadValueError(
                    f"{source}:{_line(lines, first_line, at // len(self.names))}: target {self.names[at % len(self.names)]!r} has"
                    f" {values.flat[at]}, an integer beyond 2**53, which cannot be stored exactly (an identifier"
                    " rather than a label?); pick another --target"
                )
            as_float = values.astype(np.float64, copy=False)  # float64 already when a parser process read it
            self._tally(as_float, distinct)
            found = rounded if rounded is not None else rounded_in(as_float)
            self.rounded.add(found, source=source, line=lambda row: _line(lines, first_line, row))
            self._write(np.ascontiguousarray(as_float))
        self.rows += len(values)

    def _copied(self, values: SharedArray, distinct: np.ndarray | None) -> bool:
        """Have a parser process copy a block's float64 values into the scratch file, if they need no look here."""
        if self.copies is None or np.dtype(values.dtype) != np.float64 or self._kind not in (None, "number"):
            return False  # not numbers read exactly as float64 (integers beyond 2**53), or a kind to refuse here
        if distinct is None and (self._integral or self._distinct is not None):
            return False  # the distinct values are wanted, and only these values tell them
        self._kind = "number"
        self._tally(None, distinct)
        self.copies.add(values.name, [(self._bytes, 0, values.nbytes)], path=self.scratch)
        self._bytes += values.nbytes
        self.rows += values.shape[0]
        return True

    def _tally(self, values: np.ndarray | None, distinct: np.ndarray | None) -> None:
        """Note a block's numeric labels: whether all are integers, and which there are (up to the limit)."""
        if distinct is None and (self._integral or self._distinct is not None):
            distinct = sorted_distinct(values)  # not tallied by a parser, or more labels than it keeps
        if self._integral and not np.all(distinct == np.rint(distinct)):  # NaN too is not integral
            self._integral = False
        if self._distinct is not None:
            self._distinct.update(distinct.tolist())
            if len(self._distinct) > MAX_AUTO_CLASSES and self.task == "auto":
                self._distinct = None

    def _write(self, values: np.ndarray) -> None:
        """Write a block's values at their place in the scratch file (blocks copied in by parsers lie between)."""
        view = memoryview(values).cast("B")
        while view:
            written = os.pwrite(self._file.fileno(), view, self._bytes)
            view, self._bytes = view[written:], self._bytes + written

    @property
    def _labels_are_text(self) -> bool:
        return self._kind in ("text", "boolean")  # true/false labels are stored as the classes "false", "true"

    def _decide(self) -> str:
        if self._labels_are_text:
            if self.task == "auto" and len(self._vocabulary) > MAX_AUTO_CLASSES:
                raise SchemaError(
                    f"target {self.names[0]!r} has more than {MAX_AUTO_CLASSES} distinct text labels;"
                    " pass --task classification to keep them all as classes"
                )
            return "classification"
        if self.task != "auto":
            return self.task
        if len(self.names) == 1 and self._integral and self._distinct is not None:
            return "classification"
        return "regression"

    def _check_known_kind(self) -> None:
        """Known classes (from --append or --like) must be labels of the same kind as the new ones."""
        known = label_kind(self._known or [])
        kind = "text" if self._labels_are_text else self._kind
        if known is not None and kind is not None and known != kind:
            here = "text" if kind == "text" else "numbers"
            there = "text" if known == "text" else "numeric"
            raise SchemaError(
                f"target {self.names[0]!r} holds {here} here but {self._known_from} has {there} classes "
                f"({excerpt(', '.join(map(str, self._known[:5])))}); files converted alike need labels "
                "alike: all text or all numbers"
            )

    def finish(self, writer, *, chunk_rows: int) -> TargetSummary:
        """Write ``/target`` through ``writer`` and return what was stored."""
        self._file.close()
        task = self._decide()
        width = len(self.names)
        if task == "classification" and width > 1:
            raise SchemaError("classification takes one target column; pass one --target, or --task regression")
        if task == "regression":
            write_numbers(writer, _scratch_passes(self.scratch, self._bytes, np.float64, width), self.names, rows=self.rows)
            return TargetSummary(task, [], None, self.rounded.warnings(self.rows))
        self._check_known_kind()
        if self._labels_are_text:
            classes, convert = _text_codes(self._vocabulary, self._known)
            check_storable_text(classes, column=self.names[0])
            raw_dtype = np.int64
        else:
            if self._distinct is None:
                raise SchemaError(f"target {self.names[0]!r} has too many distinct values for classification")
            classes, convert = _number_codes(self._distinct, self._known)
            raw_dtype = np.float64
        code_dtype = class_code_dtype(max(len(classes), 1))
        counts = np.zeros(len(classes), dtype=np.int64)
        writer.create_target(
            (), code_dtype, attrs={COLUMNS: self.names, TASK: task, CLASSES: _classes_attr(classes)}, rows=self.rows
        )
        for block in _scratch_passes(self.scratch, self._bytes, raw_dtype, 1):
            codes = convert(block)
            counts += _class_counts(codes, len(classes))
            writer.append_target(codes.astype(code_dtype, copy=False))
        warning = _single_class_warning(self.names[0], classes, counts)
        if warning is None and not self._labels_are_text and len(classes) > MAX_AUTO_CLASSES:  # asked for: said, kept
            warning = (
                f"target {self.names[0]!r} holds {len(classes):,} classes, one per distinct number;"
                " pass --task regression if it is a quantity"
            )
        return TargetSummary(task, classes, counts, (warning,) if warning else ())

    def close(self) -> None:
        """Remove the scratch file."""
        if not self._file.closed:
            self._file.close()
        self.scratch.unlink(missing_ok=True)


def _first_text_row(labels: np.ndarray, decimal: str) -> int:
    """The row of the first label that is not a number, in a block read as text labels (0 if none is found)."""
    from .reader import NUMBERS, cell_kind  # the parsers' reading of a cell; loaded only for this error

    return next((i for i, label in enumerate(labels) if label is not None and cell_kind(label, decimal) != NUMBERS), 0)


def _line(lines: np.ndarray | Callable[[], np.ndarray] | None, first_line: int, row: int) -> int:
    """The line of a block's ``row``, from ``lines`` as ``TargetCollector.add`` takes them."""
    if lines is None:
        return first_line
    return int((lines() if callable(lines) else lines)[row])


def _scratch_passes(scratch: Path, size: int, dtype: type, width: int):
    """The scratch file's values, ``_ROWS_PER_PASS`` rows at a time, mapped (a read would copy them once more).

    ``size``: the bytes written to it (an empty file cannot be mapped). The map is not closed here:
    the caller may still hold the last rows; it goes with the last view of it.
    """
    if not size:
        return
    with open(scratch, "rb") as fh:
        values = np.frombuffer(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), dtype=dtype)
    step = _ROWS_PER_PASS * width
    for start in range(0, values.size, step):
        yield values[start : start + step]


def _single_class_warning(name: str, classes: list[object], counts: np.ndarray) -> str | None:
    present = np.flatnonzero(counts)
    if present.size != 1:
        return None
    return (
        single_class_problem(name, classes[int(present[0])], "every row")
        + " alone; fine for a part of data that comes in parts: train on it with the others"
        " (a glob of parts, or csv2h5 merge), or pass --task regression if the target is a number"
    )


def _text_codes(vocabulary: dict[object, int], known: list[object] | None) -> tuple[list[object], Callable]:
    """Text labels' classes (the known first, keeping their codes) and a function from first-appearance codes to theirs."""
    labels = unite([known or [], sorted(vocabulary, key=str)])
    position = {label: i for i, label in enumerate(labels)}
    remap = np.empty(len(vocabulary), dtype=np.int64)
    for label, code in vocabulary.items():
        remap[code] = position[label]
    return [str(x) for x in labels], lambda block: remap[block]


def _number_codes(distinct: set[object], known: list[object] | None) -> tuple[list[object], Callable]:
    """Numeric labels' classes (the known first, keeping their codes) and a function from float64 labels to codes."""
    ordered = unite([[float(x) for x in known] if known is not None else [], sorted(distinct)])
    lookup_keys = np.asarray(ordered, dtype=np.float64)
    integral = all(float(x).is_integer() for x in ordered)
    classes = [int(x) if integral else float(x) for x in ordered]
    if np.array_equal(lookup_keys, np.arange(len(ordered))):  # labels 0..K-1 in order: each is its own code
        return classes, lambda block: block.astype(class_code_dtype(max(len(ordered), 1)))
    order = np.argsort(lookup_keys)
    sorted_keys = lookup_keys[order]
    return classes, lambda block: order[np.searchsorted(sorted_keys, block)]


def _class_counts(codes: np.ndarray, classes: int) -> np.ndarray:
    """How many of ``codes`` hold each class: a pass per class for a few (no int64 copy as bincount makes), else bincount."""
    if classes <= 8:
        return np.array([np.count_nonzero(codes == k) for k in range(classes)], dtype=np.int64)
    return np.bincount(codes, minlength=classes)


def target_numbers(values: np.ndarray) -> np.ndarray:
    """Numeric target values as the float64 the scratch file holds, where that is exact (run in the parser processes).

    Integers of 2**53 or more stay as they are: the main process refuses them, naming the line.
    Booleans and text stay too (their kind decides how they are stored).
    """
    exact = values.dtype.kind == "f" or (
        values.dtype.kind in "iu"
        and (not values.size or -FLOAT64_MAX_EXACT_INT <= values.min() <= values.max() <= FLOAT64_MAX_EXACT_INT)
    )
    return values.astype(np.float64, copy=False) if exact else values


def distinct_labels(values: np.ndarray, *, limit: int | None = MAX_AUTO_CLASSES) -> np.ndarray | None:
    """The distinct values of a numeric target as float64, sorted; None if there are more than ``limit``.

    Run in the parser processes on each block (a sort of its labels), so the
    main process only unites small sets. Past ``limit`` the task is regression
    unless --task classification says otherwise (the main process then tallies).
    """
    found = sorted_distinct(np.asarray(values).astype(np.float64, copy=False))
    return None if limit is not None and found.size > limit else found


def sorted_distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-D numeric array, sorted, NaN (if any) once at the end: ``np.unique``'s answer.

    Not ``np.unique`` itself: its first call imports ``numpy.ma`` (10-25 ms), which every
    parser process paid on its first block.
    """
    ordered = np.sort(values, axis=None)  # flattened, as np.unique reads several target columns
    if ordered.size < 2:
        return ordered
    new = np.empty(ordered.size, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])  # -0.0 == 0.0; every NaN differs
    found = ordered[new]
    if ordered.dtype.kind == "f" and np.isnan(found[-1]):
        found = found[: found.size - int(np.count_nonzero(np.isnan(found))) + 1]  # NaNs sort last
    return found


def _classes_attr(classes: list[object]) -> object:
    if classes and all(isinstance(c, str) for c in classes):
        return [str(c) for c in classes]  # stored as UTF-8 strings
    if all(isinstance(c, int) for c in classes):
        return np.asarray(classes, dtype=np.int64)
    return np.asarray(classes, dtype=np.float64)

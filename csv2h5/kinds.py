"""The kind of every feature column: numbers, booleans (stored 0/1), text (stored as codes), or dates.

The user fixes some kinds (``--categorical NAME``, ``--datetime``; ``--like`` and
``--append`` take every kind from their file). The others are decided from the
cells: parser processes report, per block and column, which kinds of cell they
found (``reader.cells`` flags), and this module unites them:

- numbers and empty cells: a number column; booleans and empty cells: a boolean column;
- text (with or without numbers): codes with ``--categorical auto``, else an
  error that lists every text column at once with the options to pass;
- booleans beside anything else: an error naming both cells;
- only empty cells: undecided until a block has values.

The decision is made on the first ``infer_bytes`` of data, whose blocks are held
back until then, so it does not depend on the block size. Every later block must
agree: a cell of another kind (text in a column of numbers, say) stops the
conversion with an error naming it; nothing is ever stored half one way.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .errors import BadValueError, OptionError, excerpt
from .reader import (BOOLEANS, DATELIKE, DECIMAL_COMMA, NUMBERS, TEXT, ParsedBlock, ParsePlan, TextBlock, cell_kind,
                     first_cells, parse_block, row_lines)
from .schema import ColumnRoles

UNDECIDED, NUMBER, BOOLEAN, CATEGORY, DATETIME = range(5)
_CELLS = NUMBERS | BOOLEANS | TEXT
# The kinds of cell each kind of column takes (categorical and datetime columns are read as such).
_ALLOWED = np.array([_CELLS, NUMBERS, BOOLEANS, _CELLS, _CELLS], dtype=np.uint8)
_WORDS = {NUMBER: "numbers", BOOLEAN: "booleans (true/false)"}

Held = tuple[TextBlock, ParsedBlock]

# An identifier: codes that mean nothing to a model, one per row. Counted only from this many
# cells on: ten rows of ten cities are all distinct too.
IDENTIFIER_MIN_CELLS = 50
IDENTIFIER_DISTINCT_SHARE = 0.9  # at least this share of the non-empty cells are distinct values
_ID_WORDS = {"id", "ids", "uuid", "guid"}


def named_like_identifier(name: str) -> bool:
    """Whether a column name ends in the word id: ``id``, ``ID``, ``customer_id``, ``CustomerID``, ``userId``, ``uuid``.

    Words are split at non-letters and at camel case, so ``paid`` and ``valid`` are not.
    """
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", name)
    return bool(words) and words[-1].lower() in _ID_WORDS


def counted_like_identifier(distinct: int, cells: int) -> bool:
    """Whether ``distinct`` values among ``cells`` non-empty cells are about one per row."""
    return cells >= IDENTIFIER_MIN_CELLS and distinct >= IDENTIFIER_DISTINCT_SHARE * cells


def identifiers_as_codes(names: Sequence[str], category_counts: dict[int, np.ndarray]) -> list[str]:
    """The categorical columns (by feature position) whose codes are about one per row: identifiers, free text."""
    found = []
    for j, counts in sorted(category_counts.items()):
        if counted_like_identifier(int(np.count_nonzero(counts)), int(counts.sum())):
            found.append(names[j])
    return found


@dataclasses.dataclass(frozen=True)
class StoredKinds:
    """The kinds of an existing file's columns (``--append``, ``--like``): every column is decided."""

    path: str
    categorical: frozenset[str]
    boolean: frozenset[str]
    datetime: frozenset[str]


class ColumnKinds:
    """Decides the kind of each feature column, then checks every block against it.

    Blocks go in (``admit``) in input order and come out ready to write: held
    back while the first ``infer_bytes`` decide, read again where a decision
    needs what the first reading did not keep (codes of a column found to be
    text). ``plan`` is the ParsePlan to parse the blocks to come with.
    """

    def __init__(self, roles: ColumnRoles, plan: ParsePlan, *, max_categories: int, infer_bytes: int,
                 stored: StoredKinds | None = None,
                 reparse: Callable[[TextBlock, ParsePlan], ParsedBlock] = parse_block) -> None:
        self.names = roles.feature_names
        self.positions = roles.features  # CSV position of each feature column
        count = len(self.positions)
        self.kind = np.full(count, UNDECIDED, dtype=np.uint8)
        self.explicit = np.zeros(count, dtype=bool)  # categorical by name: no --max-categories bound
        feature = {col: j for j, col in enumerate(self.positions)}
        for col in roles.categorical:
            self.kind[feature[col]], self.explicit[feature[col]] = CATEGORY, True
        for col in roles.datetime:
            self.kind[feature[col]] = DATETIME
        self.auto = roles.categorical_auto
        self.stored = stored
        if stored is not None:
            self._adopt(stored)
        self.max_categories = max_categories
        self.infer_bytes = infer_bytes
        self._reparse = reparse
        self.seen = np.zeros(count, dtype=np.uint8)  # cells found so far, per column
        self.not_dates = np.zeros(count, dtype=bool)  # a text cell that is not an ISO date was found
        self.not_commas = np.zeros(count, dtype=bool)  # a text cell that is not a number with a decimal comma
        self._window: list[Held] | None = [] if stored is None else None
        self._held_bytes = 0
        self._window_end: tuple[str, int] | None = None  # the last line that decided, for messages
        self._decided_late: dict[int, tuple[str, int]] = {}  # columns empty until a later block decided them
        self.plan = self._plan(plan)

    def _adopt(self, stored: StoredKinds) -> None:
        chosen = {CATEGORY: stored.categorical, BOOLEAN: stored.boolean, DATETIME: stored.datetime}
        for j, name in enumerate(self.names):
            kind = next((k for k, names in chosen.items() if name in names), NUMBER)
            if self.kind[j] not in (UNDECIDED, kind):
                given = "--categorical" if self.kind[j] == CATEGORY else "--datetime"
                raise OptionError(f"{stored.path} stores column {name!r} as {_kind_name(kind)}, so {given} {name}"
                                  f" would store other values beside them; drop {given} {name}")
            self.kind[j] = kind
            self.explicit[j] = kind == CATEGORY

    def _plan(self, plan: ParsePlan) -> ParsePlan:
        def of(kind: int) -> tuple[int, ...]:
            return tuple(self.positions[j] for j in np.flatnonzero(self.kind == kind))

        return dataclasses.replace(plan, categorical=of(CATEGORY), boolean=of(BOOLEAN), datetime=of(DATETIME))

    # -- blocks in, blocks out -----------------------------------------------------------

    @property
    def deciding(self) -> bool:
        """Whether blocks are still held back to decide the kinds (the blocks of the first ``infer_bytes``)."""
        return self._window is not None

    def admit(self, block: TextBlock, parsed: ParsedBlock) -> list[Held]:
        """Take the next block; return the blocks now ready to write, in order.

        The blocks that end within the first ``infer_bytes`` of data (at least one
        block) decide; the reader cuts a block there, so they are the same whatever
        the block size.
        """
        ready: list[Held] = []
        if self._window is not None:
            if not self._window or self._held_bytes + block.size <= self.infer_bytes:
                self._window.append((block, parsed))
                self._held_bytes += block.size
                return ready
            ready = self._close()
        if self._window_end is None:
            self._window_end = (block.source, block.first_line - 1)
        self._check(block, parsed)
        ready.append(self._readable(block, parsed))
        return ready

    def flush(self) -> list[Held]:
        """At the end of the input: the blocks still held back."""
        return self._close() if self._window is not None else []

    def _close(self) -> list[Held]:
        window, self._window = self._window, None
        for _, parsed in window:
            self._see(parsed.cells)
        self._decide(window)
        return [self._readable(block, parsed) for block, parsed in window]

    def _see(self, cells: np.ndarray) -> None:
        self.seen |= cells
        self.not_dates |= ((cells & TEXT) != 0) & ((cells & DATELIKE) == 0)
        self.not_commas |= ((cells & TEXT) != 0) & ((cells & DECIMAL_COMMA) == 0)

    def _readable(self, block: TextBlock, parsed: ParsedBlock) -> Held:
        """The block as the current plan reads it: parsed again if it lacks codes of a categorical column."""
        if any(j not in parsed.categories for j in np.flatnonzero(self.kind == CATEGORY)):
            parsed = self._reparse(block, self.plan)
        return block, parsed

    # -- deciding and checking --------------------------------------------------------------

    def _decide(self, blocks: list[Held]) -> None:
        undecided = self.kind == UNDECIDED
        cells = self.seen & _CELLS
        has_booleans = (cells & BOOLEANS) != 0
        mixed = undecided & has_booleans & ((cells & (NUMBERS | TEXT)) != 0)
        text = undecided & ~has_booleans & ((cells & TEXT) != 0)
        if text.any() and not self.auto:
            raise self._text_error(np.flatnonzero(text), np.flatnonzero(mixed), blocks)
        if mixed.any():
            raise self._mixed_error(int(np.flatnonzero(mixed)[0]), blocks)
        before = self.kind.copy()
        self.kind[text] = CATEGORY
        self.kind[undecided & (cells == BOOLEANS)] = BOOLEAN
        self.kind[undecided & (cells == NUMBERS)] = NUMBER
        if not np.array_equal(before, self.kind):
            self.plan = self._plan(self.plan)

    def _check(self, block: TextBlock, parsed: ParsedBlock) -> None:
        """Raise if the block holds cells its columns' kinds do not take; decide columns seen for the first time."""
        cells = parsed.cells
        wrong = cells & ~_ALLOWED[self.kind] & _CELLS
        if wrong.any():
            raise self._late_error(block, parsed, wrong)
        new = (self.kind == UNDECIDED) & (cells != 0)
        self._see(cells)
        if new.any():  # empty in the rows before: this block decides
            self._decide([(block, parsed)])
            for j in np.flatnonzero(new):
                self._decided_late[int(j)] = (block.source, block.first_line)

    def auto_columns(self) -> list[int]:
        """Positions of the columns --categorical auto made categorical."""
        return [int(j) for j in np.flatnonzero((self.kind == CATEGORY) & ~self.explicit)]

    def bounded(self, column: int) -> bool:
        """Whether the column's vocabulary is bounded by --max-categories (auto chose it)."""
        return bool(self.kind[column] == CATEGORY and not self.explicit[column])

    def names_of(self, kind: int) -> list[str]:
        return [self.names[j] for j in np.flatnonzero(self.kind == kind)]

    def dates_as_codes(self) -> list[str]:
        """Columns --categorical auto stores as codes whose every cell is an ISO date: --datetime is meant."""
        return [self.names[j] for j in self.auto_columns() if self.seen[j] & TEXT and not self.not_dates[j]]

    # -- the words ------------------------------------------------------------------------

    def _evidence(self, blocks: Sequence[Held], wanted: dict[int, int]) -> dict[int, tuple[int, str, int, str]]:
        """For each feature column: (block order, source, line, cell) of its first cell of the ``wanted`` kinds.

        A column whose cell is not found again (the parser and this search disagree
        on an odd cell) is named at the first block that reported it.
        """
        found: dict[int, tuple[int, str, int, str]] = {}
        remaining = dict(wanted)
        for order, (block, parsed) in enumerate(blocks):
            here = {j: flags for j, flags in remaining.items() if parsed.cells[j] & flags}
            cells = first_cells(block, self.plan, {self.positions[j]: flags for j, flags in here.items()})
            for j in here:
                if self.positions[j] in cells:
                    found[j] = (order, block.source, *cells[self.positions[j]])
                    del remaining[j]
            if not remaining:
                break
        for j in remaining:
            order, (block, _) = next((i, held) for i, held in enumerate(blocks) if held[1].cells[j] & remaining[j])
            found[j] = (order, block.source, block.first_line, "?")
        return found

    def _categorical_list(self, columns: Iterable[int]) -> str:
        """What to pass to --categorical: the columns named already, then these, in file order."""
        chosen = set(int(j) for j in columns) | set(np.flatnonzero(self.explicit).tolist())
        names = (["auto"] if self.auto else []) + [self.names[j] for j in sorted(chosen)]
        return _shell_list(names)

    def _text_error(self, text: np.ndarray, mixed: np.ndarray, blocks: Sequence[Held]) -> BadValueError:
        found = self._evidence(blocks, {int(j): TEXT for j in text})
        j = min(found, key=lambda k: (found[k][0], found[k][2], k))
        _, source, line, cell = found[j]
        columns = sorted(set(text.tolist()) | set(mixed.tolist()))
        others = [self.names[k] for k in columns if k != j]
        message = f"{source}:{line}: column {self.names[j]!r} has {excerpt(cell)!r}, which is not a number"
        if others:
            message += (f", and {len(others)} more column{'s hold' if len(others) > 1 else ' holds'} text"
                        f" ({excerpt(', '.join(others), 200)})")
        return BadValueError(message + self._text_advice(columns, set(mixed.tolist()), blocks))

    def _text_advice(self, columns: list[int], mixed: set[int], blocks: Sequence[Held]) -> str:
        """What to pass for these text columns, split by what they hold: categories, identifiers, dates, decimal commas."""
        dialect = self.plan.dialect
        commas = [k for k in columns if k not in mixed and not self.not_commas[k]
                  and dialect.decimal == "." and dialect.delimiter != ","]
        dates = [k for k in columns if k not in mixed and k not in commas and not self.not_dates[k]]
        identifiers = [k for k in columns if k not in commas and k not in dates and self._identifier(k, blocks)]
        codes = [k for k in columns if k not in commas and k not in dates and k not in identifiers]
        if not (commas or dates or identifiers):
            them = "them" if len(codes) > 1 else "text"
            return (f"; pass --categorical {self._categorical_list(codes)} to store {them} as codes"
                    f" (or --categorical auto for every text column), or --drop {self._list(codes)}")
        options, why = [], []
        if codes:
            options.append(f"--categorical {self._categorical_list(codes)}")
            why.append(f"{self._names(codes)}: text, stored as codes, or --drop {self._list(codes)}")
        if identifiers:
            options.append(f"--drop {self._list(identifiers)}")
            why.append(f"{self._names(identifiers)}: {'an identifier' if len(identifiers) == 1 else 'identifiers'}"
                       " (named so, or a distinct value in almost every row), whose codes mean nothing to a model")
        if dates:
            options.append(f"--datetime {self._list(dates)}")
            why.append(f"{self._names(dates)}: ISO dates, stored as seconds since 1970")
        if commas:
            options.append("--decimal ,")
            cell = next(iter(self._evidence(blocks, {commas[0]: TEXT}).values()))[3]
            why.append(f"{self._names(commas)}: numbers written with a decimal comma, such as {excerpt(cell)!r}")
        return f"; pass {' '.join(options)} ({'; '.join(why)})"

    def _identifier(self, column: int, blocks: Sequence[Held]) -> bool:
        """Whether a text column looks like an identifier: named so, or about one distinct value per row here."""
        if named_like_identifier(self.names[column]):
            return True
        values: set[object] = set()
        cells = 0
        for _, parsed in blocks:
            codes = parsed.features[:, column]
            valid = ~np.isnan(codes) if codes.dtype.kind == "f" else np.ones(codes.shape, dtype=bool)
            cells += int(np.count_nonzero(valid))
            if column in parsed.categories:
                values.update(parsed.categories[column])
            else:  # only numbers in this block: count them as their text would be
                values.update(str(v) for v in np.unique(codes[valid]))
        return counted_like_identifier(len(values), cells)

    def _names(self, columns: Sequence[int]) -> str:
        return excerpt(", ".join(self.names[k] for k in columns), 200)

    def _list(self, columns: Sequence[int]) -> str:
        return _shell_list([self.names[k] for k in columns])

    def _mixed_error(self, j: int, blocks: Sequence[Held]) -> BadValueError:
        boolean = self._evidence(blocks, {j: BOOLEANS})[j]
        _, source, line, cell = self._evidence(blocks, {j: NUMBERS | TEXT})[j]
        name = self.names[j]
        return BadValueError(
            f"{source}:{line}: column {name!r} has {excerpt(cell)!r} beside booleans (such as {excerpt(boolean[3])!r}"
            f" at line {boolean[2]}); a column holds booleans (true/false), numbers or text, not a mix: fix the"
            f" cell, or pass --categorical {self._categorical_list([j])} to store every cell as text codes")

    def _late_error(self, block: TextBlock, parsed: ParsedBlock, wrong: np.ndarray) -> BadValueError:
        columns = np.flatnonzero(wrong)
        found = self._evidence([(block, parsed)], {int(j): int(wrong[j]) for j in columns})
        j = min(found, key=lambda k: (found[k][2], k))
        _, source, line, cell = found[j]
        name, kind = self.names[j], int(self.kind[j])
        what = "which is not true or false" if kind == BOOLEAN else (
            "a boolean" if cell_kind(cell) == BOOLEANS else "which is not a number")
        if self.stored is not None:
            return BadValueError(f"{source}:{line}: column {name!r} has {excerpt(cell)!r}, {what}, but {self.stored.path}"
                                 f" stores it as {_WORDS[kind]}; fix the cell, or convert without --append/--like")
        if j in self._decided_late:  # empty in the first rows; a later block decided
            since_source, since_line = self._decided_late[j]
            since = f"line {since_line}" if since_source == source else f"{since_source}:{since_line}"
            before = f"its cells from {since} on, which decided its kind, were only {_WORDS[kind]}"
        else:
            end_source, end_line = self._window_end
            end = f"line {end_line}" if end_source == source else f"{end_source}:{end_line}"
            before = f"the first rows (to {end}), which decide each column's kind, held only {_WORDS[kind]}"
        others = [self.names[k] for k in columns if k != j]
        also = f"; so do {excerpt(', '.join(others), 200)} in this block" if others else ""
        head = f"{source}:{line}: column {name!r} has {excerpt(cell)!r}, {what}, but {before}{also}"
        codes = [k for k in columns if not named_like_identifier(self.names[k])]
        if len(codes) < len(columns):  # identifiers are never suggested as codes
            ids = [k for k in columns if k not in codes]
            advice = f"; pass --drop {self._list(ids)} ({self._names(ids)}: named like an identifier)"
            if codes:
                advice += (f", and --categorical {self._categorical_list(codes)} to store the rest as text codes from"
                           " the first row")
            return BadValueError(head + advice)
        return BadValueError(
            f"{head}; pass --categorical {self._categorical_list(columns)} to store the column as text codes from the"
            f" first row, or --drop {_shell_list([self.names[k] for k in columns])}")

    def too_many_values(self, column: int, block: TextBlock, row: int, cells: int | None = None) -> BadValueError:
        """The error for a column --categorical auto chose whose vocabulary passed --max-categories at ``row``.

        ``cells``: the column's non-empty cells so far, to tell an identifier (about one value per row).
        """
        line = int(row_lines(block, self.plan)[row])
        name = self.names[column]
        where = (f"{block.source}:{line}: column {name!r} has more than {self.max_categories} distinct values"
                 " (--max-categories), too many for --categorical auto to call it categorical")
        keep = (f"; or keep it as codes: --categorical {self._categorical_list([column])} (no bound)"
                " or --max-categories N")
        if self.seen[column] & TEXT and not self.not_dates[column]:
            return BadValueError(f"{where}: its cells are ISO dates; pass --datetime {_shell_list([name])} to store"
                                 f" them as seconds since 1970, or --drop {_shell_list([name])}")
        if named_like_identifier(name) or (cells is not None and counted_like_identifier(self.max_categories + 1, cells)):
            return BadValueError(f"{where}: it looks like an identifier (a distinct value in almost every row, or named"
                                 f" so), whose codes mean nothing to a model; pass --drop {_shell_list([name])}")
        return BadValueError(f"{where}: an identifier or free text? pass --drop {_shell_list([name])}{keep}")


def _kind_name(kind: int) -> str:
    return {NUMBER: "numbers", BOOLEAN: "booleans", CATEGORY: "categorical codes", DATETIME: "dates"}[kind]


def _shell_list(names: Sequence[str]) -> str:
    """Names as one comma-separated option value, quoted for a shell when it needs to be."""
    return shlex.quote(",".join(names))

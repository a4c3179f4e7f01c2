"""What a feature column's kind is (numbers, booleans stored 0/1, text stored as codes, dates) and the words of a refusal.

``columnkinds.ColumnKinds`` decides each column's kind and checks every block
against it; when a cell does not fit, ``KindAdvice`` names the cell, where it is,
and what to pass instead (``--categorical``, ``--datetime``, ``--drop``,
``--decimal``), telling identifiers and dates from categories.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import COMMENT_LINE_HINT, COMMENTED_HEADER_HINT, BadValueError, SchemaError, begins_comment, excerpt, number_text
from .reader import BOOLEANS, NUMBERS, TEXT, ParsedBlock, TextBlock, cell_kind, first_cells, missing_mark, row_lines
from .shared import received

if TYPE_CHECKING:
    from .columnkinds import ColumnKinds
    from .stats import ColumnStats

UNDECIDED, NUMBER, BOOLEAN, CATEGORY, DATETIME = range(5)
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


def code_warnings(
    dates: Sequence[str],
    names: Sequence[str],
    category_counts: dict[int, np.ndarray],
    stats: ColumnStats | None = None,
    *,
    like: str | None = None,
) -> list[str]:
    """Warnings for columns stored as codes that look like dates (``dates``) or identifiers, for columns named like
    identifiers stored as numbers, and for empty columns. ``like``: the file this one takes its column roles from
    (``--like``), which refuses the options the advice names: they go to that file's conversion."""

    def advise(option: str) -> str:
        return option if like is None else f"{option} when converting {like}, whose columns this file takes (--like)"

    empty = [] if stats is None else [n for n, c, nan in zip(names, stats.count, stats.nan_count) if c == 0 < nan]
    # Under --like a part may hold no values where the reference does: the column keeps its role, nothing to drop.
    found = [
        f"column {name!r} is empty in every row (stored as NaN, which also makes the file's type a float one); "
        + (f"--drop {name}" if like is None else f"it keeps the role it has in {like} (--like)")
        for name in empty
    ]
    found += [
        f"column {name!r} looks like dates and is stored as categorical codes;"
        f" pass {advise(f'--datetime {name}')} for seconds since 1970 instead"
        for name in dates
    ]
    for name in [n for n in identifiers_as_codes(names, category_counts) if n not in dates]:
        found.append(
            f"column {name!r} looks like an identifier (a distinct value in almost every row)"
            f" and is stored as categorical codes, which mean nothing to a model; {advise(f'--drop {name}')}"
        )
    found += [
        f"column {name!r} is named like an identifier and stored as numbers, which a model reads as a quantity;"
        f" {advise(f'--drop {name}')} if it is one"
        for j, name in enumerate(names)
        if j not in category_counts and named_like_identifier(name)
    ]
    return found


@dataclasses.dataclass(frozen=True)
class StoredKinds:
    """The kinds of an existing file's columns (``--append``, ``--like``): every column is decided."""

    path: str
    categorical: frozenset[str]
    boolean: frozenset[str]
    datetime: frozenset[str]


class KindAdvice:
    """The words of an error about the kinds of ``kinds``' columns: the cell, where it is, and the options to pass."""

    def __init__(self, kinds: ColumnKinds) -> None:
        self.kinds = kinds  # read, never changed: the columns, their kinds and the cells seen so far

    def _evidence(self, blocks: Sequence[Held], wanted: dict[int, int]) -> dict[int, tuple[int, str, int, str]]:
        """For each feature column: (block order, source, line, cell) of its first cell of the ``wanted`` kinds.

        A column whose cell is not found again (the parser and this search disagree
        on an odd cell) is named at the first block that reported it.
        """
        found: dict[int, tuple[int, str, int, str]] = {}
        remaining = dict(wanted)
        for order, (block, parsed) in enumerate(blocks):
            here = {j: flags for j, flags in remaining.items() if parsed.cells[j] & flags}
            cells = first_cells(block, self.kinds.plan, {self.kinds.positions[j]: flags for j, flags in here.items()})
            for j in here:
                if self.kinds.positions[j] in cells:
                    found[j] = (order, block.source, *cells[self.kinds.positions[j]])
                    del remaining[j]
            if not remaining:
                break
        for j in remaining:
            order, (block, _) = next((i, held) for i, held in enumerate(blocks) if held[1].cells[j] & remaining[j])
            found[j] = (order, block.source, block.first_line, "?")
        return found

    def _categorical_list(self, columns: Iterable[int]) -> str:
        """What to pass to --categorical: the columns named already, then these, in file order."""
        chosen = set(int(j) for j in columns) | set(np.flatnonzero(self.kinds.explicit).tolist())
        names = (["auto"] if self.kinds.auto else []) + [self.kinds.names[j] for j in sorted(chosen)]
        return _shell_list(names)

    def text_error(self, text: np.ndarray, mixed: np.ndarray, blocks: Sequence[Held]) -> BadValueError:
        found = self._evidence(blocks, {int(j): TEXT for j in text})
        j = min(found, key=lambda k: (found[k][0], found[k][2], k))
        _, source, line, cell = found[j]
        columns = sorted(set(text.tolist()) | set(mixed.tolist()))
        others = [self.kinds.names[k] for k in columns if k != j]
        message = f"{source}:{line}: column {self.kinds.names[j]!r} has {excerpt(cell)!r}, which is not a number"
        message += _missing_mark(cell)
        if others:
            message += (
                f", and {len(others)} more column{'s hold' if len(others) > 1 else ' holds'} text"
                f" ({excerpt(', '.join(others), 200)})"
            )
        message += self._comment_hint(j, found, blocks)
        return BadValueError(message + self._text_advice(columns, set(mixed.tolist()), blocks))

    def _comment_hint(self, j: int, found: dict[int, tuple[int, str, int, str]], blocks: Sequence[Held]) -> str:
        """A hint to pass --comment when the text found is a line, or the header, beginning with ``#``; else "".

        The header is hinted at when it begins with ``#`` and the first row is text in
        every column, as the real header below a comment is (not ``# a,b,c`` above rows).
        """
        plan = self.kinds.plan
        if plan.dialect.comment is not None:
            return ""
        order, _, line, cell = found[j]
        if self.kinds.positions[j] == 0 and begins_comment(cell):
            return f" ({COMMENT_LINE_HINT})"
        first_block, first_parsed = blocks[0]
        first_row = order == 0 and first_block.after_header and line == first_parsed.first_row_line
        all_text = all(k in found and found[k][0] == 0 and found[k][2] == line for k in range(len(self.kinds.names)))
        if first_row and all_text and plan.names and begins_comment(plan.names[0]):
            return f" ({COMMENTED_HEADER_HINT})"
        return ""

    def _text_advice(self, columns: list[int], mixed: set[int], blocks: Sequence[Held]) -> str:
        """What to pass for these text columns, split by what they hold: categories, identifiers, dates, decimal commas."""
        dialect = self.kinds.plan.dialect

        def decimal_commas(k: int) -> bool:
            if k in mixed or self.kinds.not_commas[k] or dialect.decimal != ".":
                return False
            # Comma-separated, quoted cells that all read like 1,234 more likely hold a thousands
            # separator, which --decimal , would read as 1.234: no such advice for them.
            return dialect.delimiter != "," or bool(self.kinds.not_grouped[k])

        numbers = [k for k in columns if k not in mixed and self.kinds.placeholders(k)]
        if numbers == columns:  # the cell named says --na-values; codes are the other way
            numbers = []
        commas = [k for k in columns if decimal_commas(k) and k not in numbers]
        dates = [k for k in columns if k not in mixed and k not in commas + numbers and not self.kinds.not_dates[k]]
        rest = [k for k in columns if k not in commas + dates + numbers]
        identifiers = [k for k in rest if self._identifier(k, blocks)]
        codes = [k for k in rest if k not in identifiers]
        if not (commas or dates or identifiers or numbers):
            them = "them" if len(codes) > 1 else "text"
            return (
                f"; pass --categorical {self._categorical_list(codes)} to store {them} as codes"
                f" (or --categorical auto for every text column), or --drop {self._list(codes)}"
            )
        options, why = [], []
        if codes:
            options.append(f"--categorical {self._categorical_list(codes)}")
            why.append(f"{self._names(codes)}: text, stored as codes, or --drop {self._list(codes)}")
        if identifiers:
            options.append(f"--drop {self._list(identifiers)}")
            why.append(
                f"{self._names(identifiers)}: {'an identifier' if len(identifiers) == 1 else 'identifiers'}"
                " (named so, or a distinct value in almost every row), whose codes mean nothing to a model"
            )
        if dates:
            options.append(f"--datetime {self._list(dates)}")
            why.append(f"{self._names(dates)}: ISO dates, stored as seconds since 1970")
        if numbers:
            marks = self._marks(numbers, blocks)
            options.append(" ".join(f"--na-values {_shell_list([mark])}" for mark in marks))
            why.append(f"{self._names(numbers)}: numbers, with {' '.join(map(repr, marks))} for a missing cell")
        if commas:
            # Comma-separated, the decimal commas were quoted; --decimal , alone would assume ';'.
            options.append("--decimal , --delimiter ," if dialect.delimiter == "," else "--decimal ,")
            cell = next(iter(self._evidence(blocks, {commas[0]: TEXT}).values()))[3]
            why.append(f"{self._names(commas)}: numbers written with a decimal comma, such as {excerpt(cell)!r}")
        return f"; pass {' '.join(options)} ({'; '.join(why)})"

    def _marks(self, columns: Sequence[int], blocks: Sequence[Held]) -> list[str]:
        """The placeholders (``missing_mark``) of these columns of numbers, each once: the cells of their
        blocks' vocabularies that are not numbers."""
        decimal = self.kinds.plan.dialect.decimal
        cells = (cell for k in columns for _, parsed in blocks for cell in parsed.categories.get(k, ()))
        return list(dict.fromkeys(missing_mark(cell) or cell for cell in cells if cell_kind(cell, decimal) == TEXT))

    def placeholder_error(self, columns: np.ndarray, blocks: Sequence[Held]) -> BadValueError:
        """Columns of numbers but for placeholders (``?``) that --categorical auto would store as codes."""
        found = self._evidence(blocks, {int(j): TEXT for j in columns})
        j = min(found, key=lambda k: (found[k][0], found[k][2], k))
        _, source, line, cell = found[j]
        others = [int(k) for k in columns if k != j]
        marks = self._marks([int(k) for k in columns], blocks)
        if_marks = "if they mark missing cells" if len(marks) > 1 else "if it marks a missing cell"
        na_values = " ".join(f"--na-values {_shell_list([mark])}" for mark in marks)
        return BadValueError(
            f"{source}:{line}: column {self.kinds.names[j]!r} holds numbers and {excerpt(cell)!r}, which --categorical"
            f" auto would store as codes{f' (so would {self._names(others)})' if others else ''}; {if_marks}: {na_values};"
            f" to store {'them' if others else 'it'} as codes: --categorical {self._categorical_list(columns)};"
            f" or --drop {self._list(columns)}"
        )

    def _identifier(self, column: int, blocks: Sequence[Held]) -> bool:
        """Whether a text column looks like an identifier: named so, or about one distinct value per row here."""
        if named_like_identifier(self.kinds.names[column]):
            return True
        values: set[object] = set()
        cells = 0
        for _, parsed in blocks:
            parsed.features = received(parsed.features)  # a held block's rows may still be in shared memory
            codes = parsed.features[:, column]
            valid = ~np.isnan(codes) if codes.dtype.kind == "f" else np.ones(codes.shape, dtype=bool)
            cells += int(np.count_nonzero(valid))
            if column in parsed.categories:
                values.update(parsed.categories[column])
            else:  # only numbers in this block: count them as their text would be
                values.update(str(v) for v in np.unique(codes[valid]))
        return counted_like_identifier(len(values), cells)

    def _names(self, columns: Sequence[int]) -> str:
        return excerpt(", ".join(self.kinds.names[k] for k in columns), 200)

    def _list(self, columns: Sequence[int]) -> str:
        return _shell_list([self.kinds.names[k] for k in columns])

    def mixed_error(self, j: int, blocks: Sequence[Held]) -> BadValueError:
        boolean = self._evidence(blocks, {j: BOOLEANS})[j]
        _, source, line, cell = self._evidence(blocks, {j: NUMBERS | TEXT})[j]
        name = self.kinds.names[j]
        return BadValueError(
            f"{source}:{line}: column {name!r} has {excerpt(cell)!r} beside booleans (such as {excerpt(boolean[3])!r}"
            f" at line {boolean[2]}); a column holds booleans (true/false), numbers or text, not a mix: fix the"
            f" cell, or pass --categorical {self._categorical_list([j])} to store every cell as text codes"
        )

    def late_error(self, block: TextBlock, parsed: ParsedBlock, wrong: np.ndarray) -> BadValueError:
        columns = np.flatnonzero(wrong)
        found = self._evidence([(block, parsed)], {int(j): int(wrong[j]) for j in columns})
        j = min(found, key=lambda k: (found[k][2], k))
        _, source, line, cell = found[j]
        name, kind = self.kinds.names[j], int(self.kinds.kind[j])
        what = (
            "which is not true or false"
            if kind == BOOLEAN
            else ("a boolean" if cell_kind(cell) == BOOLEANS else "which is not a number")
        )
        if self.kinds.stored is not None:
            return BadValueError(
                f"{source}:{line}: column {name!r} has {excerpt(cell)!r}, {what}, but {self.kinds.stored.path}"
                f" stores it as {_WORDS[kind]}; fix the cell, or convert without --append/--like"
            )
        if j in self.kinds.decided_late:  # empty in the first rows; a later block decided
            since_source, since_line = self.kinds.decided_late[j]
            since = f"line {since_line}" if since_source == source else f"{since_source}:{since_line}"
            before = f"its cells from {since} on, which decided its kind, were only {_WORDS[kind]}"
        else:
            end_source, end_line = self.kinds.window_end
            end = f"line {end_line}" if end_source == source else f"{end_source}:{end_line}"
            before = f"the first rows (to {end}), which decide each column's kind, held only {_WORDS[kind]}"
        others = [self.kinds.names[k] for k in columns if k != j]
        also = f"; so do {excerpt(', '.join(others), 200)} in this block" if others else ""
        head = f"{source}:{line}: column {name!r} has {excerpt(cell)!r}, {what}{_missing_mark(cell)}, but {before}{also}"
        codes = [k for k in columns if not named_like_identifier(self.kinds.names[k])]
        if len(codes) < len(columns):  # identifiers are never suggested as codes
            ids = [k for k in columns if k not in codes]
            advice = f"; pass --drop {self._list(ids)} ({self._names(ids)}: named like an identifier)"
            if codes:
                advice += (
                    f", and --categorical {self._categorical_list(codes)} to store the rest as text codes from the first row"
                )
            return BadValueError(head + advice)
        return BadValueError(
            f"{head}; pass --categorical {self._categorical_list(columns)} to store the column as text codes from the"
            f" first row, or --drop {_shell_list([self.kinds.names[k] for k in columns])}"
        )

    def late_fill_error(self, j: int, block: TextBlock, parsed: ParsedBlock) -> SchemaError:
        """Column ``j``, empty in every row before ``block``, holds booleans or text: those rows took --fill as numbers."""
        boolean = self.kinds.kind[j] == BOOLEAN
        _, source, line, cell = self._evidence([(block, parsed)], {j: BOOLEANS if boolean else TEXT})[j]
        name, fill = self.kinds.names[j], float(self.kinds.plan.fill)
        shown, missing = number_text(fill), ("boolean" if boolean else "category")
        advice = (
            f"convert without --fill (h5train fills NaN: --missing), or --drop {name}"
            if boolean
            else f"pass --categorical {name} to store it as codes from the first row"
        )
        return SchemaError(
            f"{source}:{line}: column {name!r} has {excerpt(cell)!r}, its first value; the empty cells before it took"
            f" --fill {shown} as a number column's, but a missing {missing} stays NaN"
            f" (--fill fills number columns only); {advice}"
        )

    def too_many_values(self, column: int, block: TextBlock, row: int, cells: int | None = None) -> BadValueError:
        """The error for a column --categorical auto chose whose vocabulary passed --max-categories at ``row``.

        ``cells``: the column's non-empty cells so far, to tell an identifier (about one value per row).
        """
        line = int(row_lines(block, self.kinds.plan)[row])
        name = self.kinds.names[column]
        where = (
            f"{block.source}:{line}: column {name!r} has more than {self.kinds.max_categories} distinct values"
            " (--max-categories), too many for --categorical auto to call it categorical"
        )
        keep = f"; or keep it as codes: --categorical {self._categorical_list([column])} (no bound) or --max-categories N"
        if self.kinds.seen[column] & TEXT and not self.kinds.not_dates[column]:
            return BadValueError(
                f"{where}: its cells are ISO dates; pass --datetime {_shell_list([name])} to store"
                f" them as seconds since 1970, or --drop {_shell_list([name])}"
            )
        if named_like_identifier(name) or (cells is not None and counted_like_identifier(self.kinds.max_categories + 1, cells)):
            return BadValueError(
                f"{where}: it looks like an identifier (a distinct value in almost every row, or named"
                f" so), whose codes mean nothing to a model; pass --drop {_shell_list([name])}"
            )
        return BadValueError(f"{where}: an identifier or free text? pass --drop {_shell_list([name])}{keep}")


def kind_name(kind: int) -> str:
    return {NUMBER: "numbers", BOOLEAN: "booleans", CATEGORY: "categorical codes", DATETIME: "dates"}[kind]


def _missing_mark(cell: str) -> str:
    """For a cell written for a missing value ("?" in UCI's tables, "-", "n/a"): the option that reads it as one."""
    mark = missing_mark(cell)
    return "" if mark is None else f" (if {mark!r} marks a missing cell: --na-values {_shell_list([mark])})"


def _shell_list(names: Sequence[str]) -> str:
    """Names as one comma-separated option value, quoted for a shell when it needs to be."""
    import shlex  # only for this advice: not loaded by every conversion

    return shlex.quote(",".join(names))

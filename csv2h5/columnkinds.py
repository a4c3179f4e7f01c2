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
from collections.abc import Callable

import numpy as np

from .errors import OptionError
from .kinds import BOOLEAN, CATEGORY, DATETIME, NUMBER, UNDECIDED, Held, KindAdvice, StoredKinds, kind_name
from .reader import (
    BOOLEANS,
    DATELIKE,
    DECIMAL_COMMA,
    GROUPED,
    NUMBERS,
    PLACEHOLDERS,
    TEXT,
    ParsedBlock,
    ParsePlan,
    TextBlock,
    parse_block,
)
from .schema import ColumnRoles, check_category_name
from .shared import discard

_CELLS = NUMBERS | BOOLEANS | TEXT
# The kinds of cell each kind of column takes (categorical and datetime columns are read as such).
_ALLOWED = np.array([_CELLS, NUMBERS, BOOLEANS, _CELLS, _CELLS], dtype=np.uint8)


class ColumnKinds:
    """Decides the kind of each feature column, then checks every block against it.

    Blocks go in (``admit``) in input order and come out ready to write: held
    back while the first ``infer_bytes`` decide, read again where a decision
    needs what the first reading did not keep (codes of a column found to be
    text). ``plan`` is the ParsePlan to parse the blocks to come with.
    """

    def __init__(
        self,
        roles: ColumnRoles,
        plan: ParsePlan,
        *,
        max_categories: int,
        infer_bytes: int,
        stored: StoredKinds | None = None,
        reparse: Callable[[TextBlock, ParsePlan], ParsedBlock] = parse_block,
    ) -> None:
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
        self.not_grouped = np.zeros(count, dtype=bool)  # a comma that does not group digits by three (70,5)
        self.not_placeholders = np.zeros(count, dtype=bool)  # text cells beside no numbers, or not all placeholders
        self._window: list[Held] | None = [] if stored is None else None
        self._checked: bytes | None = None  # cells of a block checked that brought nothing new (see ``_check``)
        self._held_bytes = 0
        self.window_end: tuple[str, int] | None = None  # the last line that decided, for messages
        self.decided_late: dict[int, tuple[str, int]] = {}  # columns empty until a later block decided them
        self.plan = self._plan(plan)
        self.advice = KindAdvice(self)

    def _adopt(self, stored: StoredKinds) -> None:
        chosen = {CATEGORY: stored.categorical, BOOLEAN: stored.boolean, DATETIME: stored.datetime}
        for j, name in enumerate(self.names):
            kind = next((k for k, names in chosen.items() if name in names), NUMBER)
            if self.kind[j] not in (UNDECIDED, kind):
                given = "--categorical" if self.kind[j] == CATEGORY else "--datetime"
                raise OptionError(
                    f"{stored.path} stores column {name!r} as {kind_name(kind)}, so {given} {name}"
                    f" would store other values beside them; drop {given} {name}"
                )
            self.kind[j] = kind
            self.explicit[j] = kind == CATEGORY

    def _plan(self, plan: ParsePlan) -> ParsePlan:
        def of(kind: int) -> tuple[int, ...]:
            return tuple(self.positions[j] for j in np.flatnonzero(self.kind == kind))

        for j in np.flatnonzero(self.kind == CATEGORY):
            check_category_name(self.names[j])

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
        if self.window_end is None:
            self.window_end = (block.source, block.first_line - 1)
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
        self.not_grouped |= ((cells & DECIMAL_COMMA) != 0) & ((cells & GROUPED) == 0)
        self.not_placeholders |= ((cells & TEXT) != 0) & ((cells & PLACEHOLDERS) == 0)

    def _readable(self, block: TextBlock, parsed: ParsedBlock) -> Held:
        """The block as the current plan reads it: parsed again if it lacks codes of a categorical column,
        or if --fill went into a column now found to hold booleans (read, empty in the block, as numbers)."""
        codes = self.plan.categorical and any(j not in parsed.categories for j in np.flatnonzero(self.kind == CATEGORY))
        if codes or (parsed.filled is not None and (parsed.filled & (self.kind == BOOLEAN)).any()):
            discard(parsed.features)  # rows a parser left in shared memory, now read again here
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
            raise self.advice.text_error(np.flatnonzero(text), np.flatnonzero(mixed), blocks)
        if mixed.any():
            raise self.advice.mixed_error(int(np.flatnonzero(mixed)[0]), blocks)
        numbers = [j for j in np.flatnonzero(text) if self.placeholders(j)]
        if numbers:  # auto codes text; a column of numbers with "?" for missing cells is not text
            raise self.advice.placeholder_error(np.array(numbers), blocks)
        before = self.kind.copy()
        self.kind[text] = CATEGORY
        self.kind[undecided & (cells == BOOLEANS)] = BOOLEAN
        self.kind[undecided & (cells == NUMBERS)] = NUMBER
        if not np.array_equal(before, self.kind):
            self.plan = self._plan(self.plan)

    def _check(self, block: TextBlock, parsed: ParsedBlock) -> None:
        """Raise if the block holds cells its columns' kinds do not take; decide columns seen for the first time."""
        cells = parsed.cells
        # Most blocks hold the kinds of cell the one before did: checked then, and nothing to see again.
        key = cells.tobytes()
        if key == self._checked:
            return
        wrong = cells & ~_ALLOWED[self.kind] & _CELLS
        if wrong.any():
            raise self.advice.late_error(block, parsed, wrong)
        new = (self.kind == UNDECIDED) & (cells != 0)
        self._see(cells)
        if new.any():  # empty in the rows before: this block decides
            self._decide([(block, parsed)])
            for j in np.flatnonzero(new):
                self.decided_late[int(j)] = (block.source, block.first_line)
            self._check_late_fill(new, block, parsed)
        else:  # a later block with these cells passes and decides nothing (kinds only ever get decided)
            self._checked = key

    def _check_late_fill(self, new: np.ndarray, block: TextBlock, parsed: ParsedBlock) -> None:
        """Refuse --fill in the rows before a column found to hold booleans or text only now: they hold it as numbers."""
        late = np.flatnonzero(new & ((self.kind == BOOLEAN) | (self.kind == CATEGORY)))
        if self.plan.fill is not None and late.size:
            raise self.advice.late_fill_error(int(late[0]), block, parsed)

    def placeholders(self, column: int) -> bool:
        """Whether a column's text cells are all placeholders for a missing value (?, -, n/a) among numbers."""
        return bool(self.seen[column] & PLACEHOLDERS) and not self.not_placeholders[column]

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

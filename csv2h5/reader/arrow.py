"""Reading a block with pyarrow's CSV parser: the one reader both parse paths share.

Both paths parse the same records the same way (quotes, missing-value spellings,
a byte-order mark inside the data); they differ only in the type each column is
read as.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping

from ..errors import BadLineError, InputError, excerpt
from .blocks import TextBlock
from .cells import FALSE_SPELLINGS, TRUE_SPELLINGS
from .header import BOM
from .missing import with_both_spellings
from .plan import ParsePlan

# pandas' default spellings of a missing value, so both read the same cells as NaN.
NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
# Every spelling but the empty one holds an N or an n: a block with neither byte can hold no other,
# and is read with only empty cells as missing (pyarrow then checks one spelling a cell, not 19).
EMPTY_ONLY = ("",)


def missing_spellings(data: bytes, plan: ParsePlan) -> tuple[str, ...]:
    """The missing-value spellings to read ``data`` with: all of them, or only the empty cell where no other can occur.

    Both give the same table for such a block; reading it with one spelling is faster (BENCHMARKS.md).
    """
    own = with_both_spellings(plan.dialect.na_values)
    if b"N" in data or b"n" in data or any(value.encode() in data for value in own):
        return NA_VALUES + own
    return EMPTY_ONLY


def every_spelling(plan: ParsePlan) -> tuple[str, ...]:
    """pandas' spellings and the user's, each whole number of theirs written both ways (-999 and -999.0), as pandas does."""
    return NA_VALUES + with_both_spellings(plan.dialect.na_values)


def read_table(
    data: bytes,
    plan: ParsePlan,
    column_types: Mapping[int, object],
    on_invalid_row: Callable[[object], str] | None,
    null_values: tuple[str, ...] | None = None,
):
    """Parse ``data`` into a pyarrow Table of the columns in ``column_types`` (position -> arrow type).

    ``null_values``: the cells read as missing; None: pandas' spellings and the plan's own
    (``missing_spellings`` of the block gives the same table faster).

    Raises pyarrow.ArrowInvalid for a cell that is not of its column's type, and
    for a line with the wrong number of fields unless ``on_invalid_row`` says "skip".
    """
    import pyarrow.csv as pacsv

    names = list(plan.names)
    if data.startswith(BOM):
        # pyarrow drops a byte-order mark only at the very start of what it reads; a block is
        # not the file's start, so keep the mark as the data it is (as anywhere else in a block).
        data = b"\n" + data
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=max(1 << 20, len(data) + 1)),
        parse_options=pacsv.ParseOptions(
            delimiter=plan.dialect.delimiter,
            quote_char=plan.dialect.quotechar,
            newlines_in_values=plan.dialect.quotechar.encode() in data,
            invalid_row_handler=on_invalid_row,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: kind for i, kind in column_types.items()},
            include_columns=[names[i] for i in sorted(column_types)],
            null_values=list(every_spelling(plan) if null_values is None else null_values),
            decimal_point=plan.dialect.decimal,
            **_boolean_spellings(column_types),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _boolean_spellings(column_types: Mapping[int, object]) -> dict[str, list[str]]:
    """true/false in any letter case, for the columns read as booleans: only when there are some.

    pyarrow prepares the spellings for every column it converts: with 100,000 columns
    that costs seconds and gigabytes per block (measured), for nothing when none is boolean.
    """
    import pyarrow as pa

    if not any(kind == pa.bool_() for kind in column_types.values()):
        return {}
    return {"true_values": TRUE_SPELLINGS, "false_values": FALSE_SPELLINGS}


def arrow_failure(block: TextBlock, data: bytes, exc: Exception) -> Exception:
    """Say where pyarrow's complaint is: the first byte that is not UTF-8, if that is it."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = block.first_line + data.count(b"\n", 0, bad.start)
        shown = excerpt(data[max(0, bad.start - 10) : bad.start + 10].decode("utf-8", "backslashreplace"))
        return InputError(
            f"{block.source}:{line}: not valid UTF-8 text (near {shown!r}); pass the file's --encoding (e.g. latin-1, cp1252)"
        )
    return BadLineError(
        f"{block.source}:{block.first_line}: this block cannot be parsed ({str(exc)[:200]}); "
        "check --delimiter and quoting near this line"
    )

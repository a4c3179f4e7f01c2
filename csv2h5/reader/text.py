"""The general parse path: pyarrow reads the used columns as text, then each becomes numbers.

It handles everything the fast paths do not (quotes, text, empty cells, ragged
lines) and finds the exact cell for every error message.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import BadLineError, BadValueError, InputError, excerpt
from .blocks import BOM, TextBlock
from .lines import bad_line_error, record_lines
from .plan import ParsePlan

# pandas' default spellings of a missing value, so both read the same cells as NaN.
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")



def _arrow_failure(block: TextBlock, data: bytes, exc: Exception) -> Exception:
    """Say where pyarrow's complaint is: the first byte that is not UTF-8, if that is it."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = block.first_line + data.count(b"\n", 0, bad.start)
        shown = excerpt(data[max(0, bad.start - 10): bad.start + 10].decode("utf-8", "backslashreplace"))
        return InputError(f"{block.source}:{line}: not valid UTF-8 text (near {shown!r}); "
                          "pass the file's --encoding (e.g. latin-1, cp1252)")
    return BadLineError(f"{block.source}:{block.first_line}: this block cannot be parsed ({str(exc)[:200]}); "
                        "check --delimiter and quoting near this line")


def _arrow_table(data: bytes, plan: ParsePlan, used: list[int]):
    import pyarrow as pa
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
            invalid_row_handler=lambda row: "skip",  # counted and reported by _record_lines
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: pa.string() for i in used},
            include_columns=[names[i] for i in used],
            null_values=list(NA_VALUES),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _numbers(column, *, name: str, lines: np.ndarray, source: str, hint: str) -> tuple[np.ndarray, bool]:
    """Convert a pyarrow string column to int64 or float64; (values, had empty cells)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pc.utf8_trim_whitespace(column)  # " 6 " is 6, as pandas reads it
    nulls = column.is_null()
    has_null = bool(pc.any(nulls).as_py()) if len(column) else False
    # pyarrow reads "0x1F" as 31; pandas and Python's float() call it text. Decimal only:
    # a hex-looking cell is usually an identifier, not a quantity.
    hex_like = pc.match_substring_regex(column, r"^[+-]?0[xX]") if len(column) else None
    for target_type in (pa.int64(), pa.float64()):
        if hex_like is not None and pc.any(hex_like).as_py():
            break
        try:
            converted = pc.cast(column, target_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if target_type == pa.int64():
            values = pc.fill_null(converted, 0).to_numpy()
            if has_null:
                values = values.astype(np.float64)
                values[nulls.to_numpy(zero_copy_only=False)] = np.nan
            return values, has_null
        return converted.to_numpy(zero_copy_only=False).astype(np.float64, copy=False), has_null
    for row, cell in enumerate(column.to_pylist()):
        if cell is None:
            continue
        try:
            float(cell)
        except ValueError:
            break
    else:  # pragma: no cover - pyarrow rejected a cell Python accepts (e.g. "1_0")
        row, cell = 0, column[0].as_py()
    raise BadValueError(
        f"{source}:{int(lines[row])}: column {name!r} has {excerpt(cell)!r}, which is not a number; {hint}"
    )


def parse_general(block: TextBlock, data: bytes, plan: ParsePlan) -> tuple[np.ndarray, np.ndarray | None, dict[int, list[str]], list[str], list[tuple[int, int]], np.ndarray]:
    import pyarrow.compute as pc

    ncol = len(plan.names)
    lines, bad, bad_pos = record_lines(data, block.first_line, plan, block.source)
    if bad and plan.on_bad_lines == "error":
        line, fields = bad[0]
        raise bad_line_error(block.source, line, fields, ncol)
    if bad_pos:
        lines = np.delete(lines, bad_pos)
    used = sorted(set(plan.features) | set(plan.target))
    try:
        table = _arrow_table(data, plan, used)
    except Exception as exc:  # pyarrow.ArrowInvalid: the one failure left after our own line checks
        raise _arrow_failure(block, data, exc) from None
    rows = table.num_rows
    if rows != lines.size:  # pragma: no cover - both parsers follow RFC 4180; a mismatch is a bug
        raise RuntimeError(f"{block.source}:{block.first_line}: parsed {rows} rows but counted {lines.size} records")
    features = np.empty((rows, len(plan.features)), dtype=np.float64)
    categories: dict[int, list[str]] = {}
    widened: list[str] = []
    int_parts: dict[int, np.ndarray] = {}
    for j, col in enumerate(plan.features):
        name = plan.names[col]
        column = table.column(name)
        if col in plan.categorical:
            encoded = pc.dictionary_encode(column).combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.float64)
            categories[j] = [str(v) for v in encoded.dictionary.to_pylist()]
            features[:, j] = codes  # nulls become NaN through to_numpy
            continue
        values, had_empty = _numbers(
            column, name=name, lines=lines, source=block.source,
            hint=f"pass --categorical {name} to store text as codes, or --drop {name}",
        )
        if had_empty and values.dtype.kind == "f" and plan.fill is None:
            if np.all(np.isnan(values) | (values == np.rint(values))):
                widened.append(name)
        if values.dtype.kind == "i":
            int_parts[j] = values
        features[:, j] = values
    if int_parts and all(j in int_parts for j in range(len(plan.features))):
        features = np.column_stack([int_parts[j] for j in range(len(plan.features))]) if rows else np.zeros((0, len(plan.features)), np.int64)
    elif int_parts:
        big = [plan.names[plan.features[j]] for j, v in int_parts.items() if v.size and np.abs(v).max() > 2**53]
        if big:
            raise BadValueError(
                f"{block.source}:{block.first_line}: column {big[0]!r} has integers beyond 2**53 while other"
                " columns have decimals; features share one dtype, so drop one of them (--drop)"
            )
    target = None
    if plan.target:
        parts = []
        for col in plan.target:
            name = plan.names[col]
            column = table.column(name)
            if column.null_count:
                row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise BadValueError(
                    f"{block.source}:{int(lines[row])}: target column {name!r} is empty;"
                    " drop or fill the rows with no target"
                )
            try:
                values, _ = _numbers(column, name=name, lines=lines, source=block.source, hint="")
            except BadValueError:
                values = np.asarray(column.to_pylist(), dtype=object)
            parts.append(values)
        target = parts[0] if len(parts) == 1 else np.column_stack(parts)
    return features, target, categories, widened, bad, lines

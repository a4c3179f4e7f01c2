"""The only package that parses CSV: opening sources, cutting blocks, parsing them.

A source is read as raw bytes (decompressed on the fly, ``source``) and cut into
blocks at line ends outside quotes (``blocks``; ``quotes`` finds the quoted
fields as the parsers read them), so blocks can be parsed independently, in
parallel, and give the same result whatever the block size.
``parse_block`` turns one block into numbers (``parse``): a vectorised numpy
path for the common all-small-integers case (``digits``), a row-major path for
blocks of many columns (``wide``), and pyarrow column by column for everything
else (``typed``, then ``text``: quotes, floats, empty cells, text). ``cells``
says what the cells of a column are (numbers, booleans, text, dates);
``kernels`` calls arrow's compute kernels for them (without the 50-70 ms
import of ``pyarrow.compute``); ``evidence`` finds a cell again for an error
message; ``limits`` holds the bounds (``MAX_LINE_BYTES``).
"""

from __future__ import annotations

from .arrow import NA_VALUES
from .blocks import TextBlock, count_byte, iter_blocks, iter_blocks_at_offsets
from .cells import BOOLEANS, DATELIKE, DECIMAL_COMMA, GROUPED, NUMBERS, PLACEHOLDERS, TEXT, missing_mark
from .evidence import cell_kind, first_cells, row_lines
from .header import BOM, Dialect, Header, read_header, read_headers, sniff_delimiter
from .limits import MAX_LINE_BYTES, max_line_bytes
from .parse import parse_block
from .plan import ParsedBlock, ParsePlan
from .quotes import quoted_fields
from .source import Source

__all__ = [
    "BOM",
    "BOOLEANS",
    "DATELIKE",
    "DECIMAL_COMMA",
    "GROUPED",
    "MAX_LINE_BYTES",
    "NA_VALUES",
    "NUMBERS",
    "PLACEHOLDERS",
    "TEXT",
    "Dialect",
    "Header",
    "ParsePlan",
    "ParsedBlock",
    "Source",
    "TextBlock",
    "cell_kind",
    "count_byte",
    "first_cells",
    "iter_blocks",
    "iter_blocks_at_offsets",
    "max_line_bytes",
    "missing_mark",
    "parse_block",
    "quoted_fields",
    "read_header",
    "read_headers",
    "row_lines",
    "sniff_delimiter",
]

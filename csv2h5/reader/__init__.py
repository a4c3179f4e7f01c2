"""The only package that parses CSV: opening sources, cutting blocks, parsing them.

A source is read as raw bytes (decompressed on the fly, ``source``) and cut into
blocks at line ends outside quotes (``blocks``), so blocks can be parsed
independently, in parallel, and give the same result whatever the block size.
``parse_block`` turns one block into numbers (``parse``): a vectorised numpy
path for the common all-small-integers case (``digits``), a row-major path for
blocks of many columns (``wide``), and pyarrow column by column for everything
else (``typed``, then ``text``: quotes, floats, empty cells, text). ``cells``
says what the cells of a column are (numbers, booleans, text, dates);
``evidence`` finds a cell again for an error message.
"""

from __future__ import annotations

MAX_LINE_BYTES = 256 << 20  # a "line" longer than this is almost surely a wrong delimiter/quote

from .blocks import BOM, Dialect, Header, TextBlock, count_byte, iter_blocks, iter_blocks_at_offsets, read_header, sniff_delimiter  # noqa: E402
from .parse import parse_block  # noqa: E402
from .plan import ParsedBlock, ParsePlan  # noqa: E402
from .source import Source  # noqa: E402
from .arrow import NA_VALUES  # noqa: E402

__all__ = [
    "BOM", "MAX_LINE_BYTES", "NA_VALUES", "Dialect", "Header", "ParsePlan", "ParsedBlock", "Source",
    "TextBlock", "count_byte", "iter_blocks", "iter_blocks_at_offsets", "parse_block", "read_header", "sniff_delimiter",
]

"""The reader's bounds, in one module the others read at each use (so a test can patch them here)."""

from __future__ import annotations

MAX_LINE_BYTES = 256 << 20  # a "line" longer than this is almost surely a wrong delimiter/quote


def max_line_bytes() -> int:
    """The longest line (or quoted cell) accepted, looked up at each use so a test can lower it here."""
    return MAX_LINE_BYTES

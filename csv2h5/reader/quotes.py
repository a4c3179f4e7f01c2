"""Where a block's quoted fields are, read as the parsers read quotes: which line ends lie inside them.

A quote opens a quoted field only at a field's start (the block's start, after a
delimiter or a line end); anywhere else it is a character of its cell
(``27" monitor``), as pandas and pyarrow read it. Inside a quoted field ``""`` is
a quote and a lone quote closes the field. With ``--comment``, a comment
character outside quotes cuts its line from there, quotes and all (as
``comments.strip_comments`` cuts it). A block starts outside quotes, at a line start
(or, asked for, inside a quoted field that began before it).

Most blocks hold no quotes, or only quotes that open and close quoted fields.
There, pairing the quotes in order (an even number before a line end: outside)
is exact; that is checked vectorised, on the quotes' positions only: each quote
that pairing says opens a field must stand at a field's start or right after the
quote before it (``""``). A block that fails the check (a quote inside a cell)
is read by runs: pairing holds from a quote that opens a field up to the next
quote that breaks it, and the runs are chained with numpy (``_by_runs``).
Comments are then found outside the fields; only where a field would open inside
one is the block walked quote by quote and comment by comment (``_walk``).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .header import Dialect

_NONE = np.zeros(0, dtype=np.int64)
_NO_COMMENTS = np.zeros((0, 2), dtype=np.int64)
_FEW_RUNS = 256  # runs of paired quotes followed one by one (a few microseconds each); past that, by numpy
_SNIFFED = b",;\t|"  # the delimiters --delimiter auto chooses from: field starts while it is not known yet


@dataclasses.dataclass(frozen=True, slots=True)
class Quoted:
    """The quoted fields and comments of ``data[:end]``.

    Field ``k``'s text lies strictly between ``opens[k]`` and ``closes[k]``
    (-1: open before the data; ``end``: still open at the end). Comment ``k``
    runs from ``comments[k, 0]`` to its line end ``comments[k, 1]`` (kept).
    """

    opens: np.ndarray
    closes: np.ndarray
    comments: np.ndarray
    end: int

    def inside(self, positions: np.ndarray) -> np.ndarray:
        """Whether each of ``positions`` (say, of line ends) lies inside a quoted field."""
        positions = np.asarray(positions, dtype=np.int64)
        k = np.searchsorted(self.opens, positions) - 1  # the last field opened before each position
        found = k >= 0
        inside = np.zeros(positions.shape, dtype=bool)
        inside[found] = self.closes[k[found]] > positions[found]
        return inside

    def comments_after_quote(self) -> np.ndarray:
        """Where each comment that starts right after a closing quote (``"abc"#x``) starts.

        pandas' C parser reads such a comment character as the cell's text (``abc#x``), its Python
        parser refuses the line, and a person may have meant a comment: the caller refuses it, or skips its line.
        """
        if not self.comments.size or not self.closes.size:
            return _NONE
        starts = self.comments[:, 0]
        return starts[np.isin(starts - 1, self.closes)]

    @property
    def ends_inside(self) -> bool:
        """Whether the data ends inside a quoted field (its last line end is a cell's text)."""
        return bool(self.closes.size) and int(self.closes[-1]) >= self.end


def quoted_fields(data: bytes | bytearray, dialect: Dialect, end: int | None = None, *, inside: bool = False) -> Quoted:
    """The quoted fields (and comments) of ``data[:end]``, which starts at a line start (or ``inside`` a quoted field)."""
    end = len(data) if end is None else end
    quote = dialect.quotechar.encode()
    mark = dialect.comment.encode() if dialect.comment else b""
    has_quotes = data.find(quote, 0, end) >= 0  # memchr: most blocks stop here
    has_comments = bool(mark) and data.find(mark, 0, end) >= 0
    if not has_quotes and not has_comments:
        before = np.array([-1] if inside else [], dtype=np.int64)
        return Quoted(before, np.array([end] if inside else [], dtype=np.int64), _NO_COMMENTS, end)
    b = np.frombuffer(data, dtype=np.uint8, count=end)
    q = np.flatnonzero(b == quote[0]) if has_quotes else _NONE
    if inside:  # a quote that opened the field before the data
        q = np.concatenate(([-1], q))
    if _pairing_holds(b, q[2::2] if inside else q[::2], dialect.delimiter, quote[0]):
        quoted = Quoted(q[::2], _closes(q[1::2], q.size, end), _NO_COMMENTS, end)
    else:
        quoted = _by_runs(q, *_field_starts(b, q, dialect.delimiter), end)
    if not has_comments:
        return quoted
    # Comments are where a comment character stands outside the fields. Unless a field opens inside one
    # (its quotes then count for nothing), cutting them changes no field: they are found.
    marks = _positions(b, mark)
    comments = _comments(b, quoted, marks, end)
    following = np.searchsorted(quoted.opens, comments[:, 0])  # the first field opened after each comment starts
    opened = following < quoted.opens.size
    if not (quoted.opens[following[opened]] < comments[opened, 1]).any():
        return dataclasses.replace(quoted, comments=comments)
    return _walk(data, q, *_field_starts(b, q, dialect.delimiter), marks, end)


def _field_starts(b: np.ndarray, q: np.ndarray, delimiter: str) -> tuple[np.ndarray, np.ndarray]:
    """Which quotes stand at a field start; and which may open a field where pairing says so (or double a quote)."""
    starts = _at_field_start(b, q, delimiter)
    paired = starts.copy()
    paired[1:] |= np.diff(q) == 1
    return starts, paired


def _pairing_holds(b: np.ndarray, opening: np.ndarray, delimiter: str, quote: int) -> bool:
    """Whether each quote that pairing says opens a field may: it stands at a field start, or doubles the quote before."""
    if not opening.size:
        return True
    table = _bytes_before(delimiter, quote)
    before = b[opening - 1]  # the first may be at 0: it stands at the start, whatever this says
    may = table[before] if table is not None else _at_field_start(b, opening, delimiter) | (before == quote)
    may[0] |= opening[0] == 0
    return bool(may.all())


@functools.lru_cache(maxsize=8)
def _bytes_before(delimiter: str, quote: int | None = None) -> np.ndarray | None:
    """The bytes a field starts after (and ``quote``), as a lookup table; None for a delimiter of several bytes."""
    delimiters = _SNIFFED if delimiter == "auto" else delimiter.encode()  # auto: not known yet (guessing it)
    if delimiter != "auto" and len(delimiters) != 1:
        return None
    table = np.zeros(256, dtype=bool)
    table[[*delimiters, 10, 13, *([] if quote is None else [quote])]] = True  # \r: a line end to the parsers
    return table


def _at_field_start(b: np.ndarray, q: np.ndarray, delimiter: str) -> np.ndarray:
    """Whether each quote at positions ``q`` stands at a field's start: the data's start, after a delimiter or line end."""
    table = _bytes_before(delimiter)
    if table is not None:
        return table[b[q - 1]] | (q <= 0)  # -1: the quote that opened a field before the data
    before = b[np.maximum(q - 1, 0)]
    starts = (q <= 0) | (before == 10) | (before == 13)
    matched = np.ones(q.shape, dtype=bool)
    for i, byte in enumerate(reversed(delimiter.encode()), 1):  # a delimiter of several UTF-8 bytes ends right before
        matched &= (q >= i) & (b[np.maximum(q - i, 0)] == byte)
    return starts | matched


def _positions(b: np.ndarray, token: bytes) -> np.ndarray:
    """Where ``token`` (a character of one or more UTF-8 bytes) occurs in ``b``."""
    found = np.flatnonzero(b == token[0])
    for i, byte in enumerate(token[1:], 1):
        found = found[found + i < b.size]
        found = found[b[found + i] == byte]
    return found


def _closes(closes: np.ndarray, quotes: int, end: int) -> np.ndarray:
    """The closing quotes of fields paired in order, and ``end`` for the last one if it is still open."""
    return np.append(closes, end) if quotes % 2 else closes


def _comments(b: np.ndarray, quoted: Quoted, marks: np.ndarray, end: int) -> np.ndarray:
    """The comments: from the first comment character outside the fields on a line to the line end."""
    marks = marks[~quoted.inside(marks)]
    if not marks.size:
        return _NO_COMMENTS
    newlines = np.append(np.flatnonzero(b == 10), end)
    ends = newlines[np.searchsorted(newlines, marks)]
    ends, first = np.unique(ends, return_index=True)  # later marks of a line are in its comment
    return np.stack([marks[first], ends], axis=1)


def _by_runs(q: np.ndarray, starts: np.ndarray, paired: np.ndarray, end: int) -> Quoted:
    """The fields where pairing breaks: pairing holds from each quote that opens a field up to the next break.

    A break is a quote that pairing says opens a field but cannot: the field
    before it closed, and it is a cell's character. From there on, outside
    quotes, the next quote at a field start opens one and begins the next run of
    quotes read by pairing. A few runs are followed one by one; past that, the
    chain of runs is walked by doubling (``_chain``), a few numpy passes however
    many breaks there are (a quote in a cell on every line).
    """
    n = q.size
    first_at = np.flatnonzero(starts)  # the quotes that may begin a run
    breaks = np.flatnonzero(~paired)
    by_parity = (breaks[breaks % 2 == 0], breaks[breaks % 2 == 1])  # a run stops at the next of its first's parity
    firsts, stops = [], []
    k = 0  # the run that begins at first_at[k]
    while k < first_at.size and len(firsts) < _FEW_RUNS:
        first = int(first_at[k])
        later = by_parity[first % 2]
        at = int(np.searchsorted(later, first, side="right"))
        firsts.append(first)
        stops.append(int(later[at]) if at < later.size else n)
        k = int(np.searchsorted(first_at, stops[-1], side="right"))
    chained = _chain(first_at[k:], by_parity, n)
    firsts_all = np.concatenate([np.array(firsts, dtype=np.int64), chained[0]])
    return _from_runs(q, firsts_all, np.concatenate([np.array(stops, dtype=np.int64), chained[1]]), end)


def _chain(first_at: np.ndarray, by_parity: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The runs that follow one another from ``first_at[0]``: their first quotes and stops, by doubling."""
    stops = np.full(first_at.size, n, dtype=np.int64)  # where a run from each would stop (n: at the end)
    for parity, later in enumerate(by_parity):
        own = first_at % 2 == parity
        stops[own] = np.append(later, n)[np.searchsorted(later, first_at[own], side="right")]
    jump = np.append(np.searchsorted(first_at, stops, side="right"), first_at.size)  # run -> next run; the last -> none
    chain = np.zeros(min(first_at.size, 1), dtype=np.int64)
    while chain.size and chain[-1] < first_at.size:  # the chain's first 2k runs: its first k, and the jump over k
        chain = np.concatenate([chain, jump[chain]])
        jump = jump[jump]
    chain = chain[: np.searchsorted(chain, first_at.size)]
    return first_at[chain], stops[chain]


def _walk(
    data: bytes | bytearray, q: np.ndarray, starts: np.ndarray, paired: np.ndarray, found_marks: np.ndarray, end: int
) -> Quoted:
    """The exact reading: from each quote that opens a field, pairing holds up to the next break or comment.

    A break is a quote that pairing says opens a field but cannot: the field
    before it closed, and it is a cell's character. From there on, outside
    quotes, the next quote at a field start opens one (or a comment comes first).
    """
    quotes, marks = q.tolist(), found_marks.tolist()
    n = len(quotes)
    openers = np.flatnonzero(starts).tolist()
    breaks_at = [(np.flatnonzero(~paired[parity::2]) * 2 + parity).tolist() for parity in (0, 1)]
    runs: list[tuple[int, int]] = []  # quotes [first, stop) read by pairing: the first opens a field
    comments: list[tuple[int, int]] = []
    i, pos = 0, 0  # outside quotes: the next quote, and byte, to read
    while True:
        k = bisect.bisect_left(openers, i)
        first = openers[k] if k < len(openers) else n
        limit = quotes[first] if first < n else end
        mark = _first_mark(marks, quotes, pos, limit, first, outside_only=False)
        if mark < 0 and first < n:
            later = breaks_at[first % 2]
            stop = later[bisect.bisect_right(later, first)] if later and later[-1] > first else n
            mark = _first_mark(marks, quotes, quotes[first], quotes[stop] if stop < n else end, first, outside_only=True)
            if mark < 0:
                runs.append((first, stop))
                if stop >= n:
                    break
                i, pos = stop + 1, quotes[stop] + 1
                continue
            runs.append((first, bisect.bisect_left(quotes, mark)))
        if mark < 0:
            break
        line_end = data.find(b"\n", mark, end)
        line_end = end if line_end < 0 else line_end
        comments.append((mark, line_end))
        i, pos = bisect.bisect_left(quotes, line_end), line_end + 1
    firsts, stops = np.array(runs, dtype=np.int64).reshape(-1, 2).T
    quoted = _from_runs(q, firsts, stops, end)
    return dataclasses.replace(quoted, comments=np.array(comments, dtype=np.int64).reshape(-1, 2))


def _first_mark(marks: list[int], quotes: list[int], start: int, stop: int, first: int, *, outside_only: bool) -> int:
    """The first comment character in ``[start, stop)``, or -1; ``outside_only``: outside the fields paired from ``first``."""
    lo = bisect.bisect_left(marks, start)
    for mark in marks[lo : bisect.bisect_left(marks, stop, lo)]:
        if not outside_only or (bisect.bisect_left(quotes, mark) - first) % 2 == 0:
            return mark
    return -1


def _from_runs(q: np.ndarray, firsts: np.ndarray, stops: np.ndarray, end: int) -> Quoted:
    """Fields from the runs of quotes ``[firsts[k], stops[k])`` read by pairing: the first, and every other after, opens one."""
    n = q.size
    if firsts.size <= _FEW_RUNS:  # a few quotes in cells: sliced
        opens = np.concatenate([_NONE, *(q[first:stop:2] for first, stop in zip(firsts, stops))])
        closes = np.concatenate([_NONE, *(q[first + 1 : stop : 2] for first, stop in zip(firsts, stops))])
        return Quoted(opens, _closes(closes, opens.size + closes.size, end), _NO_COMMENTS, end)
    depth = np.zeros(n + 1, dtype=np.int64)
    depth[firsts] += 1  # runs neither overlap nor touch: no index is added to twice
    depth[stops] -= 1
    in_run = np.cumsum(depth)[:n] > 0
    run_first = np.zeros(n, dtype=np.int64)
    run_first[firsts] = firsts
    run_first = np.maximum.accumulate(run_first)
    opening = in_run & ((np.arange(n) - run_first) % 2 == 0)
    opens, closes = q[opening], q[in_run & ~opening]
    return Quoted(opens, _closes(closes, opens.size + closes.size, end), _NO_COMMENTS, end)

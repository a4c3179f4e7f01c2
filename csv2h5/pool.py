"""The parser processes: how many, how they start and stop, and blocks parsed in them in input order.

Workers are forked when the process has no other threads (fast, and pyarrow is
imported once beforehand), else started by a forkserver. They ignore Ctrl-C and
SIGTERM (the main process handles both and cleans up), die with the main process
even when it is killed, and keep freed memory for the next block.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator

from .errors import BadLineError, Csv2H5Error
from .processes import ParserProcesses
from .reader import ParsedBlock, ParsePlan, TextBlock, count_byte, kernels, max_line_bytes, parse_block, quoted_fields
from .regression import rounded_in
from .rowcopies import Job, RowCopies, copy_rows
from .shared import new_owner, remove_left_over, share
from .target import distinct_labels, target_numbers
from .wire import register_reducers

register_reducers()


def _start_worker(parent: int) -> None:
    # The main process handles Ctrl-C and cleans up; workers just stop when told.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not Linux/glibc: the pool's own shutdown and malloc defaults it is
        return
    _die_with_parent(libc, parent)
    _keep_freed_memory(libc)


def _die_with_parent(libc, parent: int) -> None:
    """Exit when the main process dies, even by SIGKILL (forked workers would linger)."""
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _keep_freed_memory(libc) -> None:
    """Let glibc reuse freed blocks instead of returning them to the OS.

    Parsing a block allocates a few dozen arrays of several MB. By default glibc
    maps each one afresh and unmaps it when freed, so every block pays page
    faults for all of them (measured: a third of the CPU time went to the kernel).
    """
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 64 << 20)  # above any array a 4 MiB block needs
    libc.mallopt(m_trim_threshold, 128 << 20)  # keep one block's worth of freed memory


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ParserProcesses]:
    """``workers`` (at least 1) processes that parse blocks, compress chunks and copy rows.

    With none, a conversion does all its work in its own process and never loads this module
    (``convert._worker_pool``).
    """
    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")  # fast start; safe with no other threads
        importlib.import_module("pyarrow.csv")  # imported once here, not in every forked worker
        kernels.load()
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["csv2h5.reader", "csv2h5.writer"])
    # The workers start now, before the output is opened: a forked copy of its descriptor
    # would hold HDF5's file lock for as long as the worker lives.
    pool = ParserProcesses(workers, context, _start_worker, (os.getpid() if context.get_start_method() == "fork" else 0,))
    try:
        yield pool
    finally:
        pool.shutdown()


def _parse_in_worker(
    block: TextBlock, plan: ParsePlan, owner: str | None, copies: list[Job]
) -> tuple[int, bool, ParsedBlock | Exception]:
    """Parse a block in a parser process: (line ends, whether it ends inside quotes, the result or the user error).

    First the rows of earlier blocks that came along are copied into the output
    (``rowcopies``; a failure raises, in the main process too). Large arrays go
    back through shared memory (``shared``). A speculative block
    (cut without looking at quotes) is read here, its lines counted and its quoted
    fields found (``quotes``: as the parsers read them), and parsed as if it began
    at line 1 (the main process renumbers it); if its last line end is inside a
    quoted field, it is not parsed at all.
    """
    if copies:
        copy_rows(copies)
    newlines, open_quote = 0, False
    if block.speculative:
        data = block.text()
        newlines = count_byte(data, b"\n", 0, len(data))
        open_quote = quoted_fields(data, plan.dialect).ends_inside
        if open_quote:
            return newlines, open_quote, _UNPARSED
        block = dataclasses.replace(block, data=data, first_line=1)
    try:
        parsed = parse_block(block, plan)
    except Exception as exc:
        # A speculative block may begin inside quotes (after one that ended there): whatever its
        # parse raised means nothing then, and the main process decides. Real bugs raise there again.
        if isinstance(exc, Csv2H5Error) or block.speculative:
            return newlines, open_quote, exc
        raise
    parsed.features = share(parsed.features, owner)
    if parsed.target is not None:
        parsed.target = target_numbers(parsed.target)
        if parsed.target.ndim == 1 and parsed.target.dtype.kind in "iuf":  # numbers: tallied here, not in the main process
            parsed.target_distinct = distinct_labels(parsed.target)
        if parsed.target.dtype.kind == "f":  # numbers: what float32 would round, found here too
            parsed.target_rounded = rounded_in(parsed.target)
        parsed.target = share(parsed.target, owner)
    return newlines, open_quote, parsed


_UNPARSED = Csv2H5Error("not parsed: the block ends inside quotes")


def _received(parsed: ParsedBlock) -> ParsedBlock:
    """A parser's result as the main process uses it.

    The features and the target may stay in shared memory (``SharedArray``s):
    the caller maps them (``shared.received``) or has them copied into the
    output or the target's scratch file (``rowcopies``).
    """
    return parsed


class _InOrder:
    """Blocks' results taken in input order: speculative blocks numbered, checked and joined where needed.

    A speculative block's first line is the line after the previous block's. Its
    cut is right when no block before it ended inside a quoted field (read from a
    line start, as its parser read it). One that did (rare: a quoted line break
    right at a block's end), and the blocks after it up to the one where that
    field closes (read here, from inside the field), are read again here as one
    block, of at most a line's bound (``limits``): a quote left open is refused,
    not read to the end of the file.
    """

    def __init__(self) -> None:
        self.line = 0  # the first line of the next speculative block
        self.joined: list[TextBlock] = []  # speculative blocks since one that ended inside quotes
        self.plan: ParsePlan | None = None  # the plan the first of them was sent with

    def take(
        self, block: TextBlock, plan: ParsePlan, newlines: int, open_quote: bool, result: ParsedBlock | Exception
    ) -> Iterator[tuple[TextBlock, ParsedBlock]]:
        if not block.speculative:
            yield from self.flush()
            yield block, _result(result)
            return
        if block.first_line:  # a source's first block
            yield from self.flush()
            self.line = block.first_line
        if self.joined:
            self.joined.append(block)
            if block.offset + block.length - self.joined[0].offset > max_line_bytes():
                raise self.too_long()
            if not quoted_fields(block.text(), plan.dialect, inside=True).ends_inside:
                yield from self.flush()
            return
        if open_quote:
            self.joined, self.plan = [block], plan
            return
        numbered = dataclasses.replace(block, first_line=self.line, speculative=False)
        if isinstance(result, Exception) or result.refusal:
            parsed = parse_block(numbered, plan)  # raises again, now naming the right line (or a bug's traceback)
        else:
            parsed = _renumbered(result, self.line - 1)
        self.line += newlines
        yield numbered, parsed

    def too_long(self) -> BadLineError:
        """The joined blocks are over a line's bound: the quoted field they begin in runs on (a quote left open)."""
        first = self.joined[0]
        data = first.text()
        opened = int(quoted_fields(data, self.plan.dialect).opens[-1])
        line = self.line + count_byte(data, b"\n", 0, opened)
        return BadLineError(
            f"{first.source}:{line}: a quoted field runs over {max_line_bytes() >> 20} MiB;"
            " check --delimiter and for an unclosed quote"
        )

    def flush(self) -> Iterator[tuple[TextBlock, ParsedBlock]]:
        """The joined blocks as one, read here (at the end of a source, or once the quoted field closes)."""
        if not self.joined:
            return
        first, last = self.joined[0], self.joined[-1]
        length = last.offset + last.length - first.offset
        block = TextBlock(first.source, first.index, self.line, None, first.offset, length, after_header=first.after_header)
        self.joined = []
        parsed = parse_block(block, self.plan)
        data = block.text()
        self.line += count_byte(data, b"\n", 0, len(data))
        yield block, parsed


def _result(result: ParsedBlock | Exception) -> ParsedBlock:
    if isinstance(result, Exception):
        raise result
    return result


def _renumbered(parsed: ParsedBlock, lines: int) -> ParsedBlock:
    """A block parsed as if it began at line 1, moved down by ``lines``."""
    if lines:
        parsed.first_row_line += lines
        parsed.bad_lines = [(line + lines, fields) for line, fields in parsed.bad_lines]
    return parsed


def parse_in_order(
    blocks: Iterator[TextBlock],
    plan: Callable[[], ParsePlan],
    pool: ParserProcesses,
    workers: int,
    copies: RowCopies | None = None,
    before_end: Callable[[], None] = lambda: None,
    batch: Callable[[], int] = lambda: 1,
) -> Iterator[tuple[TextBlock, ParsedBlock]]:
    """Parse blocks in the pool's ``workers`` processes, yielding them with their results in input order.

    Each block is parsed with the plan current when it is sent (``plan()``).
    Speculative blocks come out numbered and checked (``_InOrder``). Features
    may come out still in shared memory (see ``_received``). The row ``copies``
    left by the time a block is sent go with it; every copy is done when the
    last block has been taken (before the shared files are cleaned up), after
    ``before_end`` (the caller's last use of the blocks it held, whose rows may still
    be in shared memory).

    Results are taken ``batch()`` at a time: the main process waits until that many
    are in, and handles them (and sends as many tasks) in one go. Each time it wakes,
    it works with cold caches on a core a parser was using (on 2 busy cores about a
    millisecond a block for a few dozen microseconds of work); waking once for several
    blocks pays that once. The parsers keep ``2 * workers`` tasks beside the batch.
    """
    owner = new_owner()
    pending: collections.deque = collections.deque()
    order = _InOrder()

    def oldest() -> Iterator[tuple[TextBlock, ParsedBlock]]:
        block, sent, future = pending.popleft()
        newlines, open_quote, result = future.result()
        if isinstance(result, ParsedBlock):
            result = _received(result)
        return order.take(block, sent, newlines, open_quote, result)

    try:
        for block in blocks:
            sent = plan()
            jobs = copies.take() if copies is not None else []
            future = pool.submit(_parse_in_worker, block, sent, owner, jobs, kept=1)  # the plan: sent when it changes
            if jobs:
                copies.carried_by(future)
            pending.append((block, sent, future))
            taken = batch()
            if len(pending) >= 2 * workers + taken - 1:  # bounded read-ahead bounds memory
                # Wait for the batch's last (the older ones, sent earlier, are most likely in by then; each is
                # still waited for in turn); its error, if any, is raised in its turn, after theirs.
                pending[taken - 1][2].exception()
                for _ in range(taken):
                    yield from oldest()
        while pending:
            yield from oldest()
        yield from order.flush()
        before_end()
        if copies is not None:
            copies.drain()
    finally:
        for _, _, future in pending:  # an error or Ctrl-C: results never received leave no shared files
            future.cancel()
        for _, _, future in pending:
            with contextlib.suppress(BaseException):
                future.result()
        if owner is not None:
            remove_left_over(owner)

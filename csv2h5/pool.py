"""The parser processes: how many, how they start and stop, and blocks parsed in them in input order.

Workers are forked when the process has no other threads (fast, and pyarrow is
imported once beforehand), else started by a forkserver. They ignore Ctrl-C and
SIGTERM (the main process handles both and cleans up), die with the main process
even when it is killed, and keep freed memory for the next block.
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

from .options import ConvertOptions
from .reader import ParsedBlock, ParsePlan, TextBlock, parse_block


def worker_count(options: ConvertOptions, total_bytes: int) -> int:
    """Parser processes for an input of ``total_bytes``: --workers, else one per usable core, none for small inputs."""
    if options.workers is not None:
        return options.workers
    if total_bytes <= 2 * options.block_bytes:
        return 0  # starting processes costs more than parsing a small input
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` processes that parse blocks and compress chunks (None for 0: all work stays here)."""
    if workers <= 0:
        yield None
        return
    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")  # fast start; safe with no other threads
        for module in ("pyarrow.csv", "pyarrow.compute"):  # imported once here, not in every forked worker
            importlib.import_module(module)
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["csv2h5.reader", "csv2h5.writer"])
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(os.getpid() if context.get_start_method() == "fork" else 0,))
    try:
        # Fork the workers now, before the output is opened: a forked copy of its descriptor
        # would hold HDF5's file lock for as long as the worker lives.
        pool.submit(int)
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parse_in_order(blocks: Iterator[TextBlock], plan: Callable[[], ParsePlan], pool: ProcessPoolExecutor | None,
                    workers: int) -> Iterator[tuple[TextBlock, ParsedBlock]]:
    """Parse blocks in the pool's ``workers`` processes (or here), yielding them with their results in input order.

    Each block is parsed with the plan current when it is sent (``plan()``).
    """
    if pool is None:
        for block in blocks:
            yield block, parse_block(block, plan())
        return
    pending: collections.deque = collections.deque()
    for block in blocks:
        pending.append((block, pool.submit(parse_block, block, plan())))
        if len(pending) >= 2 * workers:  # bounded read-ahead bounds memory
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()

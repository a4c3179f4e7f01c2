"""The ``blocks`` order: shuffled rows for data larger than memory, read in large sequential pieces.

A uniform permutation of rows (``global``) costs one random read per row once
the file no longer fits in the page cache. ``blocks`` reads whole blocks of
consecutive rows instead (runs of chunks of at least BLOCK_BYTES) and still
gives every batch a near-uniform sample of the data:

1. each epoch, the blocks come in a random order, and the rows of each block
   are shuffled;
2. a *pool* holds ``pool_blocks`` (K) blocks at a time; each batch takes
   about the same number of rows (its next shuffled rows) from every block in
   the pool, so every block weighs the same in every batch;
3. a block leaves the pool when its rows are used up, and the next block in
   the epoch's order enters, between two batches. The first K blocks enter
   cut at staggered points (whole chunks), so blocks leave one at a time and
   the reader never has to load a whole pool at once.

So at most K blocks are in use at any batch: the reader holds K blocks in
memory, and reads the next ones ahead because the order is known. On a file
sorted by label, a pool of K blocks drawn at random holds about
``C * (1 - (1 - 1/C)**K)`` of C labels; with K = 64 and 10 labels, 9.99.

The order is a pure function of ``(seed, epoch)`` and the plan (block size and
K, which come from the memory budget), like every other order: batches can be
read in any process, in any order, after a resume.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .memory import Memory, format_bytes

BLOCK_BYTES = 8 << 20  # a block: at least this many bytes of rows, so reads are large and sequential
POOL_SHARE = 0.7  # at most this share of the memory for the data holds the pool of blocks
HELD_BLOCKS = 14  # held beside the pool (readahead): 4 read ahead, 2 threads' staging; a validation side's 2 + 4 and 2
MAX_POOL_BLOCKS = 1024  # beyond this a pool mixes like a full shuffle already; more only costs time
FIT_SHARE = 0.5  # auto picks global when the rows take at most this share of the memory for the data
# What a training process holds beside the rows, kept out of the memory it finds (not out of a
# memory_budget, which is the data's own): Python, Keras and JAX, a small model and its batches
# (measured: ~470 MB of anonymous memory before the first read for h5train fit of the seed MLP;
# TensorFlow ~60 MB more) and the pages of their code, which count against a cgroup's limit too and,
# squeezed below ~100 MB, are read back from disk again and again (512 MiB kept ran 17x slower at
# 768 MiB with other work beside it), plus the per-row arrays (row lists of the split, epoch orders,
# the target: 20-40 bytes a row measured).
RUNTIME_BYTES = 640 << 20
RUNTIME_ROW_BYTES = 24
# Each reading process (Keras's use_multiprocessing workers, h5train --processes) starts its own Python,
# Keras and backend (measured: ~195 MB before its first read, spawned) and holds a pool of its own.
READER_PROCESS_BYTES = 256 << 20


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """How the ``blocks`` order cuts the rows: ``block_rows`` per block, ``pool_blocks`` held at a time.

    ``chunk_rows``: blocks are cut only at multiples of it (whole chunks), also when the order cuts
    a block in two to stagger the pool.
    """

    block_rows: int
    pool_blocks: int
    chunk_rows: int = 1

    def __post_init__(self) -> None:
        if self.block_rows < 1 or self.pool_blocks < 2:
            raise ValueError(f"a block plan needs block_rows >= 1 and pool_blocks >= 2, got {self}")


def data_memory(found: Memory, num_rows: int, reading_processes: int = 0) -> Memory:
    """The memory for the data (``memory_budget``) out of the memory this process may use: what Python,
    Keras and the model hold beside it taken off first, so the pool and a cached file fit beside them.

    ``reading_processes``: processes that read the batches (0: this one), each with its own Python and
    its own pool, which share what is left."""
    # each reading process also holds the sequence's row lists and its own epoch orders
    kept = (RUNTIME_BYTES + READER_PROCESS_BYTES * reading_processes) + RUNTIME_ROW_BYTES * max(0, int(num_rows)) * (
        1 + reading_processes
    )
    return Memory(bytes=max(1, found.bytes - kept), source=found.source, found=found.bytes, kept=kept)  # 1: budgets are > 0


def too_little(memory: Memory, plan: BlockPlan, row_bytes: int, reading_processes: int = 0) -> str | None:
    """Said when the memory found cannot hold what the process keeps and, in each reading process, the
    least pool of ``plan``'s blocks and the blocks held beside it; None when it can, or was given."""
    if not memory.found:
        return None
    need = memory.kept + max(1, reading_processes) * (2 + HELD_BLOCKS) * plan.block_rows * row_bytes
    if memory.found >= need:
        return None
    return (
        f"the {format_bytes(memory.found)} this process may use is too little for Python, Keras and the least pool "
        f"of blocks: it may run out of memory; give it {format_bytes(need)} or more"
    )


def plan_blocks(
    *, row_bytes: int, chunk_rows: int, batch_size: int, memory_budget: int, block_bytes: int = BLOCK_BYTES
) -> BlockPlan:
    """Block size and pool size for rows of ``row_bytes`` under ``memory_budget`` bytes for the data.

    A block is a whole number of chunks of at least ``block_bytes`` (and at least a batch of rows, which
    the order needs to keep at most K blocks in use). The pool takes at most POOL_SHARE of the budget
    and what HELD_BLOCKS more leave of it. K is rounded down to a multiple of 8, so that small changes in
    the memory found (MemAvailable moves) seldom change the order.
    """
    row_bytes = max(1, int(row_bytes))
    chunk_rows = max(1, int(chunk_rows))
    chunks = max(1, math.ceil(block_bytes / (chunk_rows * row_bytes)))
    block_rows = max(chunks * chunk_rows, math.ceil(batch_size / chunk_rows) * chunk_rows)
    block = block_rows * row_bytes
    fitting = max(0, min(int(memory_budget * POOL_SHARE), memory_budget - HELD_BLOCKS * block)) // block
    pool = max(2, fitting if fitting < 8 else fitting - fitting % 8)
    return BlockPlan(block_rows=block_rows, pool_blocks=min(pool, MAX_POOL_BLOCKS), chunk_rows=chunk_rows)


def auto_shuffle(*, data_bytes: int, mapped: bool, memory: Memory, spread: bool = False) -> tuple[str, str]:
    """The order ``shuffle="auto"`` picks, and why (one line for the user).

    ``global`` when the file can be memory-mapped and its rows (``spread``: the chunks holding a
    subset's rows) fit comfortably (FIT_SHARE) in the memory for the data; ``blocks`` otherwise
    (compressed chunks decode whole, so a per-row random order would decode a chunk per row even when
    cached).
    """
    if not mapped:
        return "blocks", "compressed rows are read in whole chunks, so blocks of chunks are shuffled"
    # spread: a subset whose rows lie across data_bytes of the file (their chunks), which the reads keep in memory
    rows = (
        f"the {format_bytes(data_bytes)} of file chunks holding the rows used"
        if spread
        else f"the {format_bytes(data_bytes)} of rows"
    )
    if data_bytes <= FIT_SHARE * memory.bytes:
        return "global", f"{rows} fit in half the {memory.describe()}"
    return "blocks", f"{rows} do not fit in half the {memory.describe()}"


def block_members(num_rows: int, block_rows: int, ranks: np.ndarray | None = None, *, min_rows: int = 1) -> list[np.ndarray]:
    """Positions ``0..num_rows-1`` of each block, in file order.

    Blocks hold ``block_rows`` consecutive positions; the remainder is a block of its own if it holds
    ``min_rows`` or more, else the last block takes it. ``ranks``: the file order of the positions
    (``argsort`` of their rows) when positions are not in file order already, so a block is still rows
    that lie together in the file.
    """
    count = max(1, num_rows // block_rows)
    if num_rows - count * block_rows >= min_rows:
        count += 1
    bounds = [b * block_rows for b in range(count)] + [num_rows]
    if ranks is None:
        return [np.arange(bounds[b], bounds[b + 1]) for b in range(count)]
    return [ranks[bounds[b] : bounds[b + 1]] for b in range(count)]


def blocks_order(
    num_rows: int, *, seed: int, epoch: int, plan: BlockPlan, batch_size: int, ranks: np.ndarray | None = None
) -> np.ndarray:
    """Positions ``0..num_rows-1`` in the order epoch ``epoch`` of ``blocks`` visits them.

    Batch ``i`` is ``order[i * batch_size:(i + 1) * batch_size]``: its rows come from the blocks in the
    pool at that batch, at most ``plan.pool_blocks`` of them.
    """
    dtype = np.int32 if num_rows < 2**31 else np.int64
    if num_rows == 0:
        return np.zeros(0, dtype)
    rng = np.random.default_rng([seed, epoch, 0xB10C])
    members = block_members(num_rows, plan.block_rows, ranks, min_rows=batch_size)
    queue = [members[b] for b in rng.permutation(len(members))]
    slots = min(plan.pool_blocks, len(queue))
    queue = _stagger(queue, slots, batch_size, plan.chunk_rows)
    queue = [rng.permutation(piece).astype(dtype, copy=False) for piece in queue]
    counts, occupants = _simulate_pool([piece.size for piece in queue], slots, batch_size, rng)
    # Within a batch, slot 0's rows come first, then slot 1's...: where each slot's share of a batch starts.
    starts = np.arange(counts.shape[0], dtype=np.int64)[:, None] * batch_size + np.cumsum(counts, axis=1) - counts
    order = np.empty(num_rows, dtype=dtype)
    for slot in range(slots):
        # A slot gives the rows of the blocks that held it, one after another, to the batches that drew from it.
        stream = np.concatenate([queue[q] for q in occupants[slot]])
        taken = counts[:, slot]
        batch = np.repeat(np.arange(taken.size), taken)
        within = np.arange(stream.size) - np.repeat(np.cumsum(taken) - taken, taken)
        order[starts[batch, slot] + within] = stream
    return order


def _stagger(queue: list[np.ndarray], slots: int, batch_size: int, chunk_rows: int) -> list[np.ndarray]:
    """Cut the first ``slots`` blocks so the pool's blocks run out one after another, not all at once.

    Batches draw about equally from every block in the pool, so blocks that entered together would
    leave together, and the reader would have to load a whole pool at once. Slot ``s`` starts with the
    first ``(s + 1) / slots`` of its block, cut after a whole chunk (in file order, so each piece is
    still one sequential read of whole chunks); the rest of those blocks join the end of the queue. No
    piece is smaller than a batch.
    """
    heads, tails = [], []
    for s, block in enumerate(queue[:slots]):
        cut = -(-max(batch_size, (s + 1) * block.size // slots) // chunk_rows) * chunk_rows
        if block.size - cut < batch_size:
            heads.append(block)
        else:
            heads.append(block[:cut])
            tails.append(block[cut:])
    return heads + queue[slots:] + tails


def _simulate_pool(sizes: list[int], slots: int, batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[list[int]]]:
    """How many rows each batch draws from each pool slot, and which blocks held each slot in turn.

    Each batch takes about the same number of rows from every block in the pool (the rounding
    remainder goes to random blocks; a block with fewer rows left gives them all and others give more).
    A slot whose block is used up takes the next block of the queue before the next batch.

    Invariant: while blocks wait in the queue, the pool holds at least a batch of rows at every draw, so
    every batch but the epoch's last is full and reads only the blocks in the pool. When the pool would
    hold less than a batch after a draw, that draw empties its smallest block (fewer than a batch of rows
    then, as there are two slots or more), so a fresh block (at least a batch of rows) enters before the next.
    """
    total_rows = sum(sizes)
    counts = np.zeros((-(-total_rows // batch_size), slots), dtype=np.int64)
    left = np.array(sizes[:slots], dtype=np.int64)
    occupants = [[q] for q in range(slots)]
    queued = slots
    total = int(left.sum())
    for batch in range(counts.shape[0]):
        want = min(batch_size, total)
        drawn = np.zeros(slots, dtype=np.int64)
        open_ = left > 0
        if queued < len(sizes) and total - want < batch_size:
            smallest = int(np.argmin(np.where(open_, left, np.iinfo(np.int64).max)))
            drawn[smallest] = left[smallest]
            open_[smallest] = False
        active = np.flatnonzero(open_)
        rest = want - int(drawn.sum())
        if rest > 0:
            share, extra = divmod(rest, active.size)
            shares = np.full(active.size, share, dtype=np.int64)
            shares[rng.permutation(active.size)[:extra]] += 1
            drawn[active] = np.minimum(shares, left[active])
            short = want - int(drawn.sum())
            if short > 0:  # blocks about to run out gave what they had: the others make up the batch
                spare = np.where(open_, left - drawn, 0)
                drawn += rng.multivariate_hypergeometric(spare, short)
        counts[batch] = drawn
        left -= drawn
        total -= want
        if queued < len(sizes):
            for slot in np.flatnonzero(left == 0):
                if queued == len(sizes):
                    break
                left[slot] = sizes[queued]
                total += sizes[queued]
                occupants[slot].append(queued)
                queued += 1
    return counts, occupants

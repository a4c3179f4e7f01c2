"""Write a deterministic decimal CSV shaped like a well-known public table.

Two shapes, the decimal counterparts of the MNIST-shaped pixels:

- ``higgs``: no header; a label and 28 values per row, every one a float32
  printed ``%.18e`` (``1.000000000000000000e+00``), as in the HIGGS data set
  (1,000,000 rows are about 730 MB).
- ``creditcard``: a quoted header ``"Time","V1",...,"V28","Amount","Class"``;
  ``Time`` in whole seconds, ``V1..V28`` as Python ``repr`` of float64,
  ``Amount`` with at most 2 decimals, and the class quoted, ``"0"`` or ``"1"``
  (0.17% ones), as in the credit-card-fraud data set (284,807 rows, ~161 MB).

    python scripts/make_decimal_csv.py higgs.csv --shape higgs --rows 1000000
    python scripts/make_decimal_csv.py creditcard.csv --shape creditcard
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SHAPES = ("higgs", "creditcard")
DEFAULT_ROWS = {"higgs": 1_000_000, "creditcard": 284_807}
_ROWS_PER_BLOCK = 8192  # rows formatted at once; bounds memory for any row count
_HIGGS_ROW = ",".join(["%.18e"] * 29) + "\n"


def higgs_rows(num_rows: int, rng: np.random.Generator) -> np.ndarray:
    """``(num_rows, 29)`` float32: a 0/1 label, then 21 detector-like and 7 derived values."""
    label = rng.integers(0, 2, size=num_rows).astype(np.float32)
    shift = label[:, None] * 0.2
    momenta = rng.lognormal(-0.1, 0.5, size=(num_rows, 7)) + shift  # transverse momenta: positive
    angles = rng.uniform(-np.pi, np.pi, size=(num_rows, 7))
    tags = rng.choice([0.0, 1.086538076400756836, 2.173076152801513672], size=(num_rows, 7))
    derived = rng.lognormal(0.0, 0.3, size=(num_rows, 7)) + shift
    table = np.column_stack([label, momenta, angles, tags, derived]).astype(np.float32)
    table[:, 1:][rng.random((num_rows, 28)) < 0.01] = 0.0  # some exact zeros, as the real data has
    return table


def format_higgs(table: np.ndarray) -> bytes:
    """Format float32 rows as ``%.18e`` text (the float32's value to 19 digits)."""
    return "".join(_HIGGS_ROW % tuple(row) for row in table.astype(np.float64).tolist()).encode()


def creditcard_rows(num_rows: int, rng: np.random.Generator, start_time: int) -> tuple[np.ndarray, ...]:
    """Time (int), V1..V28 (float64), Amount (float64, 2 decimals), Class (0/1)."""
    time = start_time + np.sort(rng.integers(0, max(1, num_rows // 2), size=num_rows))
    fraud = (rng.random(num_rows) < 0.0017).astype(np.int64)
    scales = np.linspace(2.0, 0.3, 28)
    v = rng.normal(0.0, 1.0, size=(num_rows, 28)) * scales + fraud[:, None] * rng.normal(0.0, 2.0, size=28)
    amount = np.round(rng.lognormal(3.0, 1.6, size=num_rows), 2)
    return time, v, amount, fraud


def format_creditcard(time: np.ndarray, v: np.ndarray, amount: np.ndarray, fraud: np.ndarray) -> bytes:
    """Format rows as the credit-card data set writes them (repr floats, quoted class)."""
    lines = []
    for t, row, a, c in zip(time.tolist(), v.tolist(), amount.tolist(), fraud.tolist()):
        lines.append(f'{t},{",".join(map(repr, row))},{a!r},"{c}"\n')
    return "".join(lines).encode()


def write_csv(path: Path, *, shape: str, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows of ``shape`` to ``path`` in blocks (bounded memory)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    seeds = np.random.SeedSequence(seed).spawn(max(1, (rows + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK))
    with open(path, "wb") as out:
        if shape == "creditcard":
            names = ["Time"] + [f"V{i}" for i in range(1, 29)] + ["Amount", "Class"]
            out.write((",".join(f'"{n}"' for n in names) + "\n").encode())
        time_base = 0
        for block, block_seed in enumerate(seeds):
            n = min(_ROWS_PER_BLOCK, rows - block * _ROWS_PER_BLOCK)
            if n <= 0:
                break
            rng = np.random.default_rng(block_seed)
            if shape == "higgs":
                out.write(format_higgs(higgs_rows(n, rng)))
            else:
                parts = creditcard_rows(n, rng, time_base)
                time_base = int(parts[0][-1])
                out.write(format_creditcard(*parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--shape", choices=SHAPES, required=True)
    parser.add_argument("--rows", type=int, default=None, help="default: the public data set's row count")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = DEFAULT_ROWS[args.shape] if args.rows is None else args.rows
    if rows < 0:
        parser.error("--rows must be >= 0")
    write_csv(args.output, shape=args.shape, rows=rows, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())

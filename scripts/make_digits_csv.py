"""Write a deterministic MNIST-shaped CSV: ``label,pixel0..pixel783``.

Each of the ten classes has its own stroke pattern; a row is its class's pattern
with pixels dropped, jittered in intensity, shifted by a pixel or two, and
sprinkled with noise: easy for a small network (the demo reaches ~99% validation
accuracy), which makes a training run that goes wrong easy to spot.
About 19% of pixels are non-zero, as in the well-known digit-recognizer data.

    python scripts/make_digits_csv.py train.csv --rows 42000
    python scripts/make_digits_csv.py test.csv --rows 28000 --no-label --seed 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SIDE = 28
PIXELS = SIDE * SIDE
CLASSES = 10
_ROWS_PER_BLOCK = 4096  # rows formatted at once; bounds memory for any row count


def _prototypes(rng: np.random.Generator) -> np.ndarray:
    """Ten 28x28 stroke images, one per class, each covering ~20% of the pixels."""
    images = np.zeros((CLASSES, SIDE, SIDE), dtype=np.float64)
    for image in images:
        for _ in range(5):  # a few random thick strokes per class
            r0, c0, r1, c1 = rng.integers(5, SIDE - 5, size=4)
            for t in np.linspace(0.0, 1.0, 40):
                r = int(round(r0 + (r1 - r0) * t))
                c = int(round(c0 + (c1 - c0) * t))
                image[r - 1 : r + 2, c - 1 : c + 2] = 1.0
    return images


def make_rows(num_rows: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(labels, pixels)`` for rows ``0..num_rows-1`` (uint8)."""
    rng = np.random.default_rng(seed)
    prototypes = _prototypes(np.random.default_rng(12345))  # classes never depend on seed
    labels = rng.integers(0, CLASSES, size=num_rows).astype(np.uint8)
    shifts = rng.integers(-2, 3, size=(num_rows, 2))
    images = prototypes[labels]
    # Shift each image by up to two pixels (np.roll per distinct shift).
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            mask = (shifts[:, 0] == dr) & (shifts[:, 1] == dc)
            if mask.any():
                images[mask] = np.roll(images[mask], (dr, dc), axis=(1, 2))
    pixels = images.reshape(num_rows, PIXELS)
    keep = rng.random(pixels.shape) < 0.85
    noise = rng.random(pixels.shape) < 0.04
    intensity = rng.integers(60, 256, size=pixels.shape)
    values = np.where((pixels > 0) & keep | noise, intensity, 0)
    return labels, values.astype(np.uint8)


# Every value 0..255 as text, right-aligned in 4 bytes with NUL padding, so a
# block of rows is formatted by one gather and one mask instead of a Python loop.
_TEXT = np.zeros((256, 4), dtype=np.uint8)
for _value in range(256):
    _digits = str(_value).encode()
    _TEXT[_value, 3 - len(_digits) : 3] = np.frombuffer(_digits, dtype=np.uint8)


def format_rows(table: np.ndarray) -> bytes:
    """Format a uint8 table as CSV lines (no header), quickly."""
    cells = _TEXT[table].copy()  # (rows, cols, 4)
    cells[:, :, 3] = ord(",")
    cells[:, -1, 3] = ord("\n")
    flat = cells.reshape(-1)
    return flat[flat != 0].tobytes()


def write_csv(path: Path, *, rows: int, seed: int, label: bool) -> None:
    """Write ``rows`` rows to ``path`` in blocks (bounded memory)."""
    header = (["label"] if label else []) + [f"pixel{i}" for i in range(PIXELS)]
    rng_seeds = np.random.SeedSequence(seed).spawn((rows + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK)
    with open(path, "wb") as out:
        out.write((",".join(header) + "\n").encode())
        for block, block_seed in enumerate(rng_seeds):
            n = min(_ROWS_PER_BLOCK, rows - block * _ROWS_PER_BLOCK)
            labels, pixels = make_rows(n, seed=int(block_seed.generate_state(1)[0]))
            table = np.column_stack([labels, pixels]) if label else pixels
            out.write(format_rows(table))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--rows", type=int, default=42_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-label", action="store_true", help="omit the label column")
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    write_csv(args.output, rows=args.rows, seed=args.seed, label=not args.no_label)
    return 0


if __name__ == "__main__":
    sys.exit(main())

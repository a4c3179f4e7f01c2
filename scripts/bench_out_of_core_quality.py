"""Data larger than memory, training quality: the default shuffle under a 1.5 GB limit against ``global`` cached.

The file: bench_data/ooc_hard.h5, ``--rows`` (default 2,000,000) MNIST-shaped rows of 785 uint8 (784
pixels + the label as /target), 1.57 GB of rows, so that under the limit the rows take more than half
the memory found and ``auto`` picks ``blocks``. Every row is distinct (no copies of a smaller part:
a validation split would then hold rows seen in training). The rows are those of
scripts/make_digits_csv.py made harder (``--mix``): each pixel is taken, with probability ``mix``,
from a row of another random class, and ``--speckle`` of the pixels are lit at random; so a
small network no longer separates the classes (the plain generator is separable to ~100%). Rows are
sorted by label within parts of 100,000 (runs of ~10,000 rows, as data exported by class or by day).
Written as CSV and converted with ``csv2h5 convert``; left in bench_data/ (gitignored).

Two runs of ``h5train fit DATA --epochs 3 --steps-per-epoch 2000`` (the seed MLP, every other option
at its default: batch 256, a stratified 10% validation split):

- limited: in a memory cgroup of ``--limit`` bytes, the page cache emptied first, the default shuffle
  (``auto``, which must pick ``blocks`` here, or the script says so and reports nothing);
- cached: no limit, the file read into the page cache first, ``--shuffle global``.

It prints both final validation accuracies and their difference (target: within 1 point).

    sudo .venv/bin/python scripts/bench_out_of_core_quality.py   # as root; under flock of the heavy-job lock
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from benchutil import MemoryCgroup, digits_h5, drop_cache, machine, read_into_cache  # noqa: E402

PART_ROWS = 100_000
EPOCHS, STEPS = 3, 2000


def hard_rows(rows: int, *, seed: int, mix: float, speckle: float) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, pixels)``: make_digits_csv rows with pixels of other classes mixed in, and speckle."""
    import make_digits_csv

    labels, pixels = make_digits_csv.make_rows(rows, seed=seed)
    _, other = make_digits_csv.make_rows(rows, seed=seed + 10_000)  # rows of random (mostly other) classes
    rng = np.random.default_rng([seed, 0x4A2D])
    pixels = np.where(rng.random(pixels.shape) < mix, other, pixels)
    lit = rng.random(pixels.shape) < speckle
    pixels[lit] = rng.integers(60, 256, size=int(lit.sum()), dtype=np.uint8)
    return labels, pixels


def ensure_hard_file(workdir: Path, rows: int, mix: float, speckle: float) -> Path:
    """The label-sorted hard file (made once per size and noise)."""
    workdir.mkdir(exist_ok=True)
    out = workdir / f"ooc_hard_{rows}_{mix}_{speckle}.h5"
    if out.exists():
        return out
    started = time.perf_counter()
    parts = (
        hard_rows(min(PART_ROWS, rows - start), seed=1000 + part, mix=mix, speckle=speckle)
        for part, start in enumerate(range(0, rows, PART_ROWS))
    )
    digits_h5(out, parts, sort_by_label=True, convert_args=["--sample-shape", "28,28,1"])
    print(f"made {out.name} ({out.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def fit(data: Path, shuffle: str | None, cgroup: MemoryCgroup | None, epochs: int, steps: int) -> dict:
    """One ``h5train fit`` run; its final validation accuracy, the order it chose, its time."""
    with tempfile.TemporaryDirectory(dir=data.parent) as scratch:
        run = Path(scratch) / "run"
        command = [
            sys.executable,
            "-m",
            "csv2h5.trainer",
            "fit",
            str(data),
            "--epochs",
            str(epochs),
            "--steps-per-epoch",
            str(steps),
            "--progress",
            "none",
            "--run-dir",
            str(run),
        ]
        if shuffle is not None:
            command += ["--shuffle", shuffle]
        started = time.perf_counter()
        if cgroup is None:
            proc = subprocess.run(command, capture_output=True, text=True)
        else:
            proc = cgroup.run(command, cold=data, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"h5train fit failed: {proc.stderr.strip()[-800:]}")
        with open(run / "history.csv") as fh:
            history = list(csv.DictReader(fh))
        order = json.loads((run / "config.json").read_text())["data_order"]
    return {
        "val_accuracy": [float(row["val_accuracy"]) for row in history],
        "order": order,
        "seconds": seconds,
        "peak": cgroup.peak() if cgroup is not None else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench_data")
    parser.add_argument("--limit", type=float, default=1.5e9, help="bytes the limited run may use")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--mix", type=float, default=0.4, help="share of each row's pixels taken from another row")
    parser.add_argument("--speckle", type=float, default=0.1, help="share of pixels lit at random")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--steps", type=int, default=STEPS, help="steps per epoch")
    parser.add_argument("--only-global", action="store_true", help="only the cached global run (to tune the noise)")
    args = parser.parse_args()
    data = ensure_hard_file(args.workdir, args.rows, args.mix, args.speckle)
    print(f"machine: {machine()}")
    print(
        f"file: {data.name}, {args.rows:,} rows x 785 uint8, {data.stat().st_size / 1e9:.2f} GB, sorted by label "
        f"in runs; mix {args.mix}, speckle {args.speckle}; h5train fit, {args.epochs} epochs of {args.steps} steps, "
        "seed MLP, defaults otherwise (batch 256, 10% validation split)\n"
    )
    read_into_cache(data)  # the whole file in the page cache, no limit: the reference
    cached = fit(data, "global", None, args.epochs, args.steps)
    print(f"global, cached, no limit: val accuracy by epoch {cached['val_accuracy']} ({cached['seconds']:.0f} s)")
    if args.only_global:
        return 0
    cgroup = MemoryCgroup(int(args.limit))
    try:
        limited = fit(data, None, cgroup, args.epochs, args.steps)
    finally:
        cgroup.remove()
    drop_cache(data)
    order = limited["order"]
    if order["shuffle"] != "blocks":
        raise SystemExit(
            f"under the limit the default picked {order['shuffle']} ({order['why']}), not blocks; "
            "use more --rows. No figure reported."
        )
    print(
        f"default, limited to {args.limit / 1e9:.2f} GB, cache emptied: -> {order['shuffle']} ({order['why']}; "
        f"a pool of {order['pool_blocks']} blocks of {order['block_rows']:,} rows): val accuracy by epoch "
        f"{limited['val_accuracy']} ({limited['seconds']:.0f} s, peak {limited['peak'] / 1e9:.2f} GB)"
    )
    gap = 100 * (limited["val_accuracy"][-1] - cached["val_accuracy"][-1])
    band = "in" if 0.80 <= cached["val_accuracy"][-1] <= 0.95 else "OUTSIDE"
    print(
        f"final: default {100 * limited['val_accuracy'][-1]:.2f}% vs global {100 * cached['val_accuracy'][-1]:.2f}% "
        f"({band} the 80-95% band): {gap:+.2f} points (target: within 1)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

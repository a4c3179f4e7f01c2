"""Benchmark: csv2h5 of this tree against csv2h5 of another tree (another version), on bench_convert's shapes.

    git worktree add /tmp/csv2h5-main main          # or: mkdir /tmp/csv2h5-main && git archive main | tar -x -C /tmp/csv2h5-main
    python scripts/bench_against.py /tmp/csv2h5-main            # MNIST, HIGGS, credit card; 5 alternating rounds
    python scripts/bench_against.py /tmp/csv2h5-main --shapes higgs --rows-fraction 0.2 --runs 3   # a quick look

Each run is ``python -m csv2h5 convert`` in its own process, started in the
tree whose package it runs; the two versions alternate, so a noisy minute hits
both. A ratio is this tree's time over the other's, per round, and the median of
those is reported (below 1: this tree is faster), with the peak RssAnon of the
process tree. The shapes are generated into --workdir as bench_convert.py makes
them (and reused). Both versions' files are checked for the same values.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_convert import SHAPES, _load, _warm, make_inputs  # noqa: E402
from benchutil import machine, median, python, run_measured  # noqa: E402

HERE = Path(__file__).resolve().parents[1]


def _convert(tree: Path, shape, csv: Path, out: Path) -> tuple[float, float]:
    """Seconds and peak RssAnon (MB) of one conversion by the csv2h5 package in ``tree``."""
    out.unlink(missing_ok=True)
    cmd = [python(), "-m", "csv2h5", "convert", str(csv), "-o", str(out), "--quiet"] + shape.csv2h5_args()
    # The package of the tree the process starts in comes first (sys.path[0]), ahead of any installed one.
    env = {"PYTHONPATH": str(tree)}
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        seconds, memory, _ = run_measured(cmd, env=env)
    finally:
        os.chdir(cwd)
    return seconds, memory.peak_anon_tree_kb / 1024


def _same_values(a: Path, b: Path) -> bool:
    import h5py

    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        return all(np.array_equal(fa[k][()], fb[k][()], equal_nan=True) for k in ("features", "target"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path, help="a directory holding the other version's csv2h5 package")
    parser.add_argument("--shapes", default="mnist,higgs,creditcard", help="comma-separated: mnist, higgs, creditcard")
    parser.add_argument("--runs", type=int, default=5, help="alternating rounds")
    parser.add_argument("--rows-fraction", type=float, default=1.0, help="scale every shape's row count (quick looks)")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    baseline = args.baseline.resolve()
    if not (baseline / "csv2h5" / "__init__.py").exists():
        parser.error(f"{baseline} holds no csv2h5 package; pass a checkout of the other version")
    work = args.workdir.resolve()
    work.mkdir(exist_ok=True)
    print(f"machine: {machine()}")
    print(f"this tree: {HERE}; baseline: {baseline}")
    print(f"load average at start: {_load()}")
    shapes = [SHAPES[name] for name in args.shapes.split(",")]
    inputs = {name: csv for name, (csv, _) in make_inputs(shapes, work, args.rows_fraction).items()}
    results = {shape.name: {"this": [], "baseline": []} for shape in shapes}
    for round_ in range(args.runs):
        for shape in shapes:
            csv = inputs[shape.name]
            _warm(csv)
            for label, tree in (("this", HERE), ("baseline", baseline)):
                results[shape.name][label].append(_convert(tree, shape, csv, work / f"against_{shape.name}_{label}.h5"))
        print(f"round {round_ + 1}/{args.runs} done, load average {_load()}", flush=True)
    print("\n| shape | input | this tree | baseline | this / baseline (median of rounds) | peak RssAnon this / baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape in shapes:
        runs = results[shape.name]
        ratio = median([a[0] / b[0] for a, b in zip(runs["this"], runs["baseline"])])
        low, high = (
            min(a[0] / b[0] for a, b in zip(runs["this"], runs["baseline"])),
            max(a[0] / b[0] for a, b in zip(runs["this"], runs["baseline"])),
        )
        print(
            f"| {shape.name} | {inputs[shape.name].stat().st_size / 1e6:,.0f} MB"
            f" | {median([s for s, _ in runs['this']]):.2f} s | {median([s for s, _ in runs['baseline']]):.2f} s"
            f" | **{ratio:.3f}** ({low:.2f}-{high:.2f}) | {max(m for _, m in runs['this']):,.0f} /"
            f" {max(m for _, m in runs['baseline']):,.0f} MB |"
        )
    for shape in shapes:
        same = _same_values(work / f"against_{shape.name}_this.h5", work / f"against_{shape.name}_baseline.h5")
        print(f"{shape.name}: both versions' files hold the same values: {same}")
    print(f"\nload average at end: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

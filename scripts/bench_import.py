"""Benchmark: what ``from csv2h5.trainer import HDF5Sequence`` costs a Python user, per backend rule.

    python scripts/bench_import.py [--runs 5]

Each import runs in a fresh process with ``KERAS_BACKEND`` and
``TF_CPP_MIN_LOG_LEVEL`` removed from the environment (then set as the case
says), so TensorFlow's native start-up notices would reach stderr if nothing
filtered them. Reported: the median wall time, the median peak resident memory
(anonymous + file-backed, sampled), the backend Keras loaded, and the lines
written to stderr. The baseline is ``import keras`` alone with KERAS_BACKEND
unset: Keras's own default (TensorFlow), which the trainer's import used to get.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import MemorySampler, machine, median, python  # noqa: E402

REPORT = "import keras; print(keras.backend.backend())"
CASES = (  # name, environment additions, code
    ("import keras (Keras's default; the baseline)", {}, REPORT),
    ("from csv2h5.trainer import HDF5Sequence", {}, "from csv2h5.trainer import HDF5Sequence; " + REPORT),
    ("  the same, KERAS_BACKEND=jax", {"KERAS_BACKEND": "jax"}, "from csv2h5.trainer import HDF5Sequence; " + REPORT),
    (
        "  the same, KERAS_BACKEND=tensorflow",
        {"KERAS_BACKEND": "tensorflow"},
        "from csv2h5.trainer import HDF5Sequence; " + REPORT,
    ),
)


def _once(code: str, extra: dict[str, str]) -> tuple[float, int, str, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [python(), "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, **extra}
    )
    with MemorySampler(proc.pid, interval=0.01) as mem:
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{code} failed: {err.strip()[-2000:]}")
    return seconds, mem.peak_anon_tree_kb + mem.peak_file_tree_kb, out.strip(), len(err.splitlines())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}; {args.runs} runs per case, alternating; {time.strftime('%Y-%m-%d %H:%M:%S')}")
    results: dict[str, list[tuple[float, int, str, int]]] = {name: [] for name, _, _ in CASES}
    for _ in range(args.runs):
        for name, extra, code in CASES:
            results[name].append(_once(code, extra))
    base = median([r[0] for r in results[CASES[0][0]]])
    for name, runs in results.items():
        seconds = median([r[0] for r in runs])
        print(
            f"{name:46s} {seconds:5.2f} s ({seconds / base:4.2f}x)  {median([r[1] for r in runs]) / 1024:5.0f} MB  "
            f"backend {runs[0][2]:10s} stderr lines {max(r[3] for r in runs)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

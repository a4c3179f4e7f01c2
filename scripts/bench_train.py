"""Benchmark: training the seed's network through HDF5Sequence against in-RAM numpy and the skiprows generator.

    python scripts/bench_train.py                  # 42,000 and 600,000 rows, and memory at 1x / 10x
    python scripts/bench_train.py --sizes 42000 --no-memory   # quick look

The network is the seed's: Dense(50, relu), Dense(10, softmax), SGD, batch 256,
float32 input. Each configuration trains in its own process, one after the
other; an epoch's time is the median over epochs 2..N (epoch 1 includes
tracing) of several alternating rounds. The classic generator (``pd.read_csv(skiprows=..., nrows=256)`` per
batch) is far too slow for a full epoch at 600,000 rows: its read time is
measured on batches spread over the epoch and extrapolated, plus the in-RAM
epoch's compute, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python, run_measured  # noqa: E402

BATCH = 256

TRAIN = textwrap.dedent("""
    import json, os, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras, numpy as np, h5py
    mode, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else None
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times = []
    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None): times.append(time.perf_counter() - self.t)
    if mode == "ram":
        with h5py.File(path, "r") as f:
            x = f["features"][()].astype(np.float32); y = f["target"][()].astype(np.int32)
        model.fit(x, y, batch_size=256, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
    elif mode == "ram-pydataset":  # Keras's PyDataset path alone: batches gathered from RAM
        with h5py.File(path, "r") as f:
            x = f["features"][()]; y = f["target"][()].astype(np.int32)
        class InRam(keras.utils.PyDataset):
            def __init__(self):
                super().__init__()
                self.epoch = 0
            def __len__(self):
                return (len(x) + 255) // 256
            def on_epoch_end(self):
                self.epoch += 1
            def __getitem__(self, i):
                if getattr(self, "order_epoch", None) != self.epoch:
                    self.order, self.order_epoch = np.random.default_rng([0, self.epoch]).permutation(len(x)), self.epoch
                rows = np.sort(self.order[i * 256:(i + 1) * 256])
                return np.take(x, rows, axis=0).astype(np.float32), y[rows]
        model.fit(InRam(), epochs=epochs, shuffle=False, verbose=0, callbacks=[Clock()])
    else:
        from csv2h5.trainer import HDF5Sequence
        workers, processes = {"seq": (1, False), "seq-threads": (2, False), "seq-processes": (2, True)}[mode]
        seq = HDF5Sequence(path, batch_size=256, shuffle="global", workers=workers, use_multiprocessing=processes,
                           batches_per_epoch=steps)
        model.fit(seq, epochs=epochs, shuffle=False, verbose=0, callbacks=[Clock()])
    print(json.dumps(times))
""")

CLASSIC = textwrap.dedent("""
    import json, sys, time
    import numpy as np, pandas as pd
    path, rows, probes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    batches = (rows + 255) // 256
    seconds = []
    for k in range(probes):  # batches spread evenly over the epoch: the cost grows with the offset
        i = (k * batches) // probes + (batches // probes) // 2
        t = time.perf_counter()
        frame = pd.read_csv(path, skiprows=range(1, 1 + i * 256), nrows=256)
        x = frame.iloc[:, 1:].to_numpy(np.float32); y = frame.iloc[:, 0].to_numpy()
        seconds.append(time.perf_counter() - t)
    print(json.dumps({"mean_batch_s": float(np.mean(seconds)), "batches": batches}))
""")


def _ensure(work: Path, rows: int) -> tuple[Path, Path]:
    csv = work / f"digits_{rows}.csv"
    h5 = work / f"digits_{rows}_none.h5"
    if not csv.exists():
        subprocess.run([python(), str(Path(__file__).parent / "make_digits_csv.py"), str(csv), "--rows", str(rows)], check=True)
    if not h5.exists():
        subprocess.run([python(), "-m", "csv2h5", "convert", str(csv), "-o", str(h5), "--target", "label", "--quiet"], check=True)
    return csv, h5


def _repeat_file(src: Path, times: int) -> Path:
    """The same rows ``times`` over, written with the project's writer layout (for the memory check)."""
    import h5py
    import numpy as np

    out = src.with_name(src.stem + f"_x{times}.h5")
    if out.exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(src, "r") as f, h5py.File(tmp, "w", libver=("earliest", "v110"), meta_block_size=1 << 20) as g:
        x, y = f["features"], f["target"]
        n = x.shape[0]
        gx = g.create_dataset("features", shape=(n * times, x.shape[1]), dtype=x.dtype, chunks=x.chunks)
        gy = g.create_dataset("target", data=np.tile(y[()], times), chunks=True)
        for k, v in x.attrs.items():
            gx.attrs[k] = v
        for k, v in y.attrs.items():
            gy.attrs[k] = v
        for start in range(0, n, 65536):
            block = x[start:start + 65536]
            for t in range(times):
                gx[t * n + start:t * n + start + block.shape[0]] = block
        for name in f["stats"]:
            g[f"stats/{name}"] = f["stats"][name][()]
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g.attrs["rows"] = n * times
    tmp.replace(out)
    return out


def _train(mode: str, h5: Path, epochs: int, steps: int | None = None) -> tuple[list[float], object]:
    """Epoch times after the first (which includes tracing), and the memory peaks."""
    cmd = [python(), "-c", TRAIN, mode, str(h5), str(epochs)] + ([str(steps)] if steps else [])
    _, mem, out = run_measured(cmd, env={"TF_CPP_MIN_LOG_LEVEL": "3"})
    times = json.loads(out.strip().splitlines()[-1])
    return (times[1:] if len(times) > 1 else times), mem


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[42_000, 600_000])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process (the first is not counted)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating in-RAM / sequence runs")
    parser.add_argument("--probes", type=int, default=8, help="classic-generator batches timed per size")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    args.workdir.mkdir(exist_ok=True)
    print(f"machine: {machine()}")
    print(f"seed network 784-50-10, SGD, batch {BATCH}; epoch time = median over {args.rounds} rounds of "
          f"epochs 2..{args.epochs} (pools: one round)\n")
    for rows in args.sizes:
        csv, h5 = _ensure(args.workdir, rows)
        # In-RAM and the 1-worker sequence alternate, round after round, so that a noisy
        # stretch of the machine hits both; the pools run once (they are not close).
        epochs: dict[str, list[float]] = {}
        peaks: dict[str, object] = {}
        names = {"ram": "in-RAM numpy model.fit", "seq": "HDF5Sequence global, 1 worker",
                 "ram-pydataset": "PyDataset over in-RAM numpy (Keras path)",
                 "seq-threads": "HDF5Sequence global, 2 threads", "seq-processes": "HDF5Sequence global, 2 processes"}
        for round_ in range(args.rounds):
            for mode in ("ram", "seq") if round_ else ("ram", "seq", "ram-pydataset", "seq-threads", "seq-processes"):
                times, mem = _train(mode, h5, args.epochs)
                epochs.setdefault(names[mode], []).extend(times)
                peaks.setdefault(names[mode], mem)
        results = {name: (median(times), peaks[name]) for name, times in epochs.items()}
        ram = results[names["ram"]][0]
        probes = subprocess.run([python(), "-c", CLASSIC, str(csv), str(rows), str(args.probes)], check=True,
                                capture_output=True, text=True).stdout
        classic = json.loads(probes)
        classic_epoch = classic["mean_batch_s"] * classic["batches"] + ram
        print(f"{rows:,} rows")
        for name, (seconds, mem) in results.items():
            print(f"  {name:40s} {seconds:8.2f} s/epoch  {seconds / ram:5.2f}x in-RAM  "
                  f"RssAnon peak {mem.peak_anon_tree_kb / 1024:6.0f} MB  RssFile {mem.peak_file_tree_kb / 1024:5.0f} MB")
        ours = results[names["seq"]][0]
        print(f"  {'classic skiprows generator (extrapolated)':40s} {classic_epoch:8.1f} s/epoch  "
              f"({classic['mean_batch_s'] * 1000:.0f} ms per batch read, {args.probes} batches timed)")
        print(f"  HDF5Sequence vs in-RAM: {ours / ram:.2f}x (target <= 1.15x); "
              f"speed-up over the classic generator: {classic_epoch / ours:,.0f}x\n")
    if not args.no_memory:
        _, h5 = _ensure(args.workdir, args.sizes[-1])
        big = _repeat_file(h5, 10)
        steps = 400
        print(f"memory: HDF5Sequence global, 1 worker, {steps} batches per epoch, 2 epochs")
        for label, path in (("1x", h5), ("10x", big)):
            _, mem = _train("seq", path, 2, steps)
            print(f"  {label:4s} {path.name:32s} RssAnon peak {mem.peak_anon_tree_kb / 1024:6.0f} MB  "
                  f"RssFile peak {mem.peak_file_tree_kb / 1024:6.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

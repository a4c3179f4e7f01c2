"""Benchmark: training the seed's network from a csv2h5 file against in-RAM numpy, on JAX and TensorFlow.

    python scripts/bench_train.py                      # everything BENCHMARKS.md reports (about 15 min on 2 cores)
    python scripts/bench_train.py --sizes 42000 --no-memory --no-classic --no-workers   # a quick look

The network is the seed's: Dense(50, relu), Dense(10, softmax), SGD, batch 256,
float32 input. Every configuration trains in its own process (the backend is
fixed at import), one after the other; an epoch's time is the median over
epochs 2..N (epoch 1 includes tracing) of several rounds in which in-RAM and
the file alternate, so a noisy stretch of a shared machine hits both.

- ``ram``: ``model.fit(x, y, shuffle=True)`` on arrays loaded whole (the baseline).
- ``h5train``: the input h5train feeds ``model.fit`` (trainer/pipeline.py): tf.data
  over (epoch, batch) on TensorFlow, a read-ahead generator on JAX, batches read
  from the memory-mapped file in a fresh global shuffle every epoch.
- ``pydataset``: ``model.fit(HDF5Sequence)``, Keras's own PyDataset path (one round, for reference;
  every round with ``--python-rounds``).
- ``pydataset_workers``: the same with ``HDF5Sequence(..., workers=2)``: Keras reads batches ahead on
  a pool of 2 threads (its ``OrderedEnqueuer``) before the generator hands them to TensorFlow (as ``pydataset``).
- ``as_dataset``: ``model.fit(seq.as_dataset(), epochs=E)``, what a Python user writes for
  h5train's tf.data pipeline: Keras restarts the pipeline for every epoch (every round).
- ``as_dataset_epochs``: ``model.fit(seq.as_dataset(epochs=E), epochs=E, steps_per_epoch=len(seq))``,
  one pass over every epoch, as h5train feeds fit (every round; target <= 1.10x in-RAM on TensorFlow).
- ``interleaved``: the same comparison inside one process per backend (epochs of in-RAM
  and of the file alternate), which process-to-process noise does not reach.
- ``workers``: ``--strategy multi-worker`` machinery on JAX, 2 processes on 127.0.0.1 with
  the global batch of 256 split between them, against the same run in 1 process.
- The classic ``pd.read_csv(skiprows=..., nrows=256)`` generator is far too slow for a
  full epoch: 8 batch reads spread over the epoch are timed and extrapolated, plus the
  in-RAM epoch's compute. Memory: peak RssAnon of the h5train input at 1x and 10x the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import machine, median, python, run_measured  # noqa: E402

BATCH = 256
BACKENDS = ("jax", "tensorflow")

TRAIN = textwrap.dedent("""
    import json, os, sys, time
    mode, path, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    steps = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    worker = tuple(int(v) for v in sys.argv[5:7]) if len(sys.argv) > 6 else None  # (index, count)
    worker = worker if worker and worker[1] > 1 else None  # one worker: a plain process
    if worker:
        import jax
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(f"127.0.0.1:{sys.argv[7]}", worker[1], worker[0], initialization_timeout=120)
    import keras, numpy as np, h5py
    if worker:
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh((len(devices),), ["batch"], devices)
        keras.distribution.set_distribution(keras.distribution.DataParallel(device_mesh=mesh, auto_shard_dataset=False))
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
    else:
        from csv2h5.trainer import HDF5Sequence
        from csv2h5.trainer.pipeline import training_input
        seq = HDF5Sequence(path, batch_size=256, shuffle="global", batches_per_epoch=steps,
                           batch_slice=worker, scale=None, missing=None,  # the stored values, as in RAM
                           workers=2 if mode == "pydataset_workers" else 1)
        if mode in ("pydataset", "pydataset_workers"):
            model.fit(seq, epochs=epochs, shuffle=False, verbose=0, callbacks=[Clock()])
        elif mode == "as_dataset":
            model.fit(seq.as_dataset(), epochs=epochs, shuffle=False, verbose=0, callbacks=[Clock()])
        elif mode == "as_dataset_epochs":
            model.fit(seq.as_dataset(epochs=epochs), epochs=epochs, steps_per_epoch=len(seq), shuffle=False, verbose=0,
                      callbacks=[Clock()])
        else:
            fit_input = training_input(seq, first_epoch=0, epochs=epochs, tf_data=keras.backend.backend() == "tensorflow")
            model.fit(fit_input.data, epochs=epochs, steps_per_epoch=fit_input.steps_per_epoch, shuffle=False, verbose=0,
                      callbacks=[Clock()])
    print(json.dumps(times))
    if worker:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("done")
        os._exit(0)  # the other worker may already be gone: skip JAX's shutdown barrier
""")

INTERLEAVED = textwrap.dedent("""
    import json, sys, time
    import keras, numpy as np, h5py
    from csv2h5.trainer import HDF5Sequence
    from csv2h5.trainer.pipeline import training_input
    path, rounds = sys.argv[1], int(sys.argv[2])
    with h5py.File(path, "r") as f:
        x = f["features"][()].astype(np.float32); y = f["target"][()].astype(np.int32)
    seq = HDF5Sequence(path, batch_size=256, shuffle="global", scale=None, missing=None)  # the stored values, as in RAM
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(50, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times = {"ram": [], "h5train": []}
    class Clock(keras.callbacks.Callback):
        def __init__(self, name): super().__init__(); self.name = name
        def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            if epoch: times[self.name].append(time.perf_counter() - self.t)  # the first includes tracing
    tf_data = keras.backend.backend() == "tensorflow"
    for _ in range(rounds):
        model.fit(x, y, batch_size=256, epochs=3, shuffle=True, verbose=0, callbacks=[Clock("ram")])
        fit_input = training_input(seq, first_epoch=0, epochs=3, tf_data=tf_data)
        model.fit(fit_input.data, epochs=3, steps_per_epoch=fit_input.steps_per_epoch, shuffle=False, verbose=0,
                  callbacks=[Clock("h5train")])
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
            block = x[start : start + 65536]
            for t in range(times):
                gx[t * n + start : t * n + start + block.shape[0]] = block
        for name in f["stats"]:
            g[f"stats/{name}"] = f["stats"][name][()]
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g.attrs["rows"] = n * times
    tmp.replace(out)
    return out


def _env(backend: str) -> dict[str, str]:
    return {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}


def _train(backend: str, mode: str, h5: Path, epochs: int, steps: int | None = None) -> tuple[list[float], object]:
    """Epoch times after the first (which includes tracing), and the memory peaks."""
    cmd = [python(), "-c", TRAIN, mode, str(h5), str(epochs), str(steps) if steps else "-"]
    _, mem, out = run_measured(cmd, env=_env(backend))
    times = json.loads(out.strip().splitlines()[-1])
    return (times[1:] if len(times) > 1 else times), mem


def _workers(h5: Path, epochs: int, count: int) -> list[float]:
    """Epoch times of worker 0 when ``count`` JAX processes on 127.0.0.1 train with the global batch."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [
        subprocess.Popen(
            [python(), "-c", TRAIN, "h5train", str(h5), str(epochs), "-", str(i), str(count), str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **_env("jax")},
        )
        for i in range(count)
    ]
    outs = [p.communicate(timeout=3600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"worker failed ({p.returncode}): {err.strip()[-2000:]}")
    return json.loads(outs[0][0].strip().splitlines()[-1])[1:]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[42_000, 600_000])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process (the first is not counted)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating in-RAM / h5train input runs")
    parser.add_argument("--probes", type=int, default=8, help="classic-generator batches timed per size")
    parser.add_argument(
        "--python-rounds", action="store_true", help="measure model.fit(HDF5Sequence) in every round, not only the first"
    )
    parser.add_argument("--no-classic", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-workers", action="store_true")
    parser.add_argument("--no-interleaved", action="store_true", help="skip the one-process check at the largest size")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data"))
    args = parser.parse_args()
    args.workdir.mkdir(exist_ok=True)
    from importlib.metadata import version

    print(f"machine: {machine()}, keras {version('keras')}, jax {version('jax')}, tensorflow {version('tensorflow')}")
    print(f"start: {time.strftime('%Y-%m-%d %H:%M:%S')}, {_load()}")
    print(
        f"seed network 784-50-10, SGD, batch {BATCH}; epoch time = median over {args.rounds} rounds of "
        f"epochs 2..{args.epochs} (pydataset: one round)\n"
    )
    names = {
        "ram": "in-RAM numpy model.fit(x, y)",
        "h5train": "h5train input (HDF5Sequence, global shuffle)",
        "pydataset": "model.fit(HDF5Sequence) (Keras PyDataset)",
        "pydataset_workers": "model.fit(HDF5Sequence(workers=2))",
        "as_dataset": "model.fit(seq.as_dataset())",
        "as_dataset_epochs": "model.fit(seq.as_dataset(epochs=E), steps=)",
    }
    for rows in args.sizes:
        csv, h5 = _ensure(args.workdir, rows)
        ram_by_backend = {}
        for backend in args.backends:
            epochs: dict[str, list[float]] = {}
            peaks: dict[str, object] = {}
            for round_ in range(args.rounds):
                python_path = ("pydataset", "pydataset_workers") if args.python_rounds or not round_ else ()
                for mode in ("ram", "h5train", "as_dataset", "as_dataset_epochs", *python_path):
                    times, mem = _train(backend, mode, h5, args.epochs)
                    epochs.setdefault(mode, []).extend(times)
                    peaks.setdefault(mode, mem)
            ram = median(epochs["ram"])
            ram_by_backend[backend] = ram
            print(f"{rows:,} rows, {backend} ({_load()})")
            for mode, times in epochs.items():
                seconds = median(times)
                mem = peaks[mode]
                print(
                    f"  {names[mode]:46s} {seconds:7.2f} s/epoch  {seconds / ram:5.2f}x in-RAM  "
                    f"RssAnon peak {mem.peak_anon_tree_kb / 1024:6.0f} MB  (epochs: {', '.join(f'{t:.2f}' for t in times)})"
                )
            target = 1.10 if backend == "jax" else 1.15
            print(f"  h5train input vs in-RAM on {backend}: {median(epochs['h5train']) / ram:.2f}x (target <= {target:.2f}x)")
            print(
                f"  as_dataset() vs in-RAM on {backend}: {median(epochs['as_dataset']) / ram:.2f}x, "
                f"as_dataset(epochs=E) with steps_per_epoch: {median(epochs['as_dataset_epochs']) / ram:.2f}x"
                f"{' (target <= 1.10x)' if backend == 'tensorflow' else ''}\n"
            )
        if not args.no_classic:
            probes = subprocess.run(
                [python(), "-c", CLASSIC, str(csv), str(rows), str(args.probes)], check=True, capture_output=True, text=True
            ).stdout
            classic = json.loads(probes)
            fastest = min(ram_by_backend.values())
            classic_epoch = classic["mean_batch_s"] * classic["batches"] + fastest
            print(
                f"  classic skiprows generator (extrapolated): {classic_epoch:8.1f} s/epoch "
                f"({classic['mean_batch_s'] * 1000:.0f} ms per batch read, {args.probes} batches timed)\n"
            )
    if not args.no_interleaved:
        _, h5 = _ensure(args.workdir, args.sizes[-1])
        print(
            f"one process per backend, {args.sizes[-1]:,} rows: in-RAM fit and the h5train input alternate, "
            f"{args.rounds} rounds of 3 epochs (the first of each not counted)"
        )
        for backend in args.backends:
            _, _, out = run_measured([python(), "-c", INTERLEAVED, str(h5), str(args.rounds)], env=_env(backend))
            times = json.loads(out.strip().splitlines()[-1])
            ram, ours = median(times["ram"]), median(times["h5train"])
            print(
                f"  {backend:10s} in-RAM {ram:6.2f} s/epoch  h5train input {ours:6.2f} s/epoch  {ours / ram:5.2f}x  ({_load()})"
            )
        print()
    if not args.no_workers and "jax" in args.backends:
        _, h5 = _ensure(args.workdir, args.sizes[0])
        one, two = [], []
        for _ in range(args.rounds):
            one += _workers(h5, args.epochs, 1)
            two += _workers(h5, args.epochs, 2)
        print(f"multi-worker on JAX, {args.sizes[0]:,} rows, global batch {BATCH}, processes on 127.0.0.1 ({_load()})")
        print(f"  1 process : {median(one):6.2f} s/epoch  (epochs: {', '.join(f'{t:.2f}' for t in one)})")
        print(
            f"  2 workers : {median(two):6.2f} s/epoch  {median(two) / median(one):.2f}x one process "
            f"(epochs: {', '.join(f'{t:.2f}' for t in two)})\n"
        )
    if not args.no_memory:
        _, h5 = _ensure(args.workdir, args.sizes[-1])
        big = _repeat_file(h5, 10)
        steps = 400
        print(f"memory: h5train input, {steps} batches per epoch, 2 epochs, {args.backends[0]}")
        for label, path in (("1x", h5), ("10x", big)):
            _, mem = _train(args.backends[0], "h5train", path, 2, steps)
            print(
                f"  {label:4s} {path.name:32s} RssAnon peak {mem.peak_anon_tree_kb / 1024:6.0f} MB  "
                f"RssFile peak {mem.peak_file_tree_kb / 1024:6.0f} MB"
            )
    print(f"\nend: {time.strftime('%Y-%m-%d %H:%M:%S')}, {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Which epoch to keep: rules for the kept epoch, scored on bench_tabular.py's tables from one run each.

Each table (bench_tabular.py's split, converted as there) is trained once for
50 epochs without early stopping, otherwise with h5train's defaults; every
epoch's weights are kept in memory and scored on the test part afterwards.
A rule for the kept epoch is then applied to the run's validation losses,
stopping after ``patience`` epochs without a kept one as h5train does, and the
kept epoch's test score read off; the first 10 epochs are the defaults' run
(the same seed gives the same epochs). With the current rule this reproduces
bench_tabular.py's figures.

    python scripts/bench_kept_epoch.py [--only biopsy,penguins] [--split-seed 0] [--dropout 0.3] [--ema]
    python scripts/bench_kept_epoch.py --plateau 0.5,3     # the learning rate halved after 3 epochs without a lower val loss
    python scripts/bench_kept_epoch.py --deep-scale 0.3    # the MLP's logits scaled before they join the linear path
    python scripts/bench_kept_epoch.py --batches 64 --smallest-batch 8   # more, smaller batches for small tables
    python scripts/bench_kept_epoch.py --deep-l2 0.001     # an L2 penalty on the MLP's kernels (not the linear path's)

Variants that do not depend on the number of epochs (all of these) give both
columns (10 and 50 epochs) from one run, as the current defaults do.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

RULES = {  # name: (tie tolerance, first epoch that may be kept, patience, min_delta)
    "first best (now)": (0.0, 1, 10, 0.0),
    "ties within 0.5%": (0.005, 1, 10, 0.0),
    "ties within 1%": (0.01, 1, 10, 0.0),
    "ties within 2%": (0.02, 1, 10, 0.0),
    "ties within 5%": (0.05, 1, 10, 0.0),
    "from epoch 3": (0.0, 3, 10, 0.0),
    "patience 20": (0.0, 1, 20, 0.0),
    "min_delta 1%": (0.0, 1, 10, 0.01),
}


def kept_epoch(losses: list[float], epochs: int, *, tolerance: float, start: int, patience: int, min_delta: float) -> int:
    """The epoch (from 1) a rule keeps after at most ``epochs`` epochs; independent of callbacks.keeps."""
    record, kept = None, None
    for epoch in range(1, epochs + 1):
        value = losses[epoch - 1]
        if epoch >= start:
            if record is None or value < record - min_delta * abs(record):
                record, kept = value, epoch
            elif value <= record + tolerance * abs(record) and tolerance:
                kept = epoch
        if patience and kept is not None and epoch - kept >= patience:
            break
    return kept or epochs


@dataclasses.dataclass(frozen=True)
class Variant:
    """A training change to measure, applied by wrapping h5train's own pieces for one run."""

    dropout: float | None = None
    ema: bool = False
    plateau: tuple[float, int] | None = None  # (factor, patience) of ReduceLROnPlateau on the validation loss
    deep_scale: float = 1.0  # the MLP's logits times this before they are added to the linear path's
    batches: int | None = None  # auto batch size: at least this many steps an epoch (h5train: 32)
    smallest_batch: int | None = None  # auto batch size: no smaller than this (h5train: 16)
    deep_l2: float = 0.0  # an L2 penalty on the MLP's kernels (Keras adds it to the training and validation loss)


def _scaled_tabular(scale: float) -> Callable[..., object]:
    """The tabular body with its deep logits multiplied by ``scale`` (Adam then moves them ``scale`` times as fast)."""
    import keras
    from csv2h5.trainer import models

    def build(sample_shape: tuple[int, ...], output: object, *, hidden: tuple[int, ...], dropout: float, activation: str):
        body = models._tabular(sample_shape, output, hidden=hidden, dropout=dropout, activation=activation)
        deep = body.get_layer("deep_logits").output
        wide = body.get_layer("wide_logits").output
        scaled = keras.layers.Rescaling(scale, name="deep_scale")(deep)
        logits = keras.layers.Add(name="logits")([scaled, wide])
        return keras.Model(body.inputs, keras.layers.Activation(output.activation, name="output")(logits), name="tabular")

    return build


def _penalised_tabular(l2: float) -> Callable[..., object]:
    """The tabular body with an L2 penalty of ``l2`` on every kernel of its MLP (the linear path left free)."""
    import keras
    from csv2h5.trainer import models

    def build(sample_shape: tuple[int, ...], output: object, *, hidden: tuple[int, ...], dropout: float, activation: str):
        body = models._tabular(sample_shape, output, hidden=hidden, dropout=dropout, activation=activation)
        wide = body.get_layer("wide_logits")
        for layer in body.layers:
            if isinstance(layer, keras.layers.Dense) and layer is not wide:
                layer.kernel.regularizer = keras.regularizers.L2(l2)
        return body

    return build


def train_and_score(train: Path, test: Path, run_dir: Path, variant: Variant) -> dict[str, list]:
    """50 epochs, no early stopping; the validation loss and the test rows right after each epoch."""
    import keras
    from csv2h5.trainer import fit as fit_module
    from csv2h5.trainer.modelfile import load
    from csv2h5.trainer.options import FitOptions
    from csv2h5.trainer.sequence import HDF5Sequence

    weights: list[list[np.ndarray]] = []

    class KeepWeights(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            weights.append(self.model.get_weights())

    from csv2h5.trainer import models, options

    callbacks, compile_model = fit_module._callbacks, fit_module.compile_model
    builder, batch_size = models.BUILDERS["tabular"], options.auto_batch_size
    ema = variant.ema

    def with_kept_weights(*args: object, **kwargs: object) -> tuple:
        chosen, early, interruption = callbacks(*args, **kwargs)
        chosen.insert(2, KeepWeights())  # after RunRecorder: it only reads the weights
        if ema:  # validation, the kept epoch and its weights are the average's
            chosen.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
        if variant.plateau:  # after RunRecorder, which logs the validation loss it reads
            factor, patience = variant.plateau
            chosen.insert(2, keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=factor, patience=patience))
        return chosen, early, interruption

    def compile_with_ema(model: keras.Model, output: object, **kwargs: object) -> None:
        optimizer = keras.optimizers.Adam(use_ema=True, ema_momentum=0.99)
        model.compile(optimizer=optimizer, loss=output.loss, metrics=list(output.metrics))

    fit_module._callbacks = with_kept_weights
    if ema:
        fit_module.compile_model = compile_with_ema
    if variant.deep_scale != 1.0:
        models.BUILDERS["tabular"] = _scaled_tabular(variant.deep_scale)
    if variant.deep_l2:
        models.BUILDERS["tabular"] = _penalised_tabular(variant.deep_l2)
    if variant.batches or variant.smallest_batch:
        sizes = {"batches": variant.batches or 32, "smallest": variant.smallest_batch or 16}
        options.auto_batch_size = lambda rows, **kw: batch_size(rows, **{**kw, **sizes})
    try:
        shutil.rmtree(run_dir, ignore_errors=True)
        chosen = FitOptions(data=str(train), epochs=50, early_stopping=0, dropout=variant.dropout)
        fit_module.fit(chosen, run_dir, verbose=0)
    finally:
        fit_module._callbacks, fit_module.compile_model = callbacks, compile_model
        models.BUILDERS["tabular"], options.auto_batch_size = builder, batch_size
    model = load(run_dir / "model.keras")
    seq = HDF5Sequence(str(test), batch_size=1024, shuffle=False, scale=None, missing=None)
    batches = [seq[i] for i in range(len(seq))]
    x, y = np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]).reshape(-1)
    right = []
    for epoch_weights in weights:
        model.set_weights(epoch_weights)
        right.append(int((model.predict(x, verbose=0).argmax(1) == y).sum()))
    with open(run_dir / "history.csv", newline="") as handle:
        losses = [float(row["val_loss"]) for row in csv.DictReader(handle)]
    return {"val_loss": losses, "test_right": right, "test_rows": len(y)}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_tabular as bt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated table names")
    parser.add_argument("--out", default="bench_data/kept_epoch")
    parser.add_argument("--split-seed", type=int, default=bt.SEED)
    parser.add_argument("--dropout", type=float, default=None, help="the tabular model's dropout (default: its own)")
    parser.add_argument("--ema", action="store_true", help="train with an exponential moving average of the weights")
    parser.add_argument("--plateau", default=None, help="FACTOR,PATIENCE: ReduceLROnPlateau on the validation loss")
    parser.add_argument("--deep-scale", type=float, default=1.0, help="the MLP's logits times this (1: as h5train)")
    parser.add_argument("--batches", type=int, default=None, help="auto batch size: at least this many steps an epoch")
    parser.add_argument("--smallest-batch", type=int, default=None, help="auto batch size: no smaller than this")
    parser.add_argument("--deep-l2", type=float, default=0.0, help="an L2 penalty on the MLP's kernels (0: none)")
    parser.add_argument("--json", default=None, help="write every run's curves here")
    args = parser.parse_args()
    plateau = None
    if args.plateau:
        factor, patience = args.plateau.split(",")
        plateau = (float(factor), int(patience))
    variant = Variant(args.dropout, args.ema, plateau, args.deep_scale, args.batches, args.smallest_batch, args.deep_l2)
    results = []
    for table in [t for t in bt.TABLES if not args.only or t.name in args.only.split(",")]:
        work = Path(args.out) / f"{table.name}-split{args.split_seed}"
        work.mkdir(parents=True, exist_ok=True)
        train, test = bt.split(table.load(), table.target, args.split_seed)
        train_h5, test_h5 = bt.convert(table, train, test, work)
        sk = bt.sklearn_scores(table, train, test)
        run = train_and_score(train_h5, test_h5, work / "run", variant)
        n = run["test_rows"]
        results.append({"table": table.name, **run, **{k: round(v * n) for k, v in sk.items()}})
        print(
            f"{table.name}: test rows right by epoch {run['test_right']} of {n}; logistic {results[-1]['logistic']}", flush=True
        )
    print("| rule | tables within 1 point of logistic | missed (rows) | mean gap to logistic | mean gap to boosting |")
    print("|---|---:|---|---:|---:|")
    for name, (tolerance, start, patience, min_delta) in RULES.items():
        cells = {"within": [], "missed": [], "logistic": [], "boosting": []}
        for epochs in (10, 50):
            gaps, boost, missed = [], [], []
            for r in results:
                kept = kept_epoch(r["val_loss"], epochs, tolerance=tolerance, start=start, patience=patience, min_delta=min_delta)
                right, n = r["test_right"][kept - 1], r["test_rows"]
                gaps.append(100 * (right - r["logistic"]) / n)
                boost.append(100 * (right - r["boosting"]) / n)
                if gaps[-1] < -1:
                    missed.append(f"{r['table']} {right - r['logistic']:+d}")
            cells["within"].append(str(len(results) - len(missed)))
            cells["missed"].append(", ".join(missed) or "none")
            cells["logistic"].append(f"{np.mean(gaps):+.2f}")
            cells["boosting"].append(f"{np.mean(boost):+.2f}")
        print(f"| {name} | " + " | ".join(" / ".join(v) for v in cells.values()) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results))


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()

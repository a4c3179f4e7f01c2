"""The fit / evaluate / predict engines and the run directory; no typer here.

A run directory holds everything about one training run::

    config.json          every setting, package versions, the data file's path, size, fingerprint
    state.json           epochs done and the best validation value so far (for --resume)
    model.keras          the final model
    checkpoints/last.keras, checkpoints/best.keras
    history.csv  metrics.json  curves.png  logs/ (TensorBoard)

Epoch ``e`` (counted from 0 over the whole run, across resumes) reads the
training rows in the order ``epoch_order(seed, e)``: a callback sets the
sequence's epoch when Keras begins it, before any batch of it is read.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import gc
import json
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from .distribute import distribution, weights_digest
from .errors import DataOptionError, ModelError, RunError
from .models import OutputSpec, build_model, compile_model
from .sequence import HDF5Sequence
from .storage import FileInfo, open_info


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """Every setting of a training run; saved to config.json so a run can be resumed."""

    data: str
    val: str | None = None
    val_split: float | None = None
    model: str = "mlp"
    hidden: tuple[int, ...] = (50,)
    dropout: float = 0.0
    activation: str = "relu"
    sample_shape: tuple[int, ...] | None = None
    normalize: str = "standard"
    one_hot: bool = False
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"
    learning_rate: float | None = None
    shuffle: str = "auto"  # auto: global for uncompressed files, window for compressed ones
    workers: int = 1
    processes: bool = False
    seed: int = 0
    class_weight: str | None = None
    early_stopping: int | None = None  # patience in epochs
    steps_per_epoch: int | None = None
    strategy: str = "default"  # default or mirrored (see trainer/distribute.py)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise DataOptionError(f"--epochs must be at least 1, got {self.epochs}")
        if self.val is not None and self.val_split is not None:
            raise DataOptionError("pass either --val FILE or --val-split FRACTION, not both")
        if self.workers < 1:
            raise DataOptionError(f"--workers must be at least 1, got {self.workers}")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise DataOptionError(f"--early-stopping takes a patience of at least 1 epoch, got {self.early_stopping}")

    @classmethod
    def from_json(cls, saved: dict[str, object]) -> FitOptions:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in fields}
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class FitResult:
    run_dir: Path
    epochs_done: int
    best_epoch: int | None
    best_value: float | None
    monitor: str
    seconds: float
    stopped_early: bool
    weights: str = ""  # a digest of the final weights

    def summary(self) -> str:
        best = (f"best {self.monitor} {self.best_value:.4f} at epoch {self.best_epoch}"
                if self.best_value is not None else "no validation metric")
        return (f"trained {self.epochs_done} epochs in {self.seconds:.1f} s; {best}; weights {self.weights}; "
                f"run directory {self.run_dir}")


class Interrupted(Exception):
    """Training stopped by Ctrl-C or SIGTERM; the last finished epoch is saved."""

    def __init__(self, run_dir: Path, epochs_done: int) -> None:
        super().__init__(f"interrupted; checkpoints/last.keras holds epoch {epochs_done}; "
                         f"continue with: h5train fit --resume {run_dir}")
        self.run_dir = run_dir
        self.epochs_done = epochs_done


# --------------------------------------------------------------------------- run directory


class RunDir:
    """Paths and small JSON files of one run."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.state = self.path / "state.json"
        self.model = self.path / "model.keras"
        self.last = self.path / "checkpoints" / "last.keras"
        self.best = self.path / "checkpoints" / "best.keras"
        self.history = self.path / "history.csv"
        self.metrics = self.path / "metrics.json"
        self.curves = self.path / "curves.png"
        self.logs = self.path / "logs"

    @staticmethod
    def default() -> RunDir:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        return RunDir(Path("runs") / stamp)

    def create(self) -> None:
        if self.config.exists():
            raise RunError(f"{self.path} already holds a run; pass another --run-dir, or --resume {self.path}")
        try:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {self.path}: {exc.strerror}") from None

    def read_json(self, path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run directory (no {path.name}); pass the directory h5train fit wrote") from None
        except (OSError, ValueError) as exc:
            raise RunError(f"{path} cannot be read ({exc}); the run directory is damaged") from None


def write_json(path: Path, value: object) -> None:
    """Write JSON atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def save_model(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    import h5py

    import csv2h5

    found = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
             "keras_backend": keras.backend.backend(), "h5py": h5py.__version__, "csv2h5": csv2h5.__version__}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    return found


def data_record(info: FileInfo) -> dict[str, object]:
    paths = info.parts or (info.path,)
    return {"path": str(Path(info.path).resolve()), "parts": [str(Path(p).resolve()) for p in info.parts],
            "bytes": sum(Path(p).stat().st_size for p in paths),
            "fingerprint": info.fingerprint, "rows": info.rows, "features": info.num_features,
            "task": info.task, "classes": [c if isinstance(c, (int, float)) else str(c) for c in info.classes]}


# --------------------------------------------------------------------------- callbacks


class _EpochOrder(keras.callbacks.Callback):
    """Keras epoch e reads the rows in order(seed, e), whatever Keras calls in between."""

    def __init__(self, sequence: HDF5Sequence) -> None:
        super().__init__()
        self.sequence = sequence

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.sequence.set_epoch(epoch)


class _RunRecorder(keras.callbacks.Callback):
    """After every epoch: last.keras, best.keras when improved, a history row, then state.json.

    state.json is written last, so it never claims an epoch whose checkpoint is missing.
    """

    def __init__(self, run: RunDir, monitor: str, mode: str, state: dict) -> None:
        super().__init__()
        self.run = run
        self.monitor = monitor
        self.better = np.greater if mode == "max" else np.less
        self.state = state

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        save_model(self.model, self.run.last)
        value = logs.get(self.monitor)
        if value is not None and (self.state["best_value"] is None or self.better(value, self.state["best_value"])):
            save_model(self.model, self.run.best)
            self.state.update(best_value=value, best_epoch=epoch + 1)
        _append_history(self.run.history, epoch + 1, logs)
        self.state["epochs_done"] = epoch + 1
        write_json(self.run.state, self.state)


def _append_history(path: Path, epoch: int, logs: dict[str, float]) -> None:
    fresh = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        writer = csv.writer(fh)
        if fresh:
            writer.writerow(["epoch", *sorted(logs)])
        writer.writerow([epoch, *(repr(logs[k]) for k in sorted(logs))])


def _read_history(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _keep_history(path: Path, epochs: int) -> None:
    """On resume: keep the rows of the epochs the checkpoint holds, drop any later ones."""
    rows = _read_history(path)[:epochs]
    if not rows:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_curves(history: Path, out: Path) -> None:
    """Loss and the main metric per epoch, training against validation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _read_history(history)
    if not rows:
        return
    names = [k for k in rows[0] if k != "epoch" and not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.5), squeeze=False)
    epochs = [int(r["epoch"]) for r in rows]
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, [float(r[name]) for r in rows], marker="o", label="train")
        if f"val_{name}" in rows[0]:
            ax.plot(epochs, [float(r[f"val_{name}"]) for r in rows], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


# --------------------------------------------------------------------------- fit


def seed_everything(seed: int) -> None:
    """Python, numpy, Keras and the backend; TensorFlow ops made deterministic."""
    random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _sequences(options: FitOptions, info: FileInfo) -> tuple[HDF5Sequence, HDF5Sequence | None]:
    shuffle: str | bool = True if options.shuffle == "auto" else options.shuffle
    common = dict(batch_size=options.batch_size, one_hot=options.one_hot, sample_shape=(info.num_features,),
                  workers=options.workers, use_multiprocessing=options.processes)
    train = HDF5Sequence(options.data, shuffle=shuffle, seed=options.seed, class_weight=options.class_weight,
                         batches_per_epoch=options.steps_per_epoch, training=True, **common)
    if options.val_split is not None:
        train, val = train.split(options.val_split, seed=options.seed)
        val = HDF5Sequence(options.data, shuffle=False, indices=val.indices, **common)
        return train, val
    if options.val is not None:
        val_info = open_info(options.val)
        if val_info.num_features != info.num_features or val_info.task != info.task:
            raise DataOptionError(f"--val {options.val} has {val_info.num_features} features ({val_info.task}); "
                                  f"{options.data} has {info.num_features} ({info.task}); convert both the same way")
        if info.task == "classification" and val_info.classes != info.classes:
            raise DataOptionError(f"--val {options.val} has classes {val_info.classes[:10]}, "
                                  f"but {options.data} has {info.classes[:10]}; class codes would not match")
        return train, HDF5Sequence(options.val, shuffle=False, **common)
    return train, None


def fit(options: FitOptions, run_dir: str | os.PathLike[str] | None = None, *, resume: bool = False,
        verbose: int | str = "auto", on_start: Callable[[RunDir], None] | None = None) -> FitResult:
    """Train as ``options`` say, writing the run directory; with ``resume``, continue it."""
    started = time.perf_counter()
    run = RunDir(run_dir) if run_dir is not None else RunDir.default()
    info = open_info(options.data)
    output = OutputSpec.for_file(info, one_hot=options.one_hot)
    seed_everything(options.seed)
    plan = distribution(options.strategy)
    train, val = _sequences(options, info)
    monitor = f"val_{output.monitor}" if val is not None else output.monitor
    if resume:
        config = run.read_json(run.config)
        if config["data"]["fingerprint"] != info.fingerprint:
            raise RunError(f"{options.data} changed since {run.path} started (fingerprint differs); "
                           "resume with the same file, or start a new run")
        state = run.read_json(run.state) if run.state.exists() else {"epochs_done": 0, "best_value": None, "best_epoch": None}
        if not run.last.exists() or state["epochs_done"] == 0:
            raise RunError(f"{run.path} has no finished epoch to resume from; start it again without --resume")
        with plan.scope():
            model = load(run.last)
        _keep_history(run.history, state["epochs_done"])
    else:
        with plan.scope():
            model = build_model(options.model, info, output, sample_shape=options.sample_shape,
                                normalize=options.normalize, hidden=options.hidden, dropout=options.dropout,
                                activation=options.activation)
            compile_model(model, output, optimizer=options.optimizer, learning_rate=options.learning_rate)
        run.create()  # only once everything checkable has been checked: no empty run directories
        state = {"epochs_done": 0, "best_value": None, "best_epoch": None}
        record = data_record(info)
        write_json(run.config, {"data": record, "options": dataclasses.asdict(options),
                                "target": {"task": info.task, "classes": record["classes"], "columns": info.target_columns},
                                "monitor": monitor, "versions": versions(),
                                "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        write_json(run.state, state)
    if on_start is not None:
        on_start(run)
    callbacks: list[keras.callbacks.Callback] = [
        _EpochOrder(train),
        _RunRecorder(run, monitor, output.monitor_mode, state),
        keras.callbacks.TensorBoard(str(run.logs), write_graph=False, profile_batch=0),
    ]
    early = None
    if options.early_stopping:
        early = keras.callbacks.EarlyStopping(monitor=monitor, patience=options.early_stopping, mode=output.monitor_mode)
        callbacks.append(early)
    start_epoch = state["epochs_done"]
    interrupted = False
    try:
        if start_epoch < options.epochs:
            model.fit(train, validation_data=val, epochs=options.epochs, initial_epoch=start_epoch, shuffle=False,
                      callbacks=callbacks, verbose=verbose)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        # Let Keras's input pipeline wind down now, while Python is alive: left to interpreter
        # exit, TensorFlow prints errors about generators it can no longer finalise.
        del model, callbacks
        gc.collect()
        raise Interrupted(run.path, state["epochs_done"])
    save_model(model, run.model)
    seconds = time.perf_counter() - started
    final = _read_history(run.history)[-1] if run.history.exists() else {}
    write_json(run.metrics, {"epochs": state["epochs_done"], "monitor": monitor, "best_value": state["best_value"],
                             "best_epoch": state["best_epoch"], "final": {k: float(v) for k, v in final.items() if k != "epoch"},
                             "seconds": round(seconds, 3)})
    plot_curves(run.history, run.curves)
    stopped = bool(early is not None and early.stopped_epoch)
    return FitResult(run.path, state["epochs_done"], state["best_epoch"], state["best_value"], monitor, seconds,
                     stopped, weights_digest(model))


def resume_options(run_dir: str | os.PathLike[str], *, epochs: int | None = None) -> FitOptions:
    """The options a run was started with (``epochs`` may be raised to train longer)."""
    run = RunDir(run_dir)
    saved = run.read_json(run.config)
    options = FitOptions.from_json(saved["options"])
    if epochs is not None:
        options = dataclasses.replace(options, epochs=epochs)
    return options


# --------------------------------------------------------------------------- evaluate / predict


def model_path(model_or_run: str | os.PathLike[str]) -> Path:
    """A .keras file, or a run directory's final model (its last checkpoint if it has none)."""
    path = Path(model_or_run)
    if path.is_dir():
        run = RunDir(path)
        for candidate in (run.model, run.last):
            if candidate.exists():
                return candidate
        raise RunError(f"{path} holds no model.keras or checkpoints/last.keras; pass a run directory h5train fit wrote")
    if not path.exists():
        raise RunError(f"{path}: no such model file or run directory")
    if path.suffix != ".keras":
        raise RunError(f"{path} is not a .keras model; pass a run directory or a .keras file")
    return path


def load(model_or_run: str | os.PathLike[str]) -> keras.Model:
    """Load with Keras's safe mode: no arbitrary code from the file runs."""
    path = model_path(model_or_run)
    try:
        return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # damaged or foreign file: say which, briefly
        raise RunError(f"{path} cannot be loaded as a Keras model: {str(exc).splitlines()[0][:200]}") from None


def _run_config(path: Path) -> dict | None:
    for directory in (path.parent, path.parent.parent):
        config = directory / "config.json"
        if config.exists():
            try:
                return json.loads(config.read_text())
            except ValueError:
                return None
    return None


def _check_fits(model: keras.Model, info: FileInfo) -> None:
    expected = model.input_shape[-1] if isinstance(model.input_shape, tuple) else None
    if expected is not None and expected != info.num_features:
        raise ModelError(f"the model takes rows of {expected} features but {info.path} has {info.num_features}; "
                         "use data converted like the training file")


def _one_hot(model: keras.Model) -> bool:
    loss = getattr(model, "loss", None)
    name = loss if isinstance(loss, str) else getattr(loss, "name", "") or type(loss).__name__
    return "categorical" in str(name).lower() and "sparse" not in str(name).lower()


def evaluate(model_or_run: str | os.PathLike[str], data: str | os.PathLike[str], *,
             batch_size: int = 256) -> dict[str, float]:
    """The compiled loss and metrics of the model on every row of ``data``."""
    model = load(model_or_run)
    info = open_info(data)
    _check_fits(model, info)
    seq = HDF5Sequence(data, batch_size=batch_size, shuffle=False, one_hot=_one_hot(model),
                       sample_shape=(info.num_features,))
    result = model.evaluate(seq, verbose=0, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def predict(model_or_run: str | os.PathLike[str], data: str | os.PathLike[str], output: str | os.PathLike[str], *,
            probabilities: bool = False, batch_size: int = 1024, overwrite: bool = False) -> int:
    """Write predictions for every row of ``data`` to CSV, batch by batch; returns the row count."""
    path = model_path(model_or_run)
    model = load(path)
    info = open_info(data)
    _check_fits(model, info)
    out = Path(output)
    if out.exists() and not overwrite:
        raise RunError(f"{out} already exists; pass --overwrite to replace it")
    config = _run_config(path) or {}
    target = config.get("target") or {"task": info.task, "classes": info.classes, "columns": info.target_columns}
    classes = target.get("classes") or []
    seq = HDF5Sequence(data, batch_size=batch_size, shuffle=False, targets=False, sample_shape=(info.num_features,))
    units = model.output_shape[-1]
    classification = target.get("task") == "classification" or (target.get("task") is None and units > 1)
    if classification and len(classes) != units:
        classes = list(range(units))  # no record of the labels: report class codes
    columns = target.get("columns") or ["prediction"]
    if classification:
        header = ["row", *(f"p_{c}" for c in classes)] if probabilities else ["row", columns[0]]
    else:
        header = ["row", *(columns if len(columns) == units else [f"prediction_{i}" for i in range(units)])]
    if not out.parent.is_dir():
        raise RunError(f"cannot write {out}: the directory {out.parent} does not exist; create it first")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    row = 0
    try:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            labels = np.asarray(classes, dtype=object)
            for i in range(len(seq)):
                scores = np.asarray(model.predict_on_batch(seq[i]))
                numbers = np.arange(row, row + scores.shape[0])
                if classification and not probabilities:
                    writer.writerows(zip(numbers, labels[scores.argmax(axis=1)]))
                else:
                    writer.writerows([n, *map(repr, s)] for n, s in zip(numbers, scores.astype(np.float64).tolist()))
                row += scores.shape[0]
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return row

"""The settings of a training run (``FitOptions``), and reading them back for ``--resume``.

Light on purpose: no Keras here, so that ``h5train`` can read a run's settings
(and the backend it used) before the backend is chosen and Keras imported.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
from pathlib import Path

from .errors import DataOptionError, RunError
from .rundir import RunDir
from .workers import STRATEGIES

_PATTERN = frozenset("*?[")  # a recorded data path holding one of these may be a glob pattern of parts


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """Every setting of a training run; saved to config.json so a run can be resumed."""

    data: str
    val: str | None = None
    val_split: float | None = None  # None: 0.1 of DATA unless --val is given; 0: no validation
    model: str = "auto"  # the seed's MLP for image-shaped files, the tabular MLP otherwise (models.choose_model)
    hidden: tuple[int, ...] = ()  # empty: the model's own widths (models.DEFAULT_HIDDEN)
    dropout: float | None = None  # None: the model's own (0.1 tabular, 0 otherwise)
    activation: str = "relu"
    sample_shape: tuple[int, ...] | None = None
    normalize: str = "standard"
    one_hot: bool = False
    epochs: int = 10
    batch_size: int | None = None  # the global batch; None: 256, less for small tables (preprocess.auto_batch_size)
    optimizer: str = "adam"  # adapts its steps per weight: trains tables and images alike without tuning
    learning_rate: float | None = None
    shuffle: str = "auto"  # auto: global when the rows fit in the memory this process may use, blocks otherwise
    memory_budget: int | None = None  # bytes for the data; None: found (cgroup limit, MemAvailable), then recorded
    loaders: int = 1  # batch-loading threads (processes with ``processes``); workers are training processes
    processes: bool = False
    seed: int = 0
    class_weight: str | None = None
    early_stopping: int | None = None  # patience in epochs; None: 10 when there is validation; 0: off
    tie_tolerance: float = 0.0  # validation values within this fraction of the best tie; the latest is kept (callbacks.keeps)
    steps_per_epoch: int | None = None
    strategy: str = "default"  # default, mirrored or multi-worker (see trainer/distribute.py)
    backend: str = "auto"  # the Keras backend; config.json records the one used
    missing: str = "mean"  # what NaN becomes: the training mean (mean), 0 (zero), or refused (error)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise DataOptionError(f"--epochs must be at least 1, got {self.epochs}")
        if self.val is not None and self.val_split:
            raise DataOptionError("pass either --val FILE or --val-split FRACTION, not both")
        if self.val_split is not None and not 0.0 <= self.val_split < 1.0:
            raise DataOptionError(f"--val-split must be at least 0 (no validation) and below 1, got {self.val_split}")
        if not 0 <= self.seed < 2**32:  # numpy's and Keras's seeds are unsigned 32-bit
            raise DataOptionError(f"--seed takes an integer in 0..{2**32 - 1}, got {self.seed}")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise DataOptionError(f"--learning-rate must be a positive number, got {self.learning_rate}")
        if any(width < 1 for width in self.hidden):
            raise DataOptionError(f"--hidden takes layer widths of at least 1, got {', '.join(map(str, self.hidden))}")
        if self.loaders < 1:
            raise DataOptionError(f"--loaders must be at least 1, got {self.loaders}")
        if self.batch_size is not None and self.batch_size < 1:
            raise DataOptionError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise DataOptionError(f"--steps-per-epoch must be at least 1, got {self.steps_per_epoch}")
        if self.early_stopping is not None and self.early_stopping < 0:
            raise DataOptionError(f"--early-stopping takes a patience in epochs (0: off), got {self.early_stopping}")
        if self.early_stopping and self.val is None and self.val_split == 0:  # None: the default 0.1
            raise DataOptionError(
                f"--early-stopping {self.early_stopping} waits for a better validation metric, but --val-split 0 holds"
                " no rows out for one; give --val FILE or a --val-split above 0, or leave --early-stopping out"
            )
        if not 0.0 <= self.tie_tolerance < 1.0:
            raise DataOptionError(f"--tie-tolerance takes a fraction of the best value in [0, 1), got {self.tie_tolerance}")
        if self.missing not in ("mean", "zero", "error"):
            raise DataOptionError(f"--missing takes mean, zero or error, got {self.missing!r}")
        check_missing_used(self.normalize, self.missing, given=self.missing != "mean")
        if self.class_weight not in (None, "balanced"):
            raise DataOptionError(f"--class-weight takes 'balanced', got {self.class_weight!r}")
        if self.strategy not in STRATEGIES:
            raise DataOptionError(f"--strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}")

    @property
    def validates(self) -> bool:
        """Whether the run holds rows out for validation (once resolved)."""
        return self.val is not None or bool(self.val_split)

    @classmethod
    def from_json(cls, saved: dict[str, object]) -> FitOptions:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in fields}
        if "workers" in saved and "loaders" not in saved:  # the loader threads' name in runs written before it changed
            values["loaders"] = saved["workers"]
        if "missing" not in saved:  # a run from before these defaults: None meant none, as it trained
            values.update(
                val_split=values.get("val_split") or 0.0,
                early_stopping=values.get("early_stopping") or 0,
                optimizer=values.get("optimizer", "sgd"),
                model=values.get("model", "mlp"),
                hidden=values.get("hidden", (50,)),
                dropout=values.get("dropout", 0.0),
                batch_size=values.get("batch_size", 256),
            )
        if values.get("normalize", "standard") != "standard":
            values["missing"] = "mean"  # recorded before it was refused: --normalize unit or none left it unused
        if not (values.get("val") or values.get("val_split")) and values.get("early_stopping"):
            values["early_stopping"] = 0  # recorded before it was refused: without validation it never stopped a run
        values.setdefault("tie_tolerance", 0.0)  # a run from before ties: the first best epoch was kept
        return cls(**values)

    def resolved(self, rows: int, *, workers: int = 1) -> FitOptions:
        """Every automatic setting made concrete for data of ``rows`` rows, as config.json records it.

        A resumed run reads these values back, so it trains on as it started.
        """
        val_split = self.val_split
        if val_split is None:
            val_split = 0.0 if self.val is not None else 0.1
        batch = self.batch_size
        if batch is None:
            batch = 256 if workers > 1 else auto_batch_size(rows)
        patience = self.early_stopping
        if patience is None:
            patience = 10 if (self.val is not None or val_split) else 0
        return dataclasses.replace(self, val_split=val_split, batch_size=batch, early_stopping=patience)


def auto_batch_size(rows: int, *, largest: int = 256, smallest: int = 16, batches: int = 32) -> int:
    """A batch size giving an epoch at least ``batches`` steps where the rows allow: a power of two in 16..256.

    256 rows a batch suits large files; a table of a few hundred rows would get one or
    two steps an epoch, too few for an optimizer to get anywhere in tens of epochs.
    """
    size = 2 ** max(0, math.floor(math.log2(max(1, rows // batches))))
    return int(min(largest, max(smallest, size)))


def resume_options(
    run_dir: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    data: str | os.PathLike[str] | None = None,
    val: str | os.PathLike[str] | None = None,
) -> FitOptions:
    """The options a run was started with (``epochs`` may be raised to train longer; ``data`` and ``val``
    name where its files are now, when they moved: their fingerprints are checked against the run's)."""
    run = RunDir(run_dir)
    saved = run.read_json(run.config)
    options = FitOptions.from_json(saved["options"])
    if "budget_for" not in saved.get("data_order", {}):
        # Recorded before the memory kept for Python and Keras: the figure is all the memory the process had,
        # which taken as the data's own would plan a pool too large for it. Found again instead.
        options = dataclasses.replace(options, memory_budget=None)
    if epochs is not None:
        options = dataclasses.replace(options, epochs=epochs)
    if data is not None:
        options = dataclasses.replace(options, data=str(Path(data).resolve()))
    if val is not None:
        options = dataclasses.replace(options, val=str(Path(val).resolve()))
    for recorded, how in ((options.data, "h5train fit NEW.h5 --resume"), (options.val, "h5train fit --val NEW.h5 --resume")):
        if recorded is not None and not _found(recorded):
            raise RunError(
                f"{recorded}, the file {run.path} trained on, is not there; if it moved, pass where it is now: {how} {run.path}"
            )
    return options


def _found(path: str) -> bool:
    """Whether a recorded data path (a file, or a glob pattern of parts) names something that is there."""
    return os.path.lexists(path) or (not _PATTERN.isdisjoint(path) and bool(glob.glob(path)))


def check_missing_used(normalize: str, missing: str, *, given: bool) -> None:
    """Refuse a ``--missing`` (``given``: not left at its default) that ``--normalize`` would leave unused.

    Only ``standard``'s first layer fills missing values; ``unit`` and ``none`` pass NaN
    to the model, whose loss then becomes NaN in the first batch that holds one.
    """
    if given and normalize in ("unit", "none"):
        raise DataOptionError(
            f"--missing {missing} does nothing with --normalize {normalize}, which fills no missing value (NaN);"
            " pass --normalize standard to fill them, or leave --missing out"
        )

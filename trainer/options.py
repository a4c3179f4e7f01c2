"""The settings of a training run (``FitOptions``), and reading them back for ``--resume``.

Light on purpose: no Keras here, so that ``h5train`` can read a run's settings
(and the backend it used) before the backend is chosen and Keras imported.
"""

from __future__ import annotations

import dataclasses
import os

from .errors import DataOptionError
from .rundir import RunDir


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
    batch_size: int = 256  # the global batch, over every device and worker
    optimizer: str = "sgd"
    learning_rate: float | None = None
    shuffle: str = "auto"  # auto: global when the rows fit in the memory this process may use, blocks otherwise
    memory_budget: int | None = None  # bytes for the data; None: found (cgroup limit, MemAvailable), then recorded
    workers: int = 1
    processes: bool = False
    seed: int = 0
    class_weight: str | None = None
    early_stopping: int | None = None  # patience in epochs
    steps_per_epoch: int | None = None
    strategy: str = "default"  # default, mirrored or multi-worker (see trainer/distribute.py)
    backend: str = "auto"  # the Keras backend; config.json records the one used

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


def resume_options(run_dir: str | os.PathLike[str], *, epochs: int | None = None) -> FitOptions:
    """The options a run was started with (``epochs`` may be raised to train longer)."""
    run = RunDir(run_dir)
    saved = run.read_json(run.config)
    options = FitOptions.from_json(saved["options"])
    if epochs is not None:
        options = dataclasses.replace(options, epochs=epochs)
    return options

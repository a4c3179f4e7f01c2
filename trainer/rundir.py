"""The run directory: its paths, its small JSON files, the history.

A run directory holds everything about one training run::

    config.json          every setting, the backend and package versions, the data file's path, size, fingerprint
    state.json           epochs done, the best validation value so far, random layers' states (for --resume)
    model.keras          the final model
    checkpoints/last.keras, checkpoints/best.keras
    history.csv  metrics.json  curves.png  logs/ (TensorBoard)

Every file is written to a temporary name and renamed, so a crash leaves the
old version or the new one, never half of one; state.json is written after the
checkpoint it describes. Models are saved and loaded by ``modelfile``, the
curves drawn by ``curves``; Ctrl-C is held while files are written by ``signals``.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import shutil
from pathlib import Path

from csv2h5 import jsontext
from csv2h5.output import write_reason

from .errors import RunError
from .fileinfo import FileInfo

FRESH_STATE = {"epochs_done": 0, "best_value": None, "best_epoch": None, "random_state": []}


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
        """``runs/<UTC time>``: a new name for every run started in this directory."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        return RunDir(Path("runs") / stamp)

    @staticmethod
    def holding(model: Path) -> RunDir | None:
        """The run directory a model file belongs to (its final model or a checkpoint); None for a bare file."""
        for directory in (model.parent, model.parent.parent):
            run = RunDir(directory)
            if run.config.exists():
                return run
        return None

    def create(self) -> None:
        """Make the directory; refuse one that already holds a run.

        A run stopped before its first epoch ended holds nothing to resume (and --resume
        refuses it), so a new run starts there, as the stopped one's message says.
        """
        if self.config.exists() and (self.last.exists() or self.read_state()["epochs_done"] > 0):
            raise RunError(f"{self.path} already holds a run; pass another --run-dir, or --resume {self.path}")
        if self.config.exists():  # only a stopped run's own: a directory h5train did not write keeps its logs/
            shutil.rmtree(self.logs, ignore_errors=True)  # its TensorBoard events would show as a run of their own
        try:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create run directory {self.path}: {exc.strerror}") from None

    def read_json(self, path: Path) -> dict:
        """One of the run's JSON files, or a RunError saying what is wrong with the directory."""
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run directory (no {path.name}); pass the directory h5train fit wrote") from None
        except (OSError, ValueError) as exc:
            raise RunError(f"{path} cannot be read ({exc}); the run directory is damaged") from None

    def read_state(self) -> dict:
        """state.json, or the state of a run that has not finished an epoch.

        ``random_state`` is missing from runs written before it was recorded.
        """
        if not self.state.exists():
            return dict(FRESH_STATE)
        return {**{k: v for k, v in FRESH_STATE.items() if k != "random_state"}, **self.read_json(self.state)}

    def backend(self) -> str | None:
        """The Keras backend the run was trained with (None for runs from before it was recorded)."""
        config = self.read_json(self.config)
        return config.get("backend") or config.get("versions", {}).get("keras_backend")


def write_json(path: Path, value: object) -> None:
    """Write JSON atomically: a crash leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(jsontext.dumps(value, indent=2, default=str) + "\n")  # null, never a bare NaN
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: one line, the old file kept
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {write_reason(exc)}") from None


def json_labels(classes: list[object]) -> list[object]:
    """Class labels as config.json holds them: numbers as numbers, anything else as text."""
    return [c if isinstance(c, (int, float)) else str(c) for c in classes]


def data_record(info: FileInfo) -> dict[str, object]:
    """What config.json says about the training data: where, how big, its fingerprint, and what its columns mean.

    The feature columns, the vocabularies of categorical ones and the classes are
    what ``evaluate`` and ``predict`` check other data against (see predict.py).
    """
    paths = info.parts or (info.path,)
    return {
        "path": str(Path(info.path).resolve()),
        "parts": [str(Path(p).resolve()) for p in info.parts],
        "bytes": sum(Path(p).stat().st_size for p in paths),
        "fingerprint": info.fingerprint,
        "rows": info.rows,
        "features": info.num_features,
        "task": info.task,
        "classes": json_labels(info.classes),
        "columns": list(info.columns),
        "vocabularies": info.vocabularies,
    }


def append_history(path: Path, epoch: int, logs: dict[str, float]) -> None:
    """One row of history.csv (the header comes with the first row)."""
    fresh = not path.exists() or path.stat().st_size == 0
    try:
        with open(path, "a", newline="") as fh:
            writer = csv.writer(fh)
            if fresh:
                writer.writerow(["epoch", *sorted(logs)])
            writer.writerow([epoch, *(repr(logs[k]) for k in sorted(logs))])
    except OSError as exc:  # a full disk; --resume rewrites the history up to its checkpoint (keep_history)
        raise RunError(f"cannot write {path}: {write_reason(exc)}") from None


def read_history(path: Path) -> list[dict[str, str]]:
    """history.csv as rows (none when it does not exist yet)."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def keep_history(path: Path, epochs: int) -> None:
    """On resume: keep the rows of the epochs the checkpoint holds, drop any later ones."""
    rows = read_history(path)[:epochs]
    if not rows:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

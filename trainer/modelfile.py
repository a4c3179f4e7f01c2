"""Trained models on disk: saving, loading in Keras's safe mode, and the run config beside them.

A model is a run directory (its final model, else its last checkpoint) or a
``.keras`` file; the run directory's file names are ``RunDir``'s. A model saved
under one Keras backend loads under the other.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from csv2h5.output import write_reason

from . import preprocess  # noqa: F401 - registers the models' first layer (TabularEncoding) for loading
from ._keras import keras
from .errors import RunError
from .rundir import RunDir


def save_model(model: keras.Model, path: Path) -> None:
    """``model.save`` to a temporary name, then rename: a crash leaves the old file or the new one."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk: one line, and no half-written model left beside the old one
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {write_reason(exc)}") from None


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
    """Load with Keras's safe mode: no arbitrary code from the file runs.

    A model trained under JAX records ``jit_compile=True``; TensorFlow cannot
    XLA-compile some layers (dropout's random ops) and says so in a warning
    before it runs them uncompiled, which is all that is needed here.
    """
    path = model_path(model_or_run)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`", category=UserWarning)
            return keras.models.load_model(path, safe_mode=True)
    except Exception as exc:  # damaged or foreign file: say which, briefly
        raise RunError(f"{path} cannot be loaded as a Keras model: {str(exc).splitlines()[0][:200]}") from None


def run_config(model: Path) -> dict | None:
    """The config.json of the run a model file belongs to; None for a bare .keras file or an unreadable config."""
    run = RunDir.holding(model)
    if run is None:
        return None
    try:
        return json.loads(run.config.read_text())
    except ValueError:
        return None

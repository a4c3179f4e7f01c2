"""Using a trained model: ``evaluate`` and ``predict`` on a csv2h5 file; no typer here.

Both take a run directory (its final model, else its last checkpoint) or a
``.keras`` file, and load it in Keras's safe mode (see ``modelfile``): no code
from the file runs.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import keras
import numpy as np

from csv2h5.lists import first_difference
from csv2h5.output import write_failure

from .batches import one_hot_options
from .errors import ModelError, RunError, TrainerError
from .fileinfo import FileInfo, open_info
from .modelfile import load, model_path, run_config
from .rundir import json_labels
from .sequence import HDF5Sequence


def _check_fits(model: keras.Model, info: FileInfo) -> None:
    expected = model.input_shape[-1] if isinstance(model.input_shape, tuple) else None
    if expected is not None and expected != info.num_features:
        raise ModelError(
            f"the model takes rows of {expected} features but {info.named} has {info.num_features}; "
            "use data converted like the training file"
        )


def check_like_training(config: dict | None, info: FileInfo, *, labels: bool) -> None:
    """Refuse data whose columns, category codes or (for ``labels``) class codes mean other things than in training.

    The same number of columns is not enough: a file converted on its own codes its
    text columns and classes by what it saw, so code 2 may be another island or
    another species than it was in training, and every number would still look
    fine. Runs record what the training data's columns meant (rundir.data_record);
    a bare .keras file without its run directory cannot be checked beyond its width.
    """
    trained = (config or {}).get("data") or {}
    again = f"convert it with --like {trained.get('path', 'the training file')}"
    columns = trained.get("columns")
    diff = None if columns is None else first_difference(list(columns), list(info.columns))
    if diff is not None:
        ours = info.columns[diff] if diff < len(info.columns) else "(none)"
        theirs = columns[diff] if diff < len(columns) else "(none)"
        raise ModelError(
            f"{info.named} has other feature columns than the data the model was trained on"
            f" (column {diff + 1} is {ours!r}, in training {theirs!r}); {again}"
        )
    vocabularies = trained.get("vocabularies")
    if vocabularies is not None:
        for name in sorted(set(vocabularies) | set(info.vocabularies)):
            known, found = vocabularies.get(name), info.vocabularies.get(name)
            if (known is None) != (found is None):
                kind = "text (categorical)" if found is not None else "numbers"
                raise ModelError(f"{info.named} holds column {name!r} as {kind}, unlike the training data; {again}")
            # Values new to training may follow the known ones (as --like codes them); known codes must agree.
            code = first_difference(known[: len(found)], found[: len(known)])
            if code is not None:
                raise ModelError(
                    f"{info.named} codes column {name!r} otherwise than the training data"
                    f" (code {code} is {found[code]!r} here, {known[code]!r} in training); {again}"
                )
    task = trained.get("task")
    if labels and task and info.task and info.task != task:  # a score of class codes against numbers means nothing
        raise ModelError(
            f"{info.named} has a {info.task} target, but the model was trained for {task}; evaluate it on data"
            f" whose target is the training data's ({again})"
        )
    classes = trained.get("classes")
    if labels and classes and info.task == "classification":
        here = json_labels(info.classes)
        new = [c for c in here if c not in classes]
        if new:
            raise ModelError(  # --like keeps the known codes and adds these after them: converting again is no cure
                f"{info.named} has classes the model was not trained on ({', '.join(map(repr, new[:5]))}), which it"
                " cannot score; leave their rows out of the data, or train on data that holds them"
            )
        code = first_difference(here, classes[: len(here)])
        if code is not None:
            raise ModelError(
                f"{info.named} codes its classes otherwise than the training data"
                f" (class {code} is {here[code]!r} here, {classes[code]!r} in training); {again}"
            )


def _units(model: keras.Model) -> int | None:
    """The width of the model's one output (None for a model of several)."""
    shape = model.output_shape
    return shape[-1] if isinstance(shape, tuple) else None


def _loss_name(model: keras.Model) -> str:
    loss = getattr(model, "loss", None)
    return str(loss if isinstance(loss, str) else getattr(loss, "name", "") or type(loss).__name__).lower()


def _one_hot(model: keras.Model) -> bool:
    name = _loss_name(model)
    return "categorical" in name and "sparse" not in name


def _check_classes(model: keras.Model, info: FileInfo) -> None:
    """Refuse to score more classes than the model's output has: a one-hot target would not fit its shape,
    and a class code past its last unit would be scored without a word (sparse cross-entropy takes it)."""
    units = _units(model)
    if info.task != "classification" or units is None:
        return
    scored = units if units > 1 else 2 if "binary" in _loss_name(model) else None  # one sigmoid unit: two classes
    if scored is None or len(info.classes) <= scored:
        return
    extra = ", ".join(map(repr, json_labels(info.classes[scored : scored + 5])))
    more = ", ..." if len(info.classes) > scored + 5 else ""
    raise ModelError(
        f"{info.named} has {len(info.classes)} classes, but the model scores only {scored}: those past the first {scored}"
        f" ({extra}{more}) are not the model's; leave their rows out of the data, or evaluate a model trained on data"
        " that holds them"
    )


def evaluate(model_or_run: str | os.PathLike[str], data: str | os.PathLike[str], *, batch_size: int = 256) -> dict[str, float]:
    """The compiled loss and metrics of the model on every row of ``data``."""
    path = model_path(model_or_run)
    model = load(path)
    info = open_info(data)
    if info.target is None:
        raise ModelError(
            f"{info.named} has no /target to score the model against; convert a CSV that holds the target column"
            " (--like the training file), or use h5train predict for predictions without one"
        )
    _check_fits(model, info)
    check_like_training(run_config(path), info, labels=True)
    _check_classes(model, info)  # a bare .keras file says only its output's width
    seq = HDF5Sequence(
        data,
        batch_size=batch_size,
        shuffle=False,
        **one_hot_options(_one_hot(model), info, _units(model)),  # a file may hold the first classes only
        sample_shape=(info.num_features,),
        scale=None,
        missing=None,
    )  # the model takes raw rows
    result = model.evaluate(seq, verbose=0, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def predict(
    model_or_run: str | os.PathLike[str],
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    probabilities: bool = False,
    batch_size: int = 1024,
    overwrite: bool = False,
) -> int:
    """Write predictions for every row of ``data`` to CSV, batch by batch; returns the row count."""
    path = model_path(model_or_run)
    model = load(path)
    info = open_info(data)
    _check_fits(model, info)
    config = run_config(path) or {}
    check_like_training(config, info, labels=False)
    out = Path(output)
    if out.is_dir():  # --overwrite would not help: a directory is not replaced by a file
        raise RunError(f"{out} is a directory; name the file to write, e.g. -o {out / 'predictions.csv'}")
    if out.exists() and not overwrite:
        raise RunError(f"{out} already exists; pass --overwrite to replace it")
    target = config.get("target") or {"task": info.task, "classes": info.classes, "columns": info.target_columns}
    classes = target.get("classes") or []
    seq = HDF5Sequence(
        data, batch_size=batch_size, shuffle=False, targets=False, sample_shape=(info.num_features,), scale=None, missing=None
    )  # the model takes raw rows
    units = model.output_shape[-1]
    classification = target.get("task") == "classification" or (target.get("task") is None and units > 1)
    if classification and len(classes) != units:
        classes = list(range(units))  # no record of the labels: report class codes
    columns = target.get("columns") or ["prediction"]
    if probabilities and not classification:  # else the values would come out under a name that promised otherwise
        raise RunError("--probabilities is for classification, but the model predicts a number (regression); leave it out")
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
    except TrainerError:
        raise
    except OSError as exc:  # a full disk, a quota: one line, and the partial file goes (finally)
        raise RunError(write_failure(out, exc)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return row

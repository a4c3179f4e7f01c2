"""Using a trained model: ``evaluate`` and ``predict`` on a csv2h5 file; no typer here.

Both take a run directory (its final model, else its last checkpoint) or a
``.keras`` file, and load it in Keras's safe mode (see ``modelfile``): no code
from the file runs.
"""

from __future__ import annotations

import csv
import os
import shlex
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from csv2h5.lists import first_difference
from csv2h5.output import write_failure

from ._keras import keras
from .batches import one_hot_options
from .errors import ModelError, RunError, TrainerError, reading_data
from .fileinfo import FileInfo, expand_paths, open_info
from .modelfile import load, model_path, run_config
from .predictfile import check_output, not_finite, spelt
from .recode import Recoded, training_codes, warn_unseen
from .rundir import RunDir, json_labels
from .sequence import HDF5Sequence
from .signals import stop_if_interrupted

STDOUT = "-"  # -o -: the CSV goes to standard output (h5train's own lines to stderr)


def _check_fits(model: keras.Model, info: FileInfo, config: dict | None) -> None:
    expected = model.input_shape[-1] if isinstance(model.input_shape, tuple) else None
    if expected is None or expected == info.num_features:
        return
    trained = (config or {}).get("data") or {}
    columns = trained.get("columns")
    named = ""
    if columns is not None:  # the run records the training columns: say which are missing, which extra
        missing = [c for c in columns if c not in info.columns]
        extra = [c for c in info.columns if c not in columns]
        said = [
            f"{what} {', '.join(map(repr, names[:5]))}{', ...' if len(names) > 5 else ''}"
            for what, names in (("missing", missing), ("not in training", extra))
            if names
        ]
        named = f" ({'; '.join(said)})" if said else ""
    advice = like_advice(trained) if trained.get("path") else "use data converted like the training file"
    raise ModelError(f"the model takes rows of {expected} features but {info.named} has {info.num_features}{named}; {advice}")


def _listed(paths: list[str]) -> str:
    """The parts as a shell argument list: one quoted glob pattern when it matches them, in order, else each."""
    folders, suffixes = {str(Path(p).parent) for p in paths}, {Path(p).suffix for p in paths}
    if len(folders) == 1 and len(suffixes) == 1:
        pattern = str(Path(folders.pop()) / f"*{suffixes.pop()}")
        if sorted(str(p) for p in Path(pattern).parent.glob(Path(pattern).name)) == list(paths):
            return shlex.quote(pattern)
    return " ".join(map(shlex.quote, paths))


def like_advice(trained: dict) -> str:
    """How to convert data so its codes are the training data's: --like its file, or, for several files read
    as one (whose united codes no single part holds), --like their merge."""
    parts = list(trained.get("parts") or [])
    if len(parts) > 1 and (trained.get("vocabularies") or trained.get("classes")):  # else any part codes alike
        return (
            f"the model was trained on {len(parts)} files read as one, whose united codes none of them holds alone:"
            f" merge them (csv2h5 merge {_listed(parts)} -o merged.h5) and convert it with --like merged.h5"
        )
    return f"convert it with --like {trained.get('path', 'the training file')}"


def check_like_training(config: dict | None, info: FileInfo, *, labels: bool, recoded: bool = False) -> None:
    """Refuse data whose columns, category codes or (for ``labels``) class codes mean other things than in training.

    With ``recoded`` the category codes may differ: the caller recodes them by label (:mod:`.recode`).

    The same number of columns is not enough: a file converted on its own codes its
    text columns and classes by what it saw, so code 2 may be another island or
    another species than it was in training, and every number would still look
    fine. Runs record what the training data's columns meant (rundir.data_record);
    a bare .keras file without its run directory cannot be checked beyond its width.
    """
    trained = (config or {}).get("data") or {}
    again = like_advice(trained)
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
            code = None if recoded else first_difference(known[: len(found)], found[: len(known)])
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


def _scored(model: keras.Model) -> int | None:
    """How many classes the model's output scores: its width, or two for one unit on binary cross-entropy;
    None for a model that predicts numbers (compiled on another loss, e.g. mse, whatever its width)."""
    units = _units(model)
    loss = _loss_name(model)
    if units is None or (getattr(model, "loss", None) is not None and "crossentropy" not in loss):
        return None
    return units if units > 1 else 2 if "binary" in loss else None


def _check_classes(model: keras.Model, info: FileInfo) -> None:
    """Refuse a file of more classes than the model's output scores: a one-hot target would not fit its shape,
    a class code past its last unit would be scored without a word (sparse cross-entropy takes it), and the
    file's labels are not the model's."""
    scored = _scored(model)
    if info.task != "classification" or scored is None or len(info.classes) <= scored:
        return
    extra = ", ".join(map(repr, json_labels(info.classes[scored : scored + 5])))
    more = ", ..." if len(info.classes) > scored + 5 else ""
    raise ModelError(
        f"{info.named} has {len(info.classes)} classes, but the model scores only {scored}: those past the first {scored}"
        f" ({extra}{more}) are not the model's; leave their rows out of the data, or evaluate a model trained on data"
        " that holds them"
    )


def _labels(model: keras.Model, info: FileInfo, target: dict | None, path: Path) -> tuple[list[object] | None, bool]:
    """The labels of the classes the model scores, in code order (None for a model that predicts numbers), and
    whether they are only the class codes.

    A run records them (config.json). A bare .keras file records none, and nothing
    says the data file's classes are the model's, in its order (a file converted on
    its own may hold other classes, or the same in another order): its predictions are
    the class codes, under a name that says so, never a label that may be another's.
    """
    units = model.output_shape[-1]
    task = target.get("task") if target else info.task
    scored = _scored(model)
    numbers = scored is None and getattr(model, "loss", None) is not None  # compiled on mse or the like
    if numbers or task != "classification" and (task is not None or scored is None):  # no target: the model says
        return None, False
    scored = scored or units
    if target:
        classes = list(target.get("classes") or [])
        if len(classes) != scored:
            raise ModelError(
                f"the run of {path} records {len(classes)} classes, but the model scores {scored}; pass the run"
                " directory the model was trained in (its config.json records the model's labels)"
            )
        return classes, False
    return list(range(scored)), True


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
    config = run_config(path)
    _check_fits(model, info, config)
    check_like_training(config, info, labels=True, recoded=True)
    tables, unseen = training_codes(config, info)
    warn_unseen(unseen, info)
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
    with reading_data():  # a damaged file's rows, read in Keras's loader, as one error
        result = model.evaluate(Recoded(seq, tables) if tables else seq, verbose=0, return_dict=True)
    stop_if_interrupted()  # a Ctrl-C a library swallowed: no metrics of part of the data
    return {k: float(v) for k, v in result.items()}


def _write_csv(
    fh: TextIO,
    header: list[str],
    model: keras.Model,
    seq: keras.utils.PyDataset,
    classes: list | None,
    probabilities: bool,
    info: FileInfo,
) -> int:
    """The header, then every batch's rows as the model scores them (labels for ``classes``); the row count.

    Several files read as one: a ``file`` column first (the part, as expanded), and ``row`` the row's
    number in that part, so each prediction leads back to its row. Scores that are not finite (inf,
    NaN) are written as they are, and counted in one warning on stderr."""
    writer = csv.writer(fh)
    parts = info.parts if len(info.parts) > 1 else ()
    writer.writerow(["file", *header] if parts else header)
    starts = np.asarray(info.part_starts if parts else [0], dtype=np.int64)
    names = np.asarray(parts or [""], dtype=object)
    labels = None if classes is None else np.asarray(classes, dtype=object)
    row, bad, first = 0, 0, None
    for i in range(len(seq)):
        scores = np.asarray(model.predict_on_batch(seq[i]))
        if labels is not None and scores.shape[1] == 1:  # one sigmoid unit: the second class's probability
            scores = np.concatenate([1 - scores, scores], axis=1)
        numbers = np.arange(row, row + scores.shape[0])
        found = not_finite(scores)
        part = np.searchsorted(starts, numbers, side="right") - 1
        lead = [[n] for n in (numbers - starts[part]).tolist()]
        if parts:
            lead = [[name, n] for name, (n,) in zip(names[part].tolist(), lead)]
        if found.size:
            at = lead[int(found[0])]
            bad, first = bad + found.size, first or (f"row {at[1]} of {at[0]}" if parts else f"row {at[0]}")
        if labels is not None and not probabilities:
            writer.writerows([*a, b] for a, b in zip(lead, labels[scores.argmax(axis=1)]))
        else:
            writer.writerows([*a, *s] for a, s in zip(lead, spelt(scores)))
        row += scores.shape[0]
        stop_if_interrupted()  # a Ctrl-C a library swallowed: no file claimed as written
    if bad:
        print(
            f"warning: the predictions of {bad:,} of {row:,} rows are not finite (inf or NaN), the first in {first};"
            " their features may lie far outside the training data's",
            file=sys.stderr,
        )
    return row


def predict(
    model_or_run: str | os.PathLike[str],
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    probabilities: bool = False,
    batch_size: int = 1024,
    overwrite: bool = False,
) -> int:
    """Write predictions for every row of ``data`` to CSV (``-``: standard output), batch by batch; returns the row count.

    Rows whose predictions are not finite are written as they are (``inf``, ``nan``), with a warning on stderr.
    """
    path = model_path(model_or_run)
    out = Path(output)
    to_stdout = str(output) == STDOUT
    if not to_stdout:  # before anything is loaded: an output that would replace what predict reads is refused
        run = RunDir.holding(path)
        run_files = [] if run is None else [run.config, run.model, run.last, run.best]
        check_output(out, overwrite=overwrite, data=expand_paths(data), model=path, run_files=run_files)
    model = load(path)
    info = open_info(data)
    config = run_config(path) or {}
    _check_fits(model, info, config)
    check_like_training(config, info, labels=False, recoded=True)
    tables, unseen = training_codes(config, info)
    warn_unseen(unseen, info)
    target = config.get("target")
    classes, codes = _labels(model, info, target, path)
    units = model.output_shape[-1]
    columns = (target or {}).get("columns") or info.target_columns or ["prediction"]
    if probabilities and classes is None:  # else the values would come out under a name that promised otherwise
        raise RunError("--probabilities is for classification, but the model predicts a number (regression); leave it out")
    if codes:  # a bare .keras file: its class codes, named as codes (the run directory gives labels)
        header = ["row", *(f"p_code_{c}" for c in classes)] if probabilities else ["row", f"{columns[0]}_code"]
    elif classes is not None:
        header = ["row", *(f"p_{c}" for c in classes)] if probabilities else ["row", columns[0]]
    else:
        header = ["row", *(columns if len(columns) == units else [f"prediction_{i}" for i in range(units)])]
    seq = HDF5Sequence(
        data, batch_size=batch_size, shuffle=False, targets=False, sample_shape=(info.num_features,), scale=None, missing=None
    )  # the model takes raw rows (recoded as in training)
    seq = Recoded(seq, tables) if tables else seq
    if to_stdout:  # streamed as it comes: a pipe has no temporary name to write under
        rows = _write_csv(sys.stdout, header, model, seq, classes, probabilities, info)
        sys.stdout.flush()
        return rows
    if not out.parent.is_dir():
        raise RunError(f"cannot write {out}: the directory {out.parent} does not exist; create it first")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as fh:
            rows = _write_csv(fh, header, model, seq, classes, probabilities, info)
        os.replace(tmp, out)
    except TrainerError:
        raise
    except OSError as exc:  # a full disk, a quota: one line, and the partial file goes (finally)
        raise RunError(write_failure(out, exc)) from None
    finally:
        tmp.unlink(missing_ok=True)
    return rows

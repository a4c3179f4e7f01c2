"""``h5train``: typer only — parse arguments, print results, map errors to exit codes."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: no C++ info chatter

import typer

from csv2h5.cli import EXIT_INTERRUPTED, fail, parse_ints, terminate, version_callback
from csv2h5.errors import OptionError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="Train Keras models on csv2h5 files: fit, evaluate, predict.")


@app.command()
def fit(
    data: Annotated[Optional[Path], typer.Argument(help="Training file from csv2h5 convert.", show_default=False)] = None,
    val: Annotated[Optional[Path], typer.Option(help="Validation file (converted like DATA).")] = None,
    val_split: Annotated[Optional[float], typer.Option(help="Hold out this fraction of DATA for validation (stratified).")] = None,
    model: Annotated[str, typer.Option(help="mlp, cnn, or package.module:function (runs your own code; see README).")] = "mlp",
    hidden: Annotated[list[int], typer.Option(help="Hidden layer width (repeatable).")] = [50],
    dropout: Annotated[float, typer.Option(help="Dropout after each hidden layer.")] = 0.0,
    activation: Annotated[str, typer.Option(help="Hidden activation.")] = "relu",
    sample_shape: Annotated[Optional[str], typer.Option(help="Row shape for cnn, e.g. 28,28,1 (default: from the file).")] = None,
    normalize: Annotated[str, typer.Option(help="standard (stored mean/std), unit (stored max) or none: a layer of the model.")] = "standard",
    one_hot: Annotated[bool, typer.Option(help="One-hot targets and categorical cross-entropy.")] = False,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs in all (default 10; with --resume, to train longer).")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 256,
    optimizer: Annotated[str, typer.Option(help="Keras optimizer name.")] = "sgd",
    learning_rate: Annotated[Optional[float], typer.Option(help="Learning rate (default: the optimizer's).")] = None,
    shuffle: Annotated[str, typer.Option(help="auto, global, window, batch or none.")] = "auto",
    workers: Annotated[int, typer.Option(help="Batch-loading workers.")] = 1,
    processes: Annotated[bool, typer.Option(help="Workers are processes rather than threads.")] = False,
    seed: Annotated[int, typer.Option(help="Seeds weights, data order and dropout.")] = 0,
    class_weight: Annotated[Optional[str], typer.Option(help="balanced: weight classes by their stored counts.")] = None,
    early_stopping: Annotated[Optional[int], typer.Option(help="Stop after this many epochs without improvement.")] = None,
    steps_per_epoch: Annotated[Optional[int], typer.Option(help="Batches per epoch (default: all rows).")] = None,
    strategy: Annotated[str, typer.Option(help="default, or mirrored: tf.distribute over every local GPU.")] = "default",
    run_dir: Annotated[Optional[Path], typer.Option(help="Run directory (default runs/<UTC time>).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run directory from its last checkpoint.")] = None,
    verbose: Annotated[int, typer.Option(help="Keras progress: 0 silent, 1 bar, 2 a line per epoch.")] = 1,
) -> None:
    """Train a model on DATA and write a run directory."""
    signal.signal(signal.SIGTERM, terminate)
    from .errors import TrainerError
    from .fit import FitOptions, Interrupted, fit as run_fit, resume_options

    try:
        if resume is not None:
            options = resume_options(resume, epochs=epochs)
            target_dir = resume
        else:
            if data is None:
                fail("pass the training file: h5train fit DATA.h5 (or --resume RUN_DIR)")
            if class_weight not in (None, "balanced"):
                fail(f"--class-weight takes 'balanced', got {class_weight!r}")
            options = FitOptions(
                data=str(data.resolve()), val=str(val.resolve()) if val else None, val_split=val_split, model=model,
                hidden=tuple(hidden), dropout=dropout, activation=activation,
                sample_shape=parse_ints(sample_shape, "--sample-shape"), normalize=normalize, one_hot=one_hot,
                epochs=epochs if epochs is not None else 10, batch_size=batch_size, optimizer=optimizer,
                learning_rate=learning_rate, shuffle=shuffle, workers=workers, processes=processes, seed=seed,
                class_weight=class_weight, early_stopping=early_stopping, steps_per_epoch=steps_per_epoch,
                strategy=strategy)
            target_dir = run_dir
        result = run_fit(options, target_dir, resume=resume is not None, verbose=verbose,
                         on_start=lambda run: typer.echo(f"run directory: {run.path}", err=True))
    except Interrupted as exc:
        fail(str(exc), EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        fail("interrupted before training started; nothing to resume", EXIT_INTERRUPTED)
    except (TrainerError, OptionError) as exc:
        fail(str(exc))
    typer.echo(result.summary())


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="A run directory or a .keras file.", show_default=False)],
    data: Annotated[Path, typer.Argument(help="A file from csv2h5 convert, with a target.", show_default=False)],
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Loss and metrics of a trained model on DATA."""
    from .errors import TrainerError
    from .fit import evaluate as run_evaluate

    try:
        metrics = run_evaluate(model, data, batch_size=batch_size)
    except TrainerError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
    else:
        typer.echo("  ".join(f"{name} {value:.4f}" for name, value in metrics.items()))


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A run directory or a .keras file.", show_default=False)],
    data: Annotated[Path, typer.Argument(help="A file from csv2h5 convert (a target is not needed).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.", show_default=False)],
    probabilities: Annotated[bool, typer.Option(help="One probability column per class instead of the label.")] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 1024,
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
) -> None:
    """Predict every row of DATA into a CSV, batch by batch."""
    signal.signal(signal.SIGTERM, terminate)
    from .errors import TrainerError
    from .fit import predict as run_predict

    try:
        rows = run_predict(model, data, output, probabilities=probabilities, batch_size=batch_size, overwrite=overwrite)
    except KeyboardInterrupt:
        fail("interrupted; nothing was written", EXIT_INTERRUPTED)
    except TrainerError as exc:
        fail(str(exc))
    typer.echo(f"wrote {rows:,} predictions to {output}")


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback("h5train"), is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Train Keras models on csv2h5 files: fit, evaluate, predict."""


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except BrokenPipeError:
        sys.exit(0)

"""``h5train``: typer only — parse arguments, choose the backend, print results, map errors to exit codes.

Keras is imported inside each command, after the backend is settled
(``--backend``, or the one a resumed run used), so ``--help`` and ``--version``
never load it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated

import typer

from csv2h5 import jsontext
from csv2h5.cli_common import EXIT_INTERRUPTED, fail, parse_ints, version_callback
from csv2h5.errors import OptionError

from .backend import choose_backend, use_backend
from .cli_options import (
    ActivationOption,
    BackendOption,
    BatchSizeOption,
    ClassWeightOption,
    CoordinatorOption,
    DataArgument,
    DropoutOption,
    EarlyStoppingOption,
    EpochsOption,
    HiddenOption,
    JoinTimeoutOption,
    LearningRateOption,
    LoadersOption,
    MemoryBudgetOption,
    MissingOption,
    ModelOption,
    NormalizeOption,
    NumWorkersOption,
    OneHotOption,
    OptimizerOption,
    ProcessesOption,
    ProgressOption,
    ResumeOption,
    RunDirOption,
    SampleShapeOption,
    SeedOption,
    ShuffleOption,
    StepsPerEpochOption,
    StrategyOption,
    TieToleranceOption,
    ValOption,
    ValSplitOption,
    VerboseOption,
    WorkerIndexOption,
    WorkersOption,
)
from .errors import Interrupted, TrainerError
from .memory import parse_bytes
from .nativelog import quiet_native_logs, restore_stderr
from .signals import signals_interrupt
from .workers import DEFAULT_JOIN_SECONDS, SUPERVISED, WorkerSpec, supervise, watch_parent

if TYPE_CHECKING:
    from .options import FitOptions

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Train Keras models on csv2h5 files: fit, evaluate, predict.",
)

PROGRESS = {"bar": 1, "epoch": 2, "none": 0}  # Keras's verbose levels
_console_argv: list[str] | None = None  # the arguments h5train was started with (None when called in-process)


def _progress(choice: str) -> int:
    if choice == "auto":
        return 1 if sys.stdout.isatty() else 2
    if choice not in PROGRESS:
        raise OptionError(f"--progress takes auto, bar, epoch or none, got {choice!r}")
    return PROGRESS[choice]


def _load_backend(requested: str, *, trained_with: str | None = None) -> str:
    """Settle the backend before Keras is imported (a resumed run keeps its own)."""
    if trained_with is not None:
        if requested not in ("auto", trained_with):
            raise OptionError(
                f"this run was trained with the {trained_with} backend; resume it with --backend "
                f"{trained_with} (or leave --backend out)"
            )
        requested = trained_with
    chosen = choose_backend(requested)
    use_backend(chosen)
    return chosen


@app.command()
def fit(
    ctx: typer.Context,
    data: DataArgument = None,
    val: ValOption = None,
    val_split: ValSplitOption = None,
    model: ModelOption = "auto",
    hidden: HiddenOption = [],
    dropout: DropoutOption = None,
    activation: ActivationOption = "relu",
    sample_shape: SampleShapeOption = None,
    normalize: NormalizeOption = "standard",
    missing: MissingOption = "mean",
    one_hot: OneHotOption = False,
    epochs: EpochsOption = None,
    batch_size: BatchSizeOption = None,
    optimizer: OptimizerOption = "adam",
    learning_rate: LearningRateOption = None,
    shuffle: ShuffleOption = "auto",
    memory_budget: MemoryBudgetOption = None,
    loaders: LoadersOption = None,
    processes: ProcessesOption = False,
    workers: WorkersOption = None,
    seed: SeedOption = 0,
    class_weight: ClassWeightOption = None,
    early_stopping: EarlyStoppingOption = None,
    tie_tolerance: TieToleranceOption = 0.0,
    steps_per_epoch: StepsPerEpochOption = None,
    backend: BackendOption = "auto",
    strategy: StrategyOption = "default",
    coordinator: CoordinatorOption = None,
    num_workers: NumWorkersOption = None,
    worker_index: WorkerIndexOption = None,
    join_timeout: JoinTimeoutOption = DEFAULT_JOIN_SECONDS,
    run_dir: RunDirOption = None,
    resume: ResumeOption = None,
    progress: ProgressOption = "auto",
    verbose: VerboseOption = False,
) -> None:
    """Train a model on DATA and write a run directory."""
    given = SimpleNamespace(**locals())  # every command-line option, by name, for _fit_options
    with signals_interrupt(), quiet_native_logs(not verbose):
        try:
            options, target_dir = _fit_options(given)
            verbosity = _progress(progress)
            worker = _worker(options, coordinator, num_workers, worker_index)
            if worker is not None and os.environ.get(SUPERVISED):
                watch_parent()
            elif worker is not None and _console_argv is not None:
                raise typer.Exit(supervise(_console_argv, worker=worker, verbose=verbose, join_seconds=join_timeout))
            from .fit import fit as run_fit

            result = run_fit(
                options,
                target_dir,
                resume=resume is not None,
                verbose=verbosity,
                worker=worker,
                join_seconds=join_timeout,
                on_start=lambda run: typer.echo(f"run directory: {run.path}", err=True),
                on_note=lambda note: typer.echo(f"note: {note}", err=True),
            )
        except Interrupted as exc:
            fail(str(exc), EXIT_INTERRUPTED)
        except KeyboardInterrupt:
            fail("interrupted before training started; nothing to resume", EXIT_INTERRUPTED)
        except (TrainerError, OptionError) as exc:
            fail(str(exc))
        typer.echo(result.summary())


def _fit_options(given: SimpleNamespace) -> tuple[FitOptions, Path | None]:
    """The settings of the run fit's command line asks for, and the run directory to write (None: a new one).

    A new run: the options as FitOptions (which checks them). ``--resume``: the settings the run was
    started with (``--epochs`` may train longer), on the backend it trained on.
    """
    from .options import FitOptions, check_missing_used, resume_options
    from .rundir import RunDir

    if given.resume is not None:
        _check_resume_flags(given)
        options = resume_options(given.resume, epochs=given.epochs, data=given.data, val=given.val)
        backend = _load_backend(given.backend, trained_with=RunDir(given.resume).backend())
        return dataclasses.replace(options, backend=backend, **_reading_given(given)), given.resume
    if given.data is None:
        fail("pass the training file: h5train fit DATA.h5 (or --resume RUN_DIR)")
    check_missing_used(given.normalize, given.missing, given=_on_command_line(given, "missing"))
    val = given.val
    options = FitOptions(
        data=str(given.data.resolve()),
        val=str(val.resolve()) if val else None,
        val_split=given.val_split,
        model=given.model,
        hidden=tuple(given.hidden),
        dropout=given.dropout,
        activation=given.activation,
        sample_shape=parse_ints(given.sample_shape, "--sample-shape"),
        normalize=given.normalize,
        one_hot=given.one_hot,
        epochs=given.epochs if given.epochs is not None else 10,
        batch_size=given.batch_size,
        optimizer=given.optimizer,
        learning_rate=given.learning_rate,
        shuffle=given.shuffle,
        memory_budget=parse_bytes(given.memory_budget),
        loaders=_loaders(given.loaders, given.workers),
        processes=given.processes,
        seed=given.seed,
        class_weight=given.class_weight,
        early_stopping=given.early_stopping,
        tie_tolerance=given.tie_tolerance,
        steps_per_epoch=given.steps_per_epoch,
        strategy=given.strategy,
        backend=_load_backend(given.backend),
        missing=given.missing,
    )
    return options, given.run_dir


# What --resume takes from the command line: how long and where to train, how to load and show it, and
# the run's data and validation files (moved, perhaps). Every other setting is the run's own (config.json): changing the
# model, the batches or their order halfway would train neither run.
_RESUME_TAKES = frozenset(
    {"ctx", "data", "val", "resume", "epochs", "backend", "loaders", "processes", "workers", "progress", "verbose"}
    | {"coordinator", "num_workers", "worker_index", "join_timeout"}
)


def _reading_given(given: SimpleNamespace) -> dict[str, object]:
    """How a resume reads its batches, where the command line says (after an out-of-memory kill, fewer
    loaders or threads rather than processes); otherwise as the run did."""
    said = {name for name in ("loaders", "workers", "processes") if _on_command_line(given, name)}
    changes: dict[str, object] = {"processes": given.processes} if "processes" in said else {}
    if said & {"loaders", "workers"}:
        changes["loaders"] = _loaders(given.loaders, given.workers)
    return changes


def _on_command_line(given: SimpleNamespace, name: str) -> bool:
    return getattr(given.ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"


def _check_resume_flags(given: SimpleNamespace) -> None:
    """Refuse settings given with --resume that it would otherwise leave unused without a word."""
    changed = [
        "--" + name.replace("_", "-") for name in vars(given) if name not in _RESUME_TAKES and _on_command_line(given, name)
    ]
    if changed:
        raise OptionError(
            f"{' and '.join(changed)} cannot change on --resume: the run goes on with the settings it started with"
            f" (its config.json); drop {'it' if len(changed) == 1 else 'them'}, or start a new run"
        )


def _loaders(loaders: int | None, workers: int | None) -> int:
    """``--loaders``, or ``--workers``, its deprecated old name (workers are the training processes)."""
    if workers is None:
        return 1 if loaders is None else loaders
    if loaders is not None:
        raise OptionError("pass --loaders only (--workers is its deprecated old name)")
    typer.echo(
        "warning: --workers is deprecated; it is now --loaders (batch-loading threads), as --num-workers "
        "counts training processes",
        err=True,
    )
    return workers


def _worker(options: FitOptions, coordinator: str | None, num_workers: int | None, worker_index: int | None) -> WorkerSpec | None:
    """This process's place in a multi-worker run, checked before any worker waits for the others."""
    if options.strategy != "multi-worker":
        if coordinator is not None or num_workers is not None or worker_index is not None:
            raise OptionError("--coordinator, --num-workers and --worker-index need --strategy multi-worker")
        return None
    if options.backend != "jax":
        raise OptionError(
            "--strategy multi-worker runs on the JAX backend: pass --backend jax (Keras 3's fit "
            "fails under TensorFlow's MultiWorkerMirroredStrategy, tensorflow/tensorflow#72388)"
        )
    worker = WorkerSpec.resolve(coordinator, num_workers, worker_index)
    if options.batch_size is not None and options.batch_size % worker.num_workers:
        raise OptionError(
            f"--batch-size {options.batch_size} is the global batch and must split evenly over "
            f"{worker.num_workers} workers; use a multiple of {worker.num_workers}"
        )
    return worker


@app.command()
def evaluate(
    model: Annotated[Path, typer.Argument(help="A run directory or a .keras file.", show_default=False)],
    data: Annotated[Path, typer.Argument(help="A file from csv2h5 convert, with a target.", show_default=False)],
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    backend: BackendOption = "auto",
    verbose: VerboseOption = False,
) -> None:
    """Loss and metrics of a trained model on DATA."""
    with signals_interrupt(), quiet_native_logs(not verbose):
        try:
            _load_backend(backend)
            from .predict import evaluate as run_evaluate

            metrics = run_evaluate(model, data, batch_size=batch_size)
        except KeyboardInterrupt:
            fail("interrupted; nothing was evaluated", EXIT_INTERRUPTED)
        except TrainerError as exc:
            fail(str(exc))
    if as_json:
        typer.echo(jsontext.dumps(metrics, indent=2, infinities=True))  # "inf": a diverged metric, null: NaN
    else:
        typer.echo("  ".join(f"{name} {value:.4f}" for name, value in metrics.items()))


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="A run directory or a .keras file.", show_default=False)],
    data: Annotated[Path, typer.Argument(help="A file from csv2h5 convert (a target is not needed).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write; - for standard output.", show_default=False)],
    probabilities: Annotated[bool, typer.Option(help="One probability column per class instead of the label.")] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per batch.")] = 1024,
    overwrite: Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")] = False,
    backend: BackendOption = "auto",
    verbose: VerboseOption = False,
) -> None:
    """Predict every row of DATA into a CSV, batch by batch."""
    stdout = str(output) == "-"  # then the CSV alone goes there, h5train's own lines to stderr
    with signals_interrupt(), quiet_native_logs(not verbose):
        try:
            _load_backend(backend)
            from .predict import predict as run_predict

            rows = run_predict(model, data, output, probabilities=probabilities, batch_size=batch_size, overwrite=overwrite)
        except KeyboardInterrupt:
            fail(
                "interrupted; " + ("the CSV on standard output may stop short" if stdout else "nothing was written"),
                EXIT_INTERRUPTED,
            )
        except TrainerError as exc:
            fail(str(exc))
        except BrokenPipeError:  # -o - | head: the reader has what it wanted (typer would exit 1)
            _exit_now(0)
    typer.echo(f"wrote {rows:,} predictions to {'standard output' if stdout else output}", err=stdout)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback("h5train"), is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Train Keras models on csv2h5 files: fit, evaluate, predict."""


def _exit_now(code: int) -> None:
    """Leave at once: after a failure, TensorFlow or XLA can hang at interpreter exit in native code.

    Batch-reading processes go first: left behind, one still starting (importing Keras takes
    seconds) holds the command's stdout and stderr open after it has exited.
    """
    for child in multiprocessing.active_children():
        with contextlib.suppress(OSError):
            child.kill()
    restore_stderr()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def main() -> None:
    """Console-script entry point: a failed or interrupted command exits at once, never hangs."""
    global _console_argv
    _console_argv = sys.argv[1:]
    try:
        app()
    except BrokenPipeError:
        _exit_now(0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            _exit_now(code)
        raise
    except Exception:  # a bug, not a user error: show where, then leave without waiting on native threads
        traceback.print_exc()
        _exit_now(1)

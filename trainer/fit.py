"""The training engine: ``fit`` and ``--resume``; no typer here.

Epoch ``e`` (counted from 0 over the whole run, across resumes) reads the
training rows in the order ``epoch_order(seed, e)`` (see ``pipeline``); random
layers and the optimizer carry their state in the checkpoint and state.json
(see ``randomness``), so a run resumed after epoch k ends exactly like an
uninterrupted one. The run directory's files are described in ``rundir``, the
callbacks that write them after each epoch in ``callbacks``; where and how the
process trains (one device, every local device, several workers) in ``distribute``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
from collections.abc import Callable
from pathlib import Path

from csv2h5.errors import counted

from ._keras import keras
from .backend import versions
from .callbacks import BestWeights, Interruption, NanGuard, RunRecorder
from .curves import plot_curves
from .distribute import DEFAULT_JOIN_SECONDS, Plan, WorkerLostError, WorkerSpec, agree, finish, peer_failure, weights_digest
from .distribute import plan as make_plan
from .errors import DamagedDataError, DataOptionError, Interrupted, LoaderError, NanLossError, RunError, damage_in, how_to_go_on
from .fileinfo import FileInfo, open_info
from .fitdata import data_order, fewer_steps, left_out, order_changed, order_note, training_sequences
from .fitresult import FitResult
from .modelfile import load, save_model
from .models import OutputSpec, build_model, choose_model, compile_model
from .options import FitOptions
from .pipeline import training_input, validation_input
from .preprocess import ColumnPlan, plan_columns
from .randomness import restore_generator_states, seed_everything
from .rundir import FRESH_STATE, RunDir, data_record, keep_history, read_history, write_json
from .sequence import HDF5Sequence
from .signals import signals_deferred, stop_if_interrupted


def _resume_model(run: RunDir, info: FileInfo, options: FitOptions, plan: Plan) -> tuple[keras.Model, dict]:
    backend = options.backend
    config = run.read_json(run.config)
    if config["data"]["fingerprint"] != info.fingerprint:
        started = config["options"].get("data")
        other = started is not None and Path(started) != Path(info.path)  # another file given to go on with
        what = f"is not the data {run.path} started with ({started})" if other else f"changed since {run.path} started"
        raise RunError(f"{info.path} {what} (fingerprint differs); resume with that file, or start a new run")
    trained_with = run.backend()
    if trained_with not in (None, backend):
        raise RunError(f"{run.path} was trained with the {trained_with} backend; resume it with --backend {trained_with}")
    state = run.read_state()
    if not run.last.exists() or state["epochs_done"] == 0:
        raise RunError(f"{run.path} has no finished epoch to resume from; start it again without --resume")
    done = state["epochs_done"]
    if done > options.epochs:  # epochs cannot be taken back: training "to epoch 2" of a 3-epoch run is no request to honour
        raise RunError(
            f"{run.path} has trained {done} epochs, more than --epochs {options.epochs} asks for (--epochs counts every "
            f"epoch of the run, those before --resume included); pass --epochs {done + 1} or more to train on, "
            f"or use {run.path}'s model as it is"
        )
    with plan.scope():
        model = load(run.last)
    # Random layers continue their streams where the checkpoint left them, not from the seed again
    # (runs from before the streams were recorded restart them from the seed, as they always did).
    if "random_state" in state:
        restore_generator_states(model, state["random_state"])
    return model, state


def _nothing_to_train(state: dict, options: FitOptions, monitor: str) -> str | None:
    """Why a resumed run would train no epoch, or None: every epoch --epochs asks for is done, or it
    stopped early (no better epoch within the patience) and would stop again after one more."""
    done, best, patience = state["epochs_done"], state["best_epoch"], options.early_stopping
    if done >= options.epochs:
        return f"the run has done the {counted(done, 'epoch')} --epochs asks for (pass --epochs {done + 1} or more to train on)"
    if patience and best is not None and done - best >= patience:
        return (
            f"the run stopped early: no better {monitor} in the {counted(done - best, 'epoch')} after epoch {best}"
            f" (--early-stopping {patience}); its model is final, or start a new run with a larger --early-stopping"
        )
    return None


def _record_resume(run: RunDir, options: FitOptions, info: FileInfo, state: dict, order: dict) -> dict | None:
    """A resume's --epochs, its files' places, its reading and the order they give become the run's, so
    that a later --resume without them (after Ctrl-C) goes on the same way; the history keeps the
    checkpoint's epochs.

    Returns the data order the run recorded before."""
    keep_history(run.history, state["epochs_done"])
    config = run.read_json(run.config)
    recorded = config.get("data_order")
    given = {name: getattr(options, name) for name in ("epochs", "data", "val", "loaders", "processes", "memory_budget")}
    if any(config["options"].get(name) != value for name, value in given.items()) or recorded != order:
        config["options"].update(given)
        record = data_record(info)
        config["data"].update(path=record["path"], parts=record["parts"])
        config["data_order"] = order
        write_json(run.config, config)
    return recorded


def _start_run(
    run: RunDir,
    options: FitOptions,
    info: FileInfo,
    monitor: str,
    plan: Plan,
    state: dict,
    model: keras.Model,
    order: dict[str, object],
    columns: ColumnPlan | None,
) -> None:
    run.create()  # only once everything checkable has been checked: no empty run directories
    record = data_record(info)
    kind = choose_model(options.model, info)
    described = columns.describe(encode="columns" if kind == "tabular" else "keep") if columns is not None else {}
    write_json(
        run.config,
        {
            "data": record,
            "options": dataclasses.asdict(options),
            "data_order": order,
            "backend": options.backend,
            "model": {"kind": kind, "parameters": int(model.count_params()), "columns": described},
            "target": {"task": info.task, "classes": record["classes"], "columns": info.target_columns},
            "monitor": monitor,
            "workers": plan.worker.num_workers if plan.worker else 1,
            "versions": versions(),
            "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
    )
    write_json(run.state, state)


def _finish_run(
    run: RunDir, model: keras.Model, plan: Plan, state: dict, monitor: str, seconds: float, restored: int | None, begun: int
) -> None:
    """The chief's final files; no run is reported finished after a Ctrl-C, even one a library swallowed."""
    try:
        if plan.chief:
            _write_final(run, model, plan, state, monitor, seconds, restored, begun)
        stop_if_interrupted()
    except KeyboardInterrupt:
        raise Interrupted(run.path, state["epochs_done"]) from None


def _write_final(
    run: RunDir, model: keras.Model, plan: Plan, state: dict, monitor: str, seconds: float, restored: int | None, begun: int
) -> None:
    with signals_deferred(), plan.saving():
        save_model(model, run.model)
    final = read_history(run.history)[-1] if run.history.exists() else {}
    write_json(
        run.metrics,
        {
            "epochs": state["epochs_done"],  # in all, those before a --resume included
            "epochs_this_fit": state["epochs_done"] - begun,  # trained by the fit that wrote this file, in "seconds"
            "monitor": monitor,
            "best_value": state["best_value"],
            "best_epoch": state["best_epoch"],
            "final": {k: float(v) for k, v in final.items() if k != "epoch"},
            "model_epoch": restored or state["epochs_done"],  # the epoch model.keras holds
            "seconds": round(seconds, 3),
        },
    )
    plot_curves(run.history, run.curves)


def _settled(options: FitOptions, worker: WorkerSpec | None, join_seconds: float) -> tuple[FitOptions, FileInfo, Plan]:
    """The options made concrete for the backend Keras runs on and the data; where and how this process trains."""
    stop_if_interrupted()  # swallowed while Keras loaded: nothing is written yet
    backend = keras.backend.backend()
    if options.backend not in ("auto", backend):
        raise DataOptionError(
            f"these options ask for the {options.backend} backend but Keras runs on {backend}; "
            f"set KERAS_BACKEND={options.backend} before importing Keras"
        )
    options = dataclasses.replace(options, backend=backend)
    info = open_info(options.data)
    options = options.resolved(info.rows, workers=worker.num_workers if worker is not None else 1)
    plan = make_plan(options.strategy, batch_size=options.batch_size, worker=worker, join_seconds=join_seconds)
    return options, info, plan


def _new_model(options: FitOptions, info: FileInfo, output: OutputSpec, plan: Plan) -> tuple[keras.Model, dict]:
    with plan.scope():
        model = build_model(
            options.model,
            info,
            output,
            sample_shape=options.sample_shape,
            normalize=options.normalize,
            hidden=options.hidden,
            dropout=options.dropout,
            activation=options.activation,
            missing=options.missing,
        )
        compile_model(model, output, optimizer=options.optimizer, learning_rate=options.learning_rate)
    return model, dict(FRESH_STATE)


def _agree(plan: Plan, options: FitOptions, order: dict[str, object], info: FileInfo, state: dict, model: keras.Model) -> None:
    """Every worker of a multi-worker run checks that the others train the same (nothing to do alone)."""
    # Paths may differ between machines (the content must not); loader threads change no numbers.
    # The memory found may differ between machines; the order it gives must not (workers train as one process).
    same = {
        k: v for k, v in dataclasses.asdict(options).items() if k not in ("data", "val", "loaders", "processes", "memory_budget")
    }
    agree(
        plan,
        {
            "options": same,
            "data order": {k: v for k, v in order.items() if k not in ("why", "memory_budget")},
            "data file": info.fingerprint,
            "validation file": open_info(options.val).fingerprint if options.val else None,
            "checkpoint": (state["epochs_done"], weights_digest(model)),
        },
    )


def _callbacks(
    run: RunDir, options: FitOptions, info: FileInfo, output: OutputSpec, monitor: str, plan: Plan, state: dict, validating: bool
) -> tuple[list[keras.callbacks.Callback], BestWeights | None, Interruption]:
    """The run's callbacks, in the order they act, with the two ``fit`` asks afterwards."""
    callbacks: list[keras.callbacks.Callback] = [
        NanGuard(info, options.missing if options.normalize == "standard" else None),
        RunRecorder(
            run, monitor, output.monitor_mode, state, guard=plan.saving, write=plan.chief, tolerance=options.tie_tolerance
        ),
    ]
    if plan.chief:
        callbacks.append(keras.callbacks.TensorBoard(str(run.logs), write_graph=False, profile_batch=0))
    early = None
    if options.early_stopping and validating:
        early = BestWeights(state, options.early_stopping, run.best)
        callbacks.append(early)
    interruption = Interruption()
    callbacks.append(interruption)
    return callbacks, early, interruption


def _train(
    model: keras.Model,
    options: FitOptions,
    train: HDF5Sequence,
    val: HDF5Sequence | None,
    callbacks: list[keras.callbacks.Callback],
    interruption: Interruption,
    run: RunDir,
    plan: Plan,
    state: dict,
    verbose: int | str,
) -> None:
    """``model.fit`` from the run's next epoch; its failures become the trainer's errors, each saying how to go on."""
    tf_data = options.backend == "tensorflow" and not options.processes
    start_epoch = state["epochs_done"]
    interrupted = False
    try:
        fit_input = training_input(  # tf.data reads a batch here, to learn the batches' shapes
            train,
            first_epoch=start_epoch,
            epochs=options.epochs,
            tf_data=tf_data,
            workers=options.loaders,
            processes=options.processes,
        )
        if start_epoch < options.epochs:
            with interruption.installed():
                model.fit(
                    fit_input.data,
                    validation_data=validation_input(val, tf_data=tf_data),
                    epochs=options.epochs,
                    initial_epoch=start_epoch,
                    steps_per_epoch=fit_input.steps_per_epoch,
                    shuffle=False,
                    callbacks=callbacks,
                    verbose=verbose,
                )
                stop_if_interrupted()  # an interruption a library swallowed in the last steps
    except KeyboardInterrupt:
        interrupted = True
    except NanLossError as exc:
        raise NanLossError(
            f"{exc}; {how_to_go_on(run.path, state['epochs_done'])}" if state["epochs_done"] else str(exc)
        ) from None
    except RunError as exc:  # a checkpoint or state.json could not be written (a full disk)
        raise RunError(f"{exc}; {how_to_go_on(run.path, state['epochs_done'])}") from None
    except Exception as exc:
        damage = damage_in(exc)  # rows of a damaged file, read by whichever thread or process
        if damage is not None:
            raise DamagedDataError(f"{damage}; {how_to_go_on(run.path, state['epochs_done'])}") from None
        if LoaderError.MARK in str(exc):  # raised in the input pipeline; tf.data wraps it in its own error
            raise LoaderError(
                f"{LoaderError.MARK} (killed by the system, out of memory?); {how_to_go_on(run.path, state['epochs_done'])}"
            ) from None
        reason = peer_failure(exc) if plan.worker is not None else None
        if reason is not None:
            raise WorkerLostError(
                f"worker {plan.worker.index} lost contact with the other workers during training "
                f"({reason}): another worker stopped or was interrupted; restart every worker "
                "with --resume RUN_DIR"
            ) from None
        raise
    if interrupted:
        # The input pipeline is left as it is: tearing a tf.data pipeline down while its threads are
        # inside the batch reader crashed TensorFlow now and then; h5train leaves at once instead.
        raise Interrupted(run.path, state["epochs_done"])


def fit(
    options: FitOptions,
    run_dir: str | os.PathLike[str] | None = None,
    *,
    resume: bool = False,
    verbose: int | str = "auto",
    on_start: Callable[[RunDir], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    worker: WorkerSpec | None = None,
    join_seconds: float = DEFAULT_JOIN_SECONDS,
) -> FitResult:
    """Train as ``options`` say, writing the run directory; with ``resume``, continue it.

    Args:
        options: every setting; ``options.backend`` must be ``auto`` or the backend Keras runs on.
        run_dir: where to write (default ``runs/<UTC time>``); with ``resume``, the run to continue.
        resume: continue ``run_dir`` from its last checkpoint.
        verbose: Keras's progress output (0, 1, 2 or "auto").
        on_start: called with the run directory once it exists (on the chief only).
        on_note: called with anything the user should know before training starts.
        worker: this process's place in a multi-worker run (``options.strategy == "multi-worker"``).
        join_seconds: how long multi-worker training waits for every worker to start.

    Raises:
        TrainerError: bad data, options or run directory, or a worker lost in multi-worker training.
        Interrupted: Ctrl-C or SIGTERM; the last finished epoch is saved.
    """
    started = time.perf_counter()
    options, info, plan = _settled(options, worker, join_seconds)
    run = RunDir(run_dir) if run_dir is not None else RunDir.default()
    output = OutputSpec.for_file(info, one_hot=options.one_hot)
    # Built once: a --missing error is refused here, before anything is written; config.json describes it.
    columns = plan_columns(info, missing=options.missing) if options.normalize == "standard" else None
    seed_everything(options.seed)
    train, val = training_sequences(options, info, plan)
    if options.memory_budget is None and train.memory_budget is not None:
        # The order depends on the memory found: a resumed run reads with the same figure, not a new look.
        options = dataclasses.replace(options, memory_budget=train.memory_budget)
    order = data_order(train)
    for note in (left_out(train, val, plan), fewer_steps(train, options.steps_per_epoch)):
        if note and on_note is not None and plan.chief:
            on_note(note)
    monitor = f"val_{output.monitor}" if val is not None else output.monitor
    model, state = _resume_model(run, info, options, plan) if resume else _new_model(options, info, output, plan)
    nothing, begun = (_nothing_to_train(state, options, monitor) if resume else None), state["epochs_done"]  # before this fit
    _agree(plan, options, order, info, state, model)
    stop_if_interrupted()  # swallowed while the data opened and the model was built: still nothing written
    if plan.chief:
        started_as = _record_resume(run, options, info, state, order) if resume else None
        if not resume:
            _start_run(run, options, info, monitor, plan, state, model, order, columns)
        if on_start is not None:
            on_start(run)
        if on_note is not None:  # after every check: a refused run prints its one error line only
            for note in (order_note(order), order_changed(started_as, order)):
                if note:
                    on_note(note)
    callbacks, early, interruption = _callbacks(run, options, info, output, monitor, plan, state, val is not None)
    trained = dataclasses.replace(options, epochs=state["epochs_done"]) if nothing else options  # none, when nothing
    _train(model, trained, train, val, callbacks, interruption, run, plan, state, verbose)
    if early is not None:
        early.restore(model)
    seconds = time.perf_counter() - started
    _finish_run(run, model, plan, state, monitor, seconds, early.restored_epoch if early else None, begun)
    digest = weights_digest(model)
    finish(plan)
    return FitResult(
        run.path,
        state["epochs_done"],
        state["best_epoch"],
        state["best_value"],
        monitor,
        seconds,
        bool(early is not None and early.stopped_epoch),
        digest,
        chief=plan.chief,
        restored_epoch=early.restored_epoch if early else None,
        nothing=nothing,
        epochs_before=begun,
    )

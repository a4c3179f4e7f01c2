"""Keras callbacks of a training run: the run's files after each epoch, NaN losses, early stopping, Ctrl-C.

Each callback does one thing; ``fit`` puts them together. The run directory's
files are described in ``rundir``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ._keras import keras
from .errors import NanLossError
from .fileinfo import FileInfo
from .modelfile import load, save_model
from .preprocess import fill_advice, infinite_summary, nan_summary
from .randomness import generator_states
from .rundir import RunDir, append_history, write_json
from .signals import signals_deferred, signals_interrupt, stop_if_interrupted


def keeps(value: float, record: float | None, *, mode: str, tolerance: float = 0.0) -> bool:
    """Whether an epoch scoring ``value`` becomes the kept (best) epoch, ``record`` being the best value so far.

    A value better than the record is kept; so is one within ``tolerance`` (a
    fraction of the record) of it, a tie, the later epoch winning: a flat
    validation loss then keeps the epoch that trained longest rather than the
    first one that happened to touch the plateau. The reference stays the
    record itself, so a slow drift never walks the kept epoch away from it.
    With no tolerance only a better value is kept (an equal one is not).
    """
    if record is None:
        return True
    if mode == "max":
        return value > record or (tolerance > 0 and value >= record - tolerance * abs(record))
    return value < record or (tolerance > 0 and value <= record + tolerance * abs(record))


class RunRecorder(keras.callbacks.Callback):
    """After every epoch: last.keras, best.keras when kept (see ``keeps``), a history row, then state.json.

    state.json is written last, so it never claims an epoch whose checkpoint is
    missing; it also holds the random layers' generator states of that epoch.
    ``best_epoch`` and ``best_value`` are the kept epoch and its value,
    ``record_value`` the best value seen (they differ after a tie).
    Each epoch's files are written inside ``guard()`` (a multi-worker chief saves
    outside the distribution, and is not stopped mid-write). With ``write=False``
    (the other workers of a multi-worker run) only ``state`` is kept up to date.
    """

    def __init__(
        self,
        run: RunDir,
        monitor: str,
        mode: str,
        state: dict,
        guard: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
        write: bool = True,
        tolerance: float = 0.0,
    ) -> None:
        super().__init__()
        self.run = run
        self.monitor = monitor
        self.mode = mode
        self.tolerance = tolerance
        self.state = state
        self.guard = guard
        self.write = write

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {k: float(v) for k, v in (logs or {}).items()}
        value = logs.get(self.monitor)
        record = self.state.get("record_value", self.state["best_value"])  # runs from before ties: the best is the record
        improved = value is not None and keeps(value, record, mode=self.mode, tolerance=self.tolerance)
        state = {**self.state, "epochs_done": epoch + 1}
        if improved:
            better = record is None or (value > record if self.mode == "max" else value < record)
            state.update(best_value=value, best_epoch=epoch + 1, record_value=value if better else record)
        if self.write:
            with signals_deferred(), self.guard():  # the epoch's files whole, state.json last
                save_model(self.model, self.run.last)
                if improved:
                    save_model(self.model, self.run.best)
                append_history(self.run.history, epoch + 1, logs)
                state["random_state"] = generator_states(self.model)
                write_json(self.run.state, state)
                self.state.update(state)  # before a held Ctrl-C acts: the state saved is the state reported
        else:
            self.state.update(state)


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is NaN or infinite, naming the likely cause.

    Nothing is learnt after a NaN loss (every weight it touches turns NaN), so
    the run must not go on and report itself trained.
    """

    def __init__(self, info: FileInfo, missing: str) -> None:
        super().__init__()
        self.info = info
        self.missing = missing
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise NanLossError(self.message(f"epoch {self.epoch + 1}, batch {batch + 1}"))

    def message(self, where: str) -> str:
        holes = nan_summary(self.info)
        infinite = infinite_summary(self.info)
        if infinite is not None:  # the columns' plan refuses them before training; a run without one meets them here
            cause = f"{infinite} in {self.info.path}"
            fix = "replace them in the CSV (cells such as inf or 1e400 read as infinity), or --drop the column"
        elif holes != "no column" and self.missing is None:
            cause = f"missing values (NaN) reach the model: {holes} of {self.info.path}"
            fix = "train with --normalize standard (it fills them)" + fill_advice(self.info, " or ")
        elif holes != "no column":
            cause = (
                f"values far outside the training stats, or missing values the model does not fill "
                f"({holes} of {self.info.path} hold NaN)"
            )
            fix = "use --normalize standard or a lower --learning-rate" + fill_advice(self.info, ", or ")
        else:
            cause = "the steps are too large for these values (no column holds NaN)"
            fix = "use --normalize standard or a lower --learning-rate"
        return f"the training loss became NaN at {where}: likely cause: {cause}; {fix}"


class BestWeights(keras.callbacks.Callback):
    """Early stopping on the validation metric, ending with the best epoch's weights.

    It counts from the run's state (the epoch best.keras holds), not from what
    this process saw, so a resumed run stops and restores as an uninterrupted
    one would: the best weights are kept in memory when this process saw the
    best epoch, and read from best.keras otherwise.
    """

    def __init__(self, state: dict, patience: int, best_path: Path) -> None:
        super().__init__()
        self.state = state
        self.patience = patience
        self.best_path = best_path
        self.weights: list | None = None
        self.kept_epoch: int | None = None
        self.stopped_epoch = 0
        self.restored_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        best = self.state.get("best_epoch")  # RunRecorder has already taken this epoch into account
        if best == epoch + 1:
            self.weights, self.kept_epoch = self.model.get_weights(), best
        if self.patience and best is not None and epoch + 1 - best >= self.patience:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True

    def restore(self, model: keras.Model) -> None:
        """Put the best epoch's weights back into ``model`` (when another epoch came last)."""
        self.set_model(model)  # a resumed run with every epoch done never called fit, which sets it
        best = self.state.get("best_epoch")
        if best is None or best == self.state.get("epochs_done"):
            return
        if self.kept_epoch == best and self.weights is not None:
            self.model.set_weights(self.weights)
        elif self.best_path.exists():
            self.model.set_weights(load(self.best_path).get_weights())
        else:
            return
        self.restored_epoch = best


class Interruption(keras.callbacks.Callback):
    """Ctrl-C and SIGTERM stop training at once, and surely.

    Their handler raises KeyboardInterrupt as usual, but Keras 3.15 can swallow
    it (``pythonify_logs`` converts each step's logs under a bare ``except``), and
    so can a garbage-collection callback before training starts, so the signal is
    also recorded and raised again when training begins and after every batch.
    """

    def installed(self) -> AbstractContextManager[None]:
        return signals_interrupt()

    def _check(self, *args: object, **kwargs: object) -> None:
        stop_if_interrupted()

    on_train_begin = on_train_batch_end = on_test_batch_end = on_epoch_end = _check

"""Errors the user can fix when training; each says what, where and how to fix it."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path


class TrainerError(Exception):
    """A problem the user can fix: a bad data file, bad options, a model that does not fit."""


class DataFileError(TrainerError, OSError):
    """The data file is missing, damaged, not a csv2h5 file, or of a newer format."""


class DamagedDataError(DataFileError):
    """Rows of a data file that cannot be read back while training or scoring: the file is damaged."""

    MARK = "cannot be read (the file is damaged"  # also found in the text of errors tf.data and Keras wrap it in


class DataOptionError(TrainerError, ValueError):
    """An option that does not fit the data file (batch size, indices, sample shape, ...)."""


class NoWholeBatchError(DataOptionError):
    """``drop_remainder`` with fewer rows than one batch: the sequence would hand out no batch."""

    def __init__(self, message: str, *, rows: int, batch_size: int, training: bool) -> None:
        super().__init__(message)
        self.rows, self.batch_size, self.training = rows, batch_size, training


class ModelError(TrainerError, ValueError):
    """A model that cannot be built for, or does not fit, the data file."""


class RunError(TrainerError, OSError):
    """A run directory that cannot be written, resumed or loaded."""


class NanLossError(TrainerError, ArithmeticError):
    """The training loss became NaN or infinite: the model learns nothing from there on."""


class LoaderError(TrainerError, RuntimeError):
    """A batch-reading worker process died (killed, out of memory, a crash in native code)."""

    MARK = "a batch-reading worker process died"  # also found in the text of errors tf.data wraps it in


class Interrupted(Exception):
    """Training stopped by Ctrl-C or SIGTERM; the last finished epoch is saved."""

    def __init__(self, run_dir: Path, epochs_done: int) -> None:
        super().__init__(f"interrupted; {how_to_go_on(run_dir, epochs_done)}")
        self.run_dir = run_dir
        self.epochs_done = epochs_done


def how_to_go_on(run_dir: Path, epochs_done: int) -> str:
    """What a stopped run left, and the command that continues it."""
    if epochs_done == 0:
        return f"no epoch was finished, so {run_dir} has nothing to resume; start the run again"
    return f"checkpoints/last.keras holds epoch {epochs_done}; continue with: h5train fit --resume {run_dir}"


def damage_in(exc: BaseException) -> DamagedDataError | None:
    """The damaged-rows error that ``exc`` is or carries: raised in a reading thread or process, it may reach the
    caller as itself, as the cause of another error, or only as text in one (tf.data, Keras's loaders)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DamagedDataError):
            return seen
        seen = seen.__cause__ or seen.__context__
    found = re.search(rf"([^\n]*{re.escape(DamagedDataError.MARK)}[^\n]*)", str(exc))
    if found is None:
        return None
    line = found.group(1)
    named = line.find(f"{DamagedDataError.__name__}: ")  # a traceback's last line: the error's name, then its message
    return DamagedDataError(line[named + len(DamagedDataError.__name__) + 2 :] if named >= 0 else line.strip())


@contextlib.contextmanager
def reading_data() -> Iterator[None]:
    """Inside: rows of a damaged file come out as one DamagedDataError, whatever thread or process read them."""
    try:
        yield
    except DamagedDataError:
        raise
    except Exception as exc:
        found = damage_in(exc)
        if found is None:
            raise
        raise found from None

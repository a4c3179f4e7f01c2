"""What ``fit`` returns, and the summary line ``h5train fit`` ends with."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from csv2h5.errors import counted


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A finished fit: the run's epochs and best one, where it was written and how long this fit took."""

    run_dir: Path
    epochs_done: int
    best_epoch: int | None
    best_value: float | None
    monitor: str
    seconds: float
    stopped_early: bool
    weights: str = ""  # a digest of the final weights
    chief: bool = True  # False on the workers of a multi-worker run that do not write the run directory
    restored_epoch: int | None = None  # the best epoch whose weights the model was given back at the end
    nothing: str | None = None  # why a resumed run trained no epoch (its epochs done, or it stopped early)
    epochs_before: int = 0  # the epochs the run had done when this fit began (a resume's); epochs_done counts them too

    def summary(self) -> str:
        best = (
            f"best {self.monitor} {self.best_value:.4f} at epoch {self.best_epoch}"
            if self.best_value is not None
            else "no validation metric"
        )
        if self.stopped_early:
            best += " (stopped early)"
        if self.restored_epoch is not None:
            best += f"; model.keras holds epoch {self.restored_epoch}'s weights"
        where = f"run directory {self.run_dir}" if self.chief else "worker 0 wrote the run directory"
        if self.nothing is not None:
            return f"nothing to train: {self.nothing}; {best}; weights {self.weights}; {where}"
        return f"trained {self.epochs_text()} in {self.seconds:.1f} s; {best}; weights {self.weights}; {where}"

    def epochs_text(self) -> str:
        """The epochs this fit trained: ``3 epochs``; after a resume, ``1 more epoch (4 in all)``."""
        if not self.epochs_before:
            return counted(self.epochs_done, "epoch")
        return f"{counted(self.epochs_done - self.epochs_before, 'more epoch')} ({self.epochs_done:,} in all)"

"""csv2h5.trainer: train Keras models on csv2h5 files (installed from the trainer/ folder).

    from csv2h5.trainer import HDF5Sequence
    seq = HDF5Sequence("train.h5", batch_size=256, shuffle="global", seed=0)
    train, val = seq.split(0.1)
    model.fit(train, validation_data=val, epochs=10, shuffle=False)

Keras loads on first use of ``HDF5Sequence`` or ``epoch_order``, or with the first
module of the package that uses it (``preprocess``, ``models``, ...; each imports it
through ``_keras``), not at package import: ``h5train`` chooses the Keras backend
before that happens. Imported from
Python, Keras loads on the backend h5train would choose (``backend.library_backend``:
the one of a Keras already imported, else ``KERAS_BACKEND``, else tensorflow when
the program imported TensorFlow, else jax when installed, else tensorflow), and
TensorFlow's start-up notices are kept off stderr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import DataFileError, DataOptionError, ModelError, RunError, TrainerError

if TYPE_CHECKING:
    from .orders import epoch_order
    from .sequence import HDF5Sequence

__all__ = ["DataFileError", "DataOptionError", "HDF5Sequence", "ModelError", "RunError", "TrainerError", "epoch_order"]

_LAZY = {"HDF5Sequence": ".sequence", "epoch_order": ".orders"}


def __getattr__(name: str) -> object:
    """Import the Keras side (and with it the backend) only when it is asked for."""
    if name in _LAZY:
        from .backend import import_keras_quietly

        import_keras_quietly()
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

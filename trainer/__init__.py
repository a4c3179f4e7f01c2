"""csv2h5.trainer: train Keras models on csv2h5 files (installed from the trainer/ folder).

    from csv2h5.trainer import HDF5Sequence
    seq = HDF5Sequence("train.h5", batch_size=256, shuffle="global", seed=0)
    train, val = seq.split(0.1)
    model.fit(train, validation_data=val, epochs=10, shuffle=False)
"""

from __future__ import annotations

from .errors import DataFileError, DataOptionError, ModelError, RunError, TrainerError
from .sequence import HDF5Sequence, epoch_order

__all__ = ["DataFileError", "DataOptionError", "HDF5Sequence", "ModelError", "RunError", "TrainerError", "epoch_order"]

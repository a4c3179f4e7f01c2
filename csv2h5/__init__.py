"""csv2h5: stream large CSV files into one chunked HDF5 file for training.

    from csv2h5 import convert, ConvertOptions
    report = convert(["train.csv"], "train.h5", options=ConvertOptions(target=("label",)))

    from csv2h5.trainer import HDF5Sequence      # Keras loads only here

``import csv2h5`` never imports Keras: the converter runs where no training
stack is installed. ``csv2h5.HDF5Sequence`` is a lazy shortcut to the trainer's class.
"""

from __future__ import annotations

from ._version import __version__
from .convert import ConversionReport, Progress, convert  # noqa: E402
from .errors import (  # noqa: E402
    BadLineError,
    BadValueError,
    ColumnNotFoundError,
    Csv2H5Error,
    HeaderMismatchError,
    InputError,
    NotCsv2H5FileError,
    OptionError,
    OutputError,
    OutputExistsError,
    SchemaError,
)
from .options import ConvertOptions  # noqa: E402

__all__ = [
    "BadLineError",
    "BadValueError",
    "ColumnNotFoundError",
    "ConversionReport",
    "ConvertOptions",
    "Csv2H5Error",
    "HeaderMismatchError",
    "InputError",
    "NotCsv2H5FileError",
    "OptionError",
    "OutputError",
    "OutputExistsError",
    "Progress",
    "SchemaError",
    "__version__",
    "convert",
]


def __getattr__(name: str) -> object:
    """``csv2h5.HDF5Sequence``: imports the trainer (and Keras) on first use only."""
    if name == "HDF5Sequence":
        from .trainer import HDF5Sequence

        return HDF5Sequence
    raise AttributeError(f"module 'csv2h5' has no attribute {name!r}")

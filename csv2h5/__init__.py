"""csv2h5: stream large CSV files into one chunked HDF5 file for training.

    from csv2h5 import convert, ConvertOptions
    report = convert(["train.csv"], "train.h5", options=ConvertOptions(target=("label",)))

    from csv2h5.trainer import HDF5Sequence      # Keras loads only here

``import csv2h5`` never imports Keras: the converter runs where no training
stack is installed. ``csv2h5.HDF5Sequence`` is a lazy shortcut to the trainer's class.
"""

from __future__ import annotations

import sys
import types

from ._version import __version__
from .errors import (
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

# Loaded on first use (PEP 562): the engine pulls in numpy and h5py, and ``csv2h5 --version``,
# ``--help`` and ``h5train`` need neither; the command line also sets up the process before numpy loads.
_LAZY = {"ConversionReport": "convert", "Progress": "convert", "convert": "convert", "ConvertOptions": "options"}


class _Package(types.ModuleType):
    """This package, whose ``convert`` stays the function when the module ``csv2h5.convert`` loads.

    Importing a submodule sets it as an attribute of its package; the eager import this
    replaces bound the function over it, and so does this.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "convert" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

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
    """The engine's names on first use; ``csv2h5.HDF5Sequence`` imports the trainer (and Keras) only then."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # looked up here from now on
        return value
    if name == "HDF5Sequence":
        from .trainer import HDF5Sequence

        return HDF5Sequence
    raise AttributeError(f"module 'csv2h5' has no attribute {name!r}")

"""csv2h5: stream large CSV files into one chunked HDF5 file for training.

    from csv2h5 import convert, ConvertOptions
    report = convert(["train.csv"], "train.h5", options=ConvertOptions(target=("label",)))
"""

from __future__ import annotations

__version__ = "0.1.0"

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
    "BadLineError", "BadValueError", "ColumnNotFoundError", "ConversionReport", "ConvertOptions",
    "Csv2H5Error", "HeaderMismatchError", "InputError", "NotCsv2H5FileError", "OptionError",
    "OutputError", "OutputExistsError", "Progress", "SchemaError", "__version__", "convert",
]

"""ConvertOptions: how CSV text becomes HDF5 datasets, validated once."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Iterable, Mapping

from .errors import OptionError, number_text

FEATURE_DTYPES = ("auto", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
TASKS = ("auto", "classification", "regression")
BAD_LINE_POLICIES = ("error", "skip", "warn")
MAX_AUTO_CLASSES = 1000  # --task auto: at most this many distinct labels is classification
# --categorical auto refuses a column with more distinct values: identifiers and free text, whose
# codes mean nothing to a model and whose vocabulary grows with the rows (memory, /categories). The
# bound is --task auto's for classes: a column with more values than a target may have classes is
# not a category either. Real categories in public tables (countries, states, occupations, product
# types) stay below it; a larger one is named with --categorical NAME (no bound) or a higher bound.
MAX_CATEGORIES = MAX_AUTO_CLASSES
_TEXT_TUPLES = ("target", "features", "drop", "categorical", "datetime", "names", "na_values")
_TEXT_TUPLE_WORDS = {"names": "column names", "na_values": "spellings of a missing cell"}
_FLAGS = ("header", "overwrite", "append")
_INTEGERS = ("max_categories", "skip_rows", "chunk_rows", "block_bytes", "workers", "infer_bytes")
_TAB_SPELLINGS = {"tab": "\t", "\\t": "\t"}  # --delimiter tab, --delimiter '\t' (the shell passes a backslash and a t)


@dataclasses.dataclass(frozen=True, slots=True)
class ConvertOptions:
    """How CSV text becomes HDF5 datasets.

    Column selectors (``target``, ``features``, ``drop``, ``categorical``) are
    header names, 0-based indices (as strings of digits, with ``header=False``)
    or shell globs such as ``pixel*``.
    """

    target: tuple[str, ...] = ()
    features: tuple[str, ...] = ()  # empty: every column that is not a target or dropped
    drop: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()  # may hold "auto": every column of text cells
    datetime: tuple[str, ...] = ()  # ISO-8601 dates, stored as seconds since 1970-01-01 UTC
    max_categories: int = MAX_CATEGORIES  # for the columns --categorical auto chooses
    header: bool = True
    names: tuple[str, ...] = ()  # column names for header-less input
    # None: tab for .tsv and .tab files, else "," (what the file's name says, as pandas' default ","
    # for the rest; a guess is "auto", which sniffs , ; tab | from the first lines). "tab" and "\\t"
    # (a backslash and a t, as a shell passes '\t') mean a tab.
    delimiter: str | None = None
    decimal: str = "."  # "," reads 70,5 as 70.5 (European CSVs, with another delimiter), as pandas' decimal=
    skip_rows: int = 0  # lines skipped before the header, as pandas' skiprows=N
    comment: str | None = None
    encoding: str = "utf-8"
    dtype: str = "auto"  # the smallest type that holds every value exactly
    fill: float | None = None  # value for empty feature cells; None keeps NaN
    # More spellings of a missing cell besides pandas' defaults (which stay), as pandas' na_values=:
    # "?" in UCI's tables, "-" or "n.a." elsewhere; a cell equal to one is missing, as an empty one is.
    na_values: tuple[str, ...] = ()
    task: str = "auto"
    sample_shape: tuple[int, ...] | None = None
    chunk_rows: int | None = None  # None: about 1 MiB of rows per chunk
    compression: str = "none"  # none keeps the memory-map fast path for training
    on_bad_lines: str = "error"
    overwrite: bool = False
    append: bool = False
    like: str | None = None  # an existing csv2h5 file whose roles, dtype, classes and vocabularies to follow
    block_bytes: int = 4 << 20  # parse unit: bounds memory (a worker needs ~20x this), keeps workers busy
    workers: int | None = None  # parser processes; None: one per core
    # The first bytes of data, whose cells decide each column's kind (numbers, booleans, text); held back
    # until then, so the decision does not depend on the block size. Later rows must agree.
    infer_bytes: int = 4 << 20

    def __post_init__(self) -> None:
        given_fill = self.fill  # as given: an integer's exact value, before it becomes a float
        self._settle_types()
        if self.dtype not in FEATURE_DTYPES:
            raise OptionError(f"--dtype {self.dtype!r} is not one of {', '.join(FEATURE_DTYPES)}")
        if self.task not in TASKS:
            raise OptionError(f"--task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.on_bad_lines not in BAD_LINE_POLICIES:
            raise OptionError(f"--on-bad-lines {self.on_bad_lines!r} is not one of {', '.join(BAD_LINE_POLICIES)}")
        if self.delimiter is not None:
            object.__setattr__(self, "delimiter", _TAB_SPELLINGS.get(self.delimiter.lower(), self.delimiter))
            if self.delimiter != "auto" and len(self.delimiter) != 1:
                raise OptionError(f"--delimiter must be one character, 'tab' or 'auto', got {self.delimiter!r}")
            if self.delimiter in ('"', "\n", "\r"):
                raise OptionError(f"--delimiter {self.delimiter!r} cannot be a quote or a line break")
        if self.decimal not in (".", ","):
            raise OptionError(f"--decimal must be '.' or ',', got {self.decimal!r}")
        if self.comment is not None and len(self.comment) != 1:
            raise OptionError(f"--comment must be one character, got {self.comment!r}")
        if self.skip_rows < 0:
            raise OptionError(f"--skip-rows must be >= 0, got {self.skip_rows}")
        if self.chunk_rows is not None and self.chunk_rows <= 0:
            raise OptionError(f"--chunk-rows must be positive, got {self.chunk_rows}")
        if self.block_bytes < 1:
            raise OptionError(f"block_bytes must be positive, got {self.block_bytes}")
        if self.max_categories < 1:
            raise OptionError(f"--max-categories must be positive, got {self.max_categories}")
        if self.infer_bytes < 1:
            raise OptionError(f"infer_bytes must be positive, got {self.infer_bytes}")
        if self.workers is not None and self.workers < 0:
            raise OptionError(f"workers must be >= 0, got {self.workers}")
        if self.fill is not None and math.isnan(self.fill):
            raise OptionError("--fill must be a number, not NaN (empty cells are NaN already)")
        if self.fill is not None and math.isinf(self.fill):  # no model learns from it: training refuses such columns
            raise OptionError(f"--fill must be a finite number, not {self.fill}; pick a value such as 0 or the column's mean")
        if self.fill is not None:
            _check_fill_beyond_2_to_53(given_fill, self.dtype)
        # Else the first empty cell is refused as if the CSV held that value.
        if self.fill is not None and self.dtype != "auto" and not dtype_holds(self.dtype, self.fill):
            raise OptionError(
                f"--fill {number_text(self.fill)} does not fit --dtype {self.dtype};"
                f" pass a --fill that {self.dtype} holds, or a wider --dtype"
            )
        if any(not value or "\n" in value or "\r" in value for value in self.na_values):
            raise OptionError("--na-values takes non-empty spellings on one line (an empty cell is missing already)")
        if self.names and self.header:
            raise OptionError("--names replaces the header; pass --no-header with it")
        if any(not name.strip() for name in self.names):
            raise OptionError(f"--names has an empty name ({','.join(self.names)}); give every column a name")
        if len(set(self.names)) != len(self.names):
            raise OptionError("--names has a repeated name; column names must be unique")
        if self.sample_shape is not None and (not self.sample_shape or any(d <= 0 for d in self.sample_shape)):
            raise OptionError(f"--sample-shape must be positive integers, got {self.sample_shape}")
        if self.overwrite and self.append:
            raise OptionError("--overwrite and --append contradict each other; pass one")
        if self.like is not None:
            object.__setattr__(self, "like", os.fspath(self.like))  # a Path too; stored in the file as text
            self._check_like()
        parse_compression(self.compression)

    def _settle_types(self) -> None:
        """Python callers' spellings made exact: one selector string is one column, not its letters.

        A list, tuple, set, numpy array or pandas Index of strings or integers (numpy's too)
        is taken, as any iterable was before these checks.
        """
        for name in _TEXT_TUPLES:
            value = getattr(self, name)
            if _one_item(value):  # target="label", target=0 (header-less)
                value = (value,)
            elif value is not None and not isinstance(value, (bytes, Mapping)) and isinstance(value, Iterable):
                value = tuple(value)
            if not isinstance(value, tuple) or not all(map(_one_item, value)):
                what = _TEXT_TUPLE_WORDS.get(name, "column names or indices")
                raise OptionError(f"{name} takes {what} (a string or a list of them), got {getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(str(v) for v in value))
        for name in _INTEGERS:
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise OptionError(f"{name} must be an integer, got {value!r}")
            if value is not None:
                object.__setattr__(self, name, int(value))
        for name in _FLAGS:  # a string or pandas' header=0 ("the first line") would mean the opposite
            value = getattr(self, name)
            if not _is_flag(value):
                pandas = " (pandas' header=0, the first line, is header=True here)" if name == "header" and value == 0 else ""
                raise OptionError(f"{name} must be True or False, got {value!r}{pandas}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        shape = self.sample_shape
        if shape is not None:
            dims = tuple(shape) if isinstance(shape, Iterable) and not isinstance(shape, (str, bytes, Mapping)) else None
            if dims is None or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims):
                raise OptionError(f"sample_shape takes a tuple of integers such as (28, 28, 1), got {shape!r}")
            object.__setattr__(self, "sample_shape", tuple(int(d) for d in dims))
        if self.fill is not None:
            if isinstance(self.fill, bool) or not isinstance(self.fill, numbers.Real):
                raise OptionError(f"fill must be a number, got {self.fill!r}")
            object.__setattr__(self, "fill", float(self.fill))

    def _check_like(self) -> None:
        """--like takes the column roles from its file: options that set them would contradict it."""
        given = [
            name
            for name, value in (
                ("--target", self.target),
                ("--features", self.features),
                ("--drop", self.drop),
                ("--categorical", self.categorical),
                ("--datetime", self.datetime),
                ("--task", self.task != "auto"),
                ("--sample-shape", self.sample_shape),
            )
            if value
        ]
        if given:
            raise OptionError(
                f"--like takes the column roles, task and sample shape from {self.like}; drop {' and '.join(given)}"
            )


def parse_compression(text: str) -> tuple[str | None, object]:
    """Turn ``none|lzf|gzip[:1-9]|<hdf5plugin filter>`` into h5py's (compression, opts)."""
    name, _, level = text.partition(":")
    name = name.lower()
    if name == "none" and not level:
        return None, None
    if name == "lzf" and not level:
        return "lzf", None
    if name == "gzip":
        if not level:
            return "gzip", 4
        if level.isdigit() and 1 <= int(level) <= 9:
            return "gzip", int(level)
        raise OptionError(f"--compression gzip level must be 1-9, got {level!r}")
    plugin = _plugin_filter(name, level)
    if plugin is not None:
        return plugin
    raise OptionError(
        f"--compression {text!r} is not supported; use none, lzf, gzip or gzip:1-9"
        " (or blosc, zstd, lz4 with the hdf5plugin package installed)"
    )


def _plugin_filter(name: str, level: str) -> tuple[str | None, object] | None:
    """Filters from the optional hdf5plugin package, as h5py compression kwargs."""
    if name not in ("blosc", "zstd", "lz4"):
        return None
    try:
        import hdf5plugin
    except ImportError:
        raise OptionError(f"--compression {name} needs the hdf5plugin package: pip install hdf5plugin") from None
    if name == "zstd":
        plugin = hdf5plugin.Zstd(clevel=int(level)) if level else hdf5plugin.Zstd()
    elif name == "lz4":
        plugin = hdf5plugin.LZ4()
    else:
        plugin = hdf5plugin.Blosc(clevel=int(level)) if level else hdf5plugin.Blosc()
    return plugin.filter_id, tuple(plugin.filter_options)


def worker_count(options: ConvertOptions, total_bytes: int) -> int:
    """Parser processes for an input of ``total_bytes``: --workers, else one per usable core, none for small inputs."""
    if options.workers is not None:
        return options.workers
    if total_bytes <= 2 * options.block_bytes:
        return 0  # starting processes costs more than parsing a small input
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def options_record(options: ConvertOptions) -> dict[str, object]:
    """The options as a converted file records them (``/`` attribute ``options``).

    All but ``workers`` and ``block_bytes``: they set how a conversion runs, and the file written
    does not depend on them.
    """
    record = dataclasses.asdict(options)
    record.pop("workers")
    record.pop("block_bytes")
    return record


def _one_item(value: object) -> bool:
    """A column name or index, or a spelling: a string, or an integer (numpy's too) that is not a bool."""
    return isinstance(value, str) or (isinstance(value, numbers.Integral) and not isinstance(value, bool))


def _is_flag(value: object) -> bool:
    """True, False, or numpy's bools: not 0, 1 or "no", whose truth is not what a caller may have meant."""
    return isinstance(value, bool) or type(value).__name__ in ("bool", "bool_")  # numpy's, without importing numpy


def _check_fill_beyond_2_to_53(given: float, dtype: str) -> None:
    """Refuse a --fill that would not be stored as given: a fill is a float, which beyond 2**53 is no exact integer.

    Judged on the value as given, as an integer is exact (2**53 + 1 would read as 2**53). int64 would
    take in such a float but the features of its empty cells could not: refused here, rather than as a
    type that holds both; --dtype auto would store the float's value, not the integer given.
    """
    exact = int(given) if isinstance(given, numbers.Integral) else float(given)
    shown = str(exact) if isinstance(exact, int) else number_text(exact)
    if dtype == "int64" and abs(exact) > 2**53:
        raise OptionError(
            f"--fill {shown} is beyond 2**53, where a --fill (read as a float) is no exact integer;"
            " pass a --fill between -2**53 and 2**53 for --dtype int64, or --dtype float64"
        )
    if dtype == "auto" and isinstance(exact, int) and float(exact) != exact:
        raise OptionError(
            f"--fill {shown} is beyond 2**53, where a --fill (read as a float) is no exact integer: it would be"
            f" {number_text(float(exact))}; pass a --fill a float holds exactly, such as any integer between -2**53 and 2**53"
        )


def dtype_holds(dtype: str, value: float) -> bool:
    """Whether ``--dtype`` ``dtype`` holds ``value`` as it holds a cell of that value."""
    import numpy as np

    from .schema import unrepresentable

    return not unrepresentable(np.array([value], dtype=np.float64), np.dtype(dtype))[0]

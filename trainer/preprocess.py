"""From raw converted rows to what a model can use: one rule, from the file's stored stats.

Every feature column is one of four kinds, known from the file:

- **numbers** and **dates** (seconds since 1970): minus the training mean, over
  the training standard deviation (``/stats``, which leave NaN out). Dates are
  standardised seconds: one input that keeps their order and their trend, with
  no calendar arithmetic inside the model (month or weekday parts would need it,
  and float32 seconds near 2024 are only exact to 128 s anyway).
- **booleans** (stored 1/0): kept as 0 and 1.
- **categorical codes** (``/categories``): never standardised as numbers. A
  model of its own columns (``encode="columns"``, h5train's tabular models)
  one-hots a vocabulary of up to ``ONE_HOT_MAX`` values and embeds a larger one
  (``embedding_size`` columns a value); a code the vocabulary does not hold
  (NaN, or a value new since training) is all zeros, or the embedding's last
  row. Where the width must stay (``encode="keep"``: image-shaped models and
  ``HDF5Sequence``), codes pass as they are, NaN becoming code K.

A missing value (NaN) becomes, with ``missing="mean"`` (the default), the
column's training mean, so 0 once standardised; with ``"zero"``, 0 before
scaling; ``"error"`` refuses a training file whose columns hold NaN. With
``encode="columns"`` each column that held NaN in training also gets an input
that is 1 where its value was missing, so a model can tell a filled cell from
a real one.

The same rule runs in numpy (``BatchPreprocessor``, for ``HDF5Sequence``) and
inside a Keras model (``TabularEncoding``, h5train's first layer), so a saved
model takes raw converted rows.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._keras import keras
from .errors import DataOptionError
from .fileinfo import FileInfo

MISSING = ("mean", "zero", "error")
ONE_HOT_MAX = 32  # vocabularies up to this many values are one-hot; larger ones are embedded
EMBEDDING_MAX = 16  # columns of the largest embeddings


def embedding_size(values: int) -> int:
    """Columns of a vocabulary's embedding: grows slowly with its size (the rule of thumb 1.6 K^0.56), at most 16."""
    return max(2, min(EMBEDDING_MAX, round(1.6 * values**0.56)))


@dataclasses.dataclass(frozen=True)
class ColumnPlan:
    """How each feature column reaches the model (the constants of the rule, from the stats)."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]  # number, date, boolean, category
    mean: np.ndarray  # subtracted (0 for booleans and codes)
    scale: np.ndarray  # multiplied after (1 for booleans and codes)
    fill: np.ndarray  # what NaN becomes before scaling
    nan_columns: tuple[int, ...]  # columns that held NaN in training: they get missing indicators
    vocabulary_sizes: dict[int, int]  # column -> K, for categorical columns

    def describe(self, *, encode: str = "columns") -> dict[str, str]:
        """One line per column, for config.json and the user: what the model sees of it."""
        out = {}
        for i, (name, kind) in enumerate(zip(self.columns, self.kinds)):
            if kind == "category":
                k = self.vocabulary_sizes[i]
                text = (
                    f"codes of {k} values"
                    if encode == "keep"
                    else f"one-hot of {k} values"
                    if k <= ONE_HOT_MAX
                    else f"embedding of {k + 1} rows x {embedding_size(k)} (last row: unknown or missing)"
                )
            elif kind == "boolean":
                text = "0/1"
            elif kind == "date":
                text = "seconds since 1970, standardised"
            else:
                text = "standardised"
            if i in self.nan_columns:
                text += "; missing values filled" + ("" if encode == "keep" else ", with a missing indicator")
            out[name] = text
        return out


def plan_columns(info: FileInfo, *, missing: str = "mean") -> ColumnPlan:
    """The rule's constants for ``info``'s columns; ``missing="error"`` refuses NaN in them."""
    if missing not in MISSING:
        raise DataOptionError(f"missing={missing!r} is not one of {', '.join(MISSING)}")
    f = info.num_features
    columns = tuple(info.columns) if len(info.columns) == f else tuple(f"column {i + 1}" for i in range(f))
    stats = info.stats
    mean = np.asarray(stats.get("mean", np.zeros(f)), dtype=np.float64)
    std = np.asarray(stats.get("std", np.ones(f)), dtype=np.float64)
    nan_count = np.asarray(stats.get("nan_count", np.zeros(f)), dtype=np.float64)
    kinds = []
    for name in columns:
        kinds.append(
            "category"
            if name in info.vocabularies
            else "boolean"
            if name in info.boolean_columns
            else "date"
            if name in info.datetime_columns
            else "number"
        )
    nan_columns = tuple(int(i) for i in np.flatnonzero(nan_count > 0))
    if missing == "error" and nan_columns:
        raise DataOptionError(
            f"{info.named}: {nan_summary(info)} hold{'s' if len(nan_columns) == 1 else ''} missing values (NaN),"
            " and missing='error' refuses them; pass --missing mean (h5train) / missing='mean' (HDF5Sequence)"
            + fill_advice(info, ", or ")
        )
    infinite = infinite_summary(info)
    if infinite is not None:  # (inf - mean) / std is NaN for every row: the model would learn nothing
        raise DataOptionError(
            f"{info.named}: {infinite}, which a model cannot learn from (its loss turns NaN); replace them in the CSV"
            " (cells such as inf or 1e400 read as infinity), or --drop the column"
        )
    numeric = np.array([k in ("number", "date") for k in kinds])
    filled_mean = np.nan_to_num(mean)  # a column of NaN only has no mean: 0
    std = np.nan_to_num(std, nan=1.0)
    scale = np.where(numeric, 1.0 / np.where(std == 0, 1.0, std), 1.0)  # constant columns: centred, not divided by 0
    centre = np.where(numeric, filled_mean, 0.0)
    fill = filled_mean if missing == "mean" else np.zeros(f)
    sizes = {i: len(info.vocabularies[name]) for i, name in enumerate(columns) if kinds[i] == "category"}
    for i, k in sizes.items():
        fill[i] = k  # a missing code is an unknown value, whatever ``missing`` says
    return ColumnPlan(columns, tuple(kinds), centre, scale, fill, nan_columns, sizes)


def nan_summary(info: FileInfo, *, limit: int = 8) -> str:
    """The columns that hold NaN in the stats, with counts: "columns age (12 NaN), city (3 NaN)"."""
    counts = np.asarray(info.stats.get("nan_count", np.zeros(info.num_features)))
    found = [f"{_column_name(info, i)} ({int(counts[i]):,} NaN)" for i in np.flatnonzero(counts > 0)]
    return _columns(found, limit) if found else "no column"


def fill_advice(info: FileInfo, lead: str) -> str:
    """``lead + "convert with --fill VALUE"`` when that fills every column holding NaN, else "".

    ``--fill`` fills number columns only: a missing category, boolean or date stays NaN, so it is
    no advice for a file whose NaN lie in such a column.
    """
    counts = np.asarray(info.stats.get("nan_count", np.zeros(info.num_features)))
    others = set(info.vocabularies) | set(info.boolean_columns) | set(info.datetime_columns)
    holes = [_column_name(info, i) for i in np.flatnonzero(counts > 0)]
    return f"{lead}convert with --fill VALUE" if holes and not others.intersection(holes) else ""


def infinite_summary(info: FileInfo, *, limit: int = 8) -> str | None:
    """The columns that hold infinite values in the stats ("column a (max inf) holds infinite values"), or None."""
    low = np.asarray(info.stats.get("min", np.zeros(info.num_features)), dtype=np.float64)
    high = np.asarray(info.stats.get("max", np.zeros(info.num_features)), dtype=np.float64)
    found = []
    for i in np.flatnonzero(np.isinf(low) | np.isinf(high)):
        ends = ", ".join(f"{end} {value}" for end, value in (("min", low[i]), ("max", high[i])) if np.isinf(value))
        found.append(f"{_column_name(info, i)} ({ends})")
    if not found:
        return None
    return _columns(found, limit) + (" hold" if len(found) > 1 else " holds") + " infinite values"


def _column_name(info: FileInfo, i: int) -> str:
    return str(info.columns[i] if i < len(info.columns) else i)


def _columns(found: list[str], limit: int) -> str:
    """ "column a (...)" or "columns a (...), b (...) and 3 more": at most ``limit`` named."""
    more = f" and {len(found) - limit} more" if len(found) > limit else ""
    return ("columns " if len(found) > 1 else "column ") + ", ".join(found[:limit]) + more


def unit_factor(info: FileInfo) -> np.ndarray:
    """What ``unit`` scales each column by: 1 over its largest stored magnitude (of its min and max, so a
    column of negative numbers lands in -1..1 too); 1 for a column of zeros or of NaN alone, and for
    categorical codes, which stay codes (a code over its largest is no longer one an embedding can take)."""
    stats = info.stats
    top = np.fmax(
        np.abs(np.asarray(stats["max"], dtype=np.float64)), np.abs(np.asarray(stats.get("min", np.nan), dtype=np.float64))
    )
    top = np.nan_to_num(top, nan=1.0)
    codes = np.array([i < len(info.columns) and info.columns[i] in info.vocabularies for i in range(top.size)], dtype=bool)
    return (1.0 / np.where((top == 0) | codes, 1.0, top)).astype(np.float32)


class BatchPreprocessor:
    """The rule in numpy, width kept (for ``HDF5Sequence``): fill NaN, standardise numbers and dates.

    ``scale`` is ``"standard"`` (the rule), ``"unit"`` (every column but codes over
    its stored largest magnitude) or None (no scaling); ``missing`` None
    leaves NaN as it is.
    """

    def __init__(self, info: FileInfo, *, scale: str | None, missing: str | None) -> None:
        if scale not in (None, "unit", "standard"):
            raise DataOptionError(f"scale={scale!r} is not one of None, 'unit', 'standard'")
        if missing is not None and missing not in MISSING:
            raise DataOptionError(f"missing={missing!r} is not one of None, {', '.join(map(repr, MISSING))}")
        plan = plan_columns(info, missing=missing or "mean")
        # The stats count every NaN of the file read: without any, no batch needs looking at.
        self.fill = plan.fill.astype(np.float32) if missing is not None and plan.nan_columns else None
        self.offset = self.factor = None
        if scale == "standard":
            self.offset, self.factor = plan.mean.astype(np.float32), plan.scale.astype(np.float32)
        elif scale == "unit":
            self.factor = unit_factor(info)

    @property
    def active(self) -> bool:
        return self.fill is not None or self.factor is not None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x`` (rows, features), a float array this batch owns: changed in place and returned."""
        if self.fill is not None:
            holes = np.isnan(x)
            if holes.any():
                x[holes] = np.broadcast_to(self.fill, x.shape)[holes]
        if self.offset is not None:
            x -= self.offset
        if self.factor is not None:
            x *= self.factor
        return x


@keras.saving.register_keras_serializable(package="csv2h5")
class TabularEncoding(keras.layers.Layer):
    """The rule as a model's first layer: raw rows in, numbers a network can use out.

    Columns (in this order): the numbers, dates and booleans (filled,
    standardised); a missing indicator per column that held NaN in training;
    the one-hot columns; the embeddings. With ``keep_width`` only the first part,
    codes included as they are, so the output has the input's width.
    """

    def __init__(
        self,
        mean: list[float],
        scale: list[float],
        fill: list[float],
        dense: list[int],
        indicators: list[int],
        one_hot: list[list[int]],
        embed: list[list[int]],
        keep_width: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.mean, self.scale, self.fill = list(map(float, mean)), list(map(float, scale)), list(map(float, fill))
        self.dense, self.indicators = list(map(int, dense)), list(map(int, indicators))
        self.one_hot = [[int(c), int(k)] for c, k in one_hot]
        self.embed = [[int(c), int(k), int(d)] for c, k, d in embed]
        self.keep_width = bool(keep_width)
        self.width = len(self.mean)
        self.tables = [self.add_weight(shape=(k + 1, d), initializer="uniform", name=f"embedding_{c}") for c, k, d in self.embed]

    @classmethod
    def from_plan(cls, plan: ColumnPlan, *, keep_width: bool = False, name: str = "encode") -> TabularEncoding:
        categorical = sorted(plan.vocabulary_sizes)
        dense = (
            list(range(len(plan.kinds))) if keep_width else [i for i in range(len(plan.kinds)) if i not in plan.vocabulary_sizes]
        )
        one_hot = [[c, plan.vocabulary_sizes[c]] for c in categorical if plan.vocabulary_sizes[c] <= ONE_HOT_MAX]
        embed = [
            [c, plan.vocabulary_sizes[c], embedding_size(plan.vocabulary_sizes[c])]
            for c in categorical
            if plan.vocabulary_sizes[c] > ONE_HOT_MAX
        ]
        return cls(
            plan.mean.tolist(),
            plan.scale.tolist(),
            plan.fill.tolist(),
            dense,
            [] if keep_width else list(plan.nan_columns),
            [] if keep_width else one_hot,
            [] if keep_width else embed,
            keep_width=keep_width,
            name=name,
        )

    @property
    def output_width(self) -> int:
        return len(self.dense) + len(self.indicators) + sum(k for _, k in self.one_hot) + sum(d for _, _, d in self.embed)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.output_width)

    def call(self, rows):  # noqa: D102 - Keras's Layer.call
        ops = keras.ops
        x = ops.cast(rows, "float32")
        holes = ops.isnan(x)
        filled = ops.where(holes, ops.convert_to_tensor(np.array(self.fill, np.float32)), x)
        dense = filled if len(self.dense) == self.width else ops.take(filled, np.array(self.dense, np.int32), axis=1)
        mean = np.array(self.mean, np.float32)[self.dense]
        scale = np.array(self.scale, np.float32)[self.dense]
        parts = [(dense - mean) * scale]
        if self.indicators:
            parts.append(ops.cast(ops.take(holes, np.array(self.indicators, np.int32), axis=1), "float32"))
        for column, k in self.one_hot:
            code = x[:, column : column + 1]  # NaN and codes outside 0..K-1 equal no value: all zeros
            parts.append(ops.cast(ops.equal(code, np.arange(k, dtype=np.float32)[None, :]), "float32"))
        for (column, k, _), table in zip(self.embed, self.tables):
            code = x[:, column]
            known = ops.logical_and(ops.greater_equal(code, 0.0), ops.less(code, float(k)))  # False for NaN
            index = ops.cast(ops.where(known, code, float(k)), "int32")
            parts.append(ops.take(table, index, axis=0))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=1)

    def get_config(self) -> dict[str, object]:
        return {
            **super().get_config(),
            "mean": self.mean,
            "scale": self.scale,
            "fill": self.fill,
            "dense": self.dense,
            "indicators": self.indicators,
            "one_hot": self.one_hot,
            "embed": self.embed,
            "keep_width": self.keep_width,
        }


def encoding_layer(info: FileInfo, *, missing: str = "mean", keep_width: bool = False) -> TabularEncoding:
    """h5train's first layer for ``info``: the rule, from its stats and vocabularies."""
    return TabularEncoding.from_plan(plan_columns(info, missing=missing), keep_width=keep_width)

"""Pure policy: column roles, exact dtype inference and widening, chunk shape.

Nothing here reads or writes files; everything is a function of its arguments.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Sequence

import numpy as np

from .errors import OptionError, SchemaError, column_not_found

CHUNK_BYTES = 1 << 20  # ~1 MiB chunks: large enough for fast reads, small enough to cache

INT_LADDER = ("uint8", "int8", "int16", "int32", "int64")
FLOAT32_MAX_EXACT_INT = 2**24  # every integer up to this magnitude is a float32
FLOAT16_MAX_EXACT_INT = 2**11
FLOAT64_MAX_EXACT_INT = 2**53


# --------------------------------------------------------------------------- columns


@dataclasses.dataclass(frozen=True, slots=True)
class ColumnRoles:
    """Which CSV columns (by position) become features, target and categories."""

    names: tuple[str, ...]  # every CSV column, in file order
    features: tuple[int, ...]
    target: tuple[int, ...]
    categorical: tuple[int, ...]  # positions in the CSV; each is also in ``features``

    @property
    def feature_names(self) -> list[str]:
        return [self.names[i] for i in self.features]

    @property
    def target_names(self) -> list[str]:
        return [self.names[i] for i in self.target]


def _select(selectors: Sequence[str], names: Sequence[str], *, option: str, header: bool) -> list[int]:
    """Resolve names, globs and (header-less) indices to positions, in the order given."""
    chosen: list[int] = []
    for selector in selectors:
        if selector in names:
            hits = [names.index(selector)]
        elif selector.isdigit() and (not header or selector not in names):
            index = int(selector)
            if index >= len(names):
                raise OptionError(
                    f"{option} {selector} is out of range: the input has {len(names)} columns (0-{len(names) - 1})"
                )
            hits = [index]
        elif any(ch in selector for ch in "*?["):
            hits = [i for i, name in enumerate(names) if fnmatch.fnmatchcase(name, selector)]
            if not hits:
                raise OptionError(f"{option} {selector!r} matches no column")
        else:
            raise column_not_found(selector, names, option=option)
        chosen.extend(i for i in hits if i not in chosen)
    return chosen


def resolve_columns(
    names: Sequence[str],
    *,
    target: Sequence[str] = (),
    features: Sequence[str] = (),
    drop: Sequence[str] = (),
    categorical: Sequence[str] = (),
    header: bool = True,
) -> ColumnRoles:
    """Decide the role of every column from the user's selectors."""
    names = list(names)
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise SchemaError(
                f"duplicate column name {name!r} at positions {seen[name]} and {i};"
                " rename one in the header, or pass --no-header --names a,b,..."
            )
        seen[name] = i
    target_idx = _select(target, names, option="--target", header=header)
    drop_idx = set(_select(drop, names, option="--drop", header=header))
    if features:
        feature_idx = _select(features, names, option="--features", header=header)
    else:
        feature_idx = list(range(len(names)))
    clash = [names[i] for i in target_idx if i in feature_idx and features and i not in drop_idx]
    if clash:
        raise OptionError(f"column {clash[0]!r} is both --target and --features; pick one role")
    feature_idx = [i for i in feature_idx if i not in drop_idx and i not in target_idx]
    dropped_targets = [names[i] for i in target_idx if i in drop_idx]
    if dropped_targets:
        raise OptionError(f"column {dropped_targets[0]!r} is both --target and --drop; pick one role")
    if not feature_idx:
        raise OptionError("no feature columns are left; check --features and --drop")
    cat_idx = _select(categorical, names, option="--categorical", header=header)
    not_features = [names[i] for i in cat_idx if i not in feature_idx]
    if not_features:
        raise OptionError(
            f"--categorical {not_features[0]!r} is not a feature column (it is a target or dropped)"
        )
    return ColumnRoles(tuple(names), tuple(feature_idx), tuple(target_idx), tuple(cat_idx))


# --------------------------------------------------------------------------- dtypes


@dataclasses.dataclass(frozen=True, slots=True)
class ValueRange:
    """What a set of numbers needs to be stored exactly.

    ``integral`` numbers are tracked by their exact range; anything else by
    whether float32 / float16 hold every value. A float type "holds" a value
    when converting it back gives the same float64, or when the value has few
    enough significant digits (6 for float32, 3 for float16) that the float
    type prints back the same decimal text: ``0.1`` is stored as float32.
    """

    integral: bool = True
    low: int = 0  # exact integer range (meaningful when any value is integral)
    high: int = 0
    float32_exact: bool = True
    float16_exact: bool = True
    empty: bool = True  # no values seen yet

    def merge(self, other: ValueRange) -> ValueRange:
        if self.empty:
            return other
        if other.empty:
            return self
        return ValueRange(
            integral=self.integral and other.integral,
            low=min(self.low, other.low),
            high=max(self.high, other.high),
            float32_exact=self.float32_exact and other.float32_exact,
            float16_exact=self.float16_exact and other.float16_exact,
            empty=False,
        )


def _decimal_digits_fit(values: np.ndarray, digits: int, limit: float, tiny: float) -> np.ndarray:
    """True where a finite value has at most ``digits`` significant decimal digits."""
    a = np.abs(values)
    ok = (a == 0) | ~np.isfinite(a)
    normal = ~ok & (a >= tiny) & (a <= limit)
    if normal.any():
        x = a[normal]
        exponent = np.floor(np.log10(x))
        scaled = x * np.power(10.0, digits - 1 - exponent)
        # log10 can be off by one at exact powers of ten: accept either scale.
        near = (scaled < 10.0**digits) & (np.abs(scaled - np.rint(scaled)) <= scaled * 2.0**-49)
        scaled_up = scaled * 10.0
        near |= (scaled_up < 10.0**digits) & (np.abs(scaled_up - np.rint(scaled_up)) <= scaled_up * 2.0**-49)
        ok[normal] = near
    return ok


def value_range(values: np.ndarray) -> ValueRange:
    """Summarise a numeric array (int or float, NaN allowed) as a ValueRange."""
    if values.size == 0:
        return ValueRange()
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        return ValueRange(
            integral=True,
            low=low,
            high=high,
            float32_exact=max(-low, high) <= FLOAT32_MAX_EXACT_INT,
            float16_exact=max(-low, high) <= FLOAT16_MAX_EXACT_INT,
            empty=False,
        )
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    # Huge whole numbers read as floats (1e300) are floats: float64 holds them as read.
    integral = bool(finite.size == values.size and np.all(finite == np.rint(finite))
                    and (finite.size == 0 or np.abs(finite).max() <= FLOAT64_MAX_EXACT_INT))
    low = int(finite.min()) if finite.size and integral else 0
    high = int(finite.max()) if finite.size and integral else 0
    with np.errstate(over="ignore"):
        as32 = values.astype(np.float32)
    exact32 = (as32.astype(np.float64) == values) | np.isnan(values)
    if not exact32.all():
        rest = ~exact32
        exact32[rest] = _decimal_digits_fit(values[rest], 6, 3.4e38, 1.18e-38)
    with np.errstate(over="ignore"):
        as16 = values.astype(np.float16)
    exact16 = (as16.astype(np.float64) == values) | np.isnan(values)
    if not exact16.all():
        rest = ~exact16
        exact16[rest] = _decimal_digits_fit(values[rest], 3, 65504.0, 6.11e-5)
    return ValueRange(
        integral=integral,
        low=low,
        high=high,
        float32_exact=bool(exact32.all()),
        float16_exact=bool(exact16.all()),
        empty=False,
    )


def smallest_dtype(vr: ValueRange) -> np.dtype:
    """The smallest dtype that holds every value summarised by ``vr`` exactly."""
    if vr.empty:
        return np.dtype("uint8")
    if vr.integral:
        for name in INT_LADDER:
            info = np.iinfo(name)
            if info.min <= vr.low and vr.high <= info.max:
                return np.dtype(name)
    if vr.float32_exact:
        return np.dtype("float32")
    return np.dtype("float64")


def holds(dtype: np.dtype, vr: ValueRange) -> bool:
    """Whether ``dtype`` holds every value summarised by ``vr`` exactly."""
    if vr.empty:
        return True
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return vr.integral and info.min <= vr.low and vr.high <= info.max
    if dtype == np.float16:
        return vr.float16_exact
    if dtype == np.float32:
        return vr.float32_exact
    # low/high span every integral block, also when other blocks held decimals
    return max(-vr.low, vr.high) <= FLOAT64_MAX_EXACT_INT


def unrepresentable(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Boolean mask of the values that ``dtype`` cannot hold exactly."""
    if values.dtype.kind in "iu" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return (values < info.min) | (values > info.max)
    v = np.asarray(values, dtype=np.float64)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return ~np.isfinite(v) | (v != np.rint(v)) | (v < info.min) | (v > info.max)
    if dtype == np.float64:
        return np.zeros(v.shape, dtype=bool)
    with np.errstate(over="ignore"):
        back = v.astype(dtype).astype(np.float64)
    bad = (back != v) & ~np.isnan(v)
    if bad.any():
        digits, limit, tiny = (6, 3.4e38, 1.18e-38) if dtype == np.float32 else (3, 65504.0, 6.11e-5)
        bad[bad] = ~_decimal_digits_fit(v[bad], digits, limit, tiny)
    return bad


def stands_for_its_text(values: np.ndarray) -> np.ndarray:
    """Where float16/float32 ``values`` stand for their shortest decimal text, not their exact value.

    A narrow float type holds a value either exactly or because the value has few
    significant digits (0.1, by the rule of ``value_range``). A value whose shortest
    text has more digits than that was held exactly: 2**27 prints as 1.3421773e+08.
    """
    digits, limit, tiny = (6, 3.4e38, 1.18e-38) if values.dtype == np.float32 else (3, 65504.0, 6.11e-5)
    return _decimal_digits_fit(values.astype(str).astype(np.float64), digits, limit, tiny)


def chunk_rows_for(num_features: int, itemsize: int, requested: int | None = None) -> int:
    """Rows per chunk: the requested number, or about CHUNK_BYTES of rows."""
    if requested is not None:
        return requested
    return max(1, CHUNK_BYTES // max(1, num_features * itemsize))


def check_sample_shape(sample_shape: Sequence[int] | None, num_features: int) -> None:
    """Raise unless ``sample_shape`` multiplies to the feature count."""
    if sample_shape is None:
        return
    size = math.prod(sample_shape)
    if size != num_features:
        shape = ",".join(map(str, sample_shape))
        raise SchemaError(
            f"--sample-shape {shape} holds {size} values but rows have {num_features} features;"
            " the dimensions must multiply to the feature count"
        )


def class_code_dtype(num_classes: int) -> np.dtype:
    """Smallest unsigned type for codes 0..num_classes-1."""
    for name in ("uint8", "uint16", "uint32"):
        if num_classes - 1 <= np.iinfo(name).max:
            return np.dtype(name)
    return np.dtype("int64")

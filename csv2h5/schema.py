"""Pure policy: column roles, exact dtype inference and widening, chunk shape.

Nothing here reads or writes files; everything is a function of its arguments.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Sequence

import numpy as np

from .errors import BadValueError, OptionError, SchemaError, column_not_found, excerpt

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
    datetime: tuple[int, ...] = ()  # positions in the CSV of ISO-8601 date columns; each also in ``features``
    categorical_auto: bool = False  # every other column of text cells becomes categorical too

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
                raise OptionError(f"{option} {selector} is out of range: the input has {len(names)} columns (0-{len(names) - 1})")
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
    datetime: Sequence[str] = (),
    header: bool = True,
) -> ColumnRoles:
    """Decide the role of every column from the user's selectors (``categorical`` may hold "auto")."""
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
    auto = "auto" in categorical
    cat_idx = _select([c for c in categorical if c != "auto"], names, option="--categorical", header=header)
    date_idx = _select(datetime, names, option="--datetime", header=header)
    for option, chosen in (("--categorical", cat_idx), ("--datetime", date_idx)):
        for i in (i for i in chosen if i not in feature_idx):
            why = "it is --target" if i in target_idx else "--drop leaves it out" if i in drop_idx else "--features leaves it out"
            raise OptionError(f"{option} {names[i]!r} is not a feature column ({why})")
    both = [names[i] for i in date_idx if i in cat_idx]
    if both:
        raise OptionError(f"column {both[0]!r} is both --categorical and --datetime; pick one")
    return ColumnRoles(tuple(names), tuple(feature_idx), tuple(target_idx), tuple(cat_idx), tuple(date_idx), auto)


# --------------------------------------------------------------------------- dtypes


@dataclasses.dataclass(frozen=True, slots=True)
class ValueRange:
    """What a set of numbers needs to be stored exactly.

    ``integral`` numbers are tracked by their exact range; anything else by
    whether float32 / float16 hold every value. float32 holds a set of numbers
    when one reading gives every value back: either every value *equals* its
    float32 (``float32_equal``: a float32 written out in full, such as
    ``1.000000014901161194e-01``), or every value is the *shortest decimal* of
    its float32 (``float32_shortest``: at most 6 significant digits, such as
    ``0.1``). The two readings differ for the same float32 (0.1 and
    0.100000001490116...), so a set that needs both is stored as float64.
    float16 holds a value read either way (3 significant digits); it is only
    ever asked for with ``--dtype float16``.
    """

    integral: bool = True
    low: int = 0  # exact integer range (meaningful when any value is integral)
    high: int = 0
    float32_equal: bool = True  # float64(float32(x)) == x for every value
    float32_shortest: bool = True  # every value is its float32's shortest decimal (<= 6 significant digits)
    float16_exact: bool = True
    empty: bool = True  # no values seen yet

    @property
    def float32_exact(self) -> bool:
        """Whether float32 holds every value, read back one way for all."""
        return self.float32_equal or self.float32_shortest

    def merge(self, other: ValueRange) -> ValueRange:
        if self.empty:
            return other
        if other.empty:
            return self
        return ValueRange(
            integral=self.integral and other.integral,
            low=min(self.low, other.low),
            high=max(self.high, other.high),
            float32_equal=self.float32_equal and other.float32_equal,
            float32_shortest=self.float32_shortest and other.float32_shortest,
            float16_exact=self.float16_exact and other.float16_exact,
            empty=False,
        )


_SAMPLE = 256  # values checked first, so that a set failing a costly test fails fast


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


def shortest_decimal_of_float32(values: np.ndarray) -> np.ndarray:
    """True where a value is the shortest decimal of its float32: at most 6 significant digits,
    or a whole number up to 2**24 (float32 prints those back in full)."""
    ok = _decimal_digits_fit(values, 6, 3.4e38, 1.18e-38)
    rest = ~ok
    if rest.any():
        x = values[rest]
        ok[rest] = (x == np.rint(x)) & (np.abs(x) <= FLOAT32_MAX_EXACT_INT)
    return ok


def _in_float16(values: np.ndarray) -> np.ndarray:
    """True where float16 holds a value, read either way (the float16 itself, or 3 significant digits)."""
    with np.errstate(over="ignore"):
        ok = (values.astype(np.float16).astype(np.float64) == values) | np.isnan(values)
    rest = ~ok
    if rest.any():
        ok[rest] = _decimal_digits_fit(values[rest], 3, 65504.0, 6.11e-5)
    return ok


def _all_of(test, values: np.ndarray) -> bool:
    """Whether ``test`` holds for every value of a 2-D block (its first rows first: most sets that fail, fail early).

    The block may be in either memory order: the tests work element by element.
    """
    head = max(1, _SAMPLE // max(1, values.shape[1]))
    if not test(values[:head]).all():
        return False
    return bool(test(values[head:]).all())


def _whole(values: np.ndarray) -> np.ndarray:
    return values == np.rint(values)


def _float32_equal(values: np.ndarray) -> np.ndarray:
    """True where a value equals its float32 (float64(float32(x)) == x), or is NaN."""
    with np.errstate(over="ignore"):
        equal = values.astype(np.float32) == values
    return equal if equal.all() else equal | np.isnan(values)


def value_range(values: np.ndarray) -> ValueRange:
    """Summarise a numeric array (int or float, NaN allowed) as a ValueRange."""
    if values.size == 0:
        return ValueRange()
    if values.dtype.kind in "iu":
        low, high = int(values.min()), int(values.max())
        in_float32 = max(-low, high) <= FLOAT32_MAX_EXACT_INT
        return ValueRange(
            integral=True,
            low=low,
            high=high,
            float32_equal=in_float32,
            float32_shortest=in_float32,
            float16_exact=max(-low, high) <= FLOAT16_MAX_EXACT_INT,
            empty=False,
        )
    values = np.asarray(values, dtype=np.float64)
    values = values.reshape(values.shape[0], -1) if values.ndim != 2 else values  # rows of a block, in any memory order
    low, high = values.min(), values.max()  # both NaN where some value is: a NaN is no whole number
    finite = bool(np.isfinite(low) and np.isfinite(high))
    # Huge whole numbers read as floats (1e300) are floats: float64 holds them as read.
    integral = finite and max(-low, high) <= FLOAT64_MAX_EXACT_INT and _all_of(_whole, values)
    float32_equal = _all_of(_float32_equal, values)
    # Both tests below pass NaN and infinities: only finite values decide.
    float32_shortest = _all_of(shortest_decimal_of_float32, values)
    # float16 holds a subset of what float32 holds
    float16_exact = (float32_equal or float32_shortest) and _all_of(_in_float16, values)
    return ValueRange(
        integral=integral,
        low=int(low) if integral else 0,
        high=int(high) if integral else 0,
        float32_equal=float32_equal,
        float32_shortest=float32_shortest,
        float16_exact=float16_exact,
        empty=False,
    )


# The values of the /features attribute layout.FLOAT32_VALUES of float32 files: how each stored
# float32 reads back as its CSV value: "exact" (the value is the float32 itself, e.g. written
# with %.18e), "shortest decimal" (the value is the float32's shortest decimal, e.g. 0.1), or both.
_EQUAL, _SHORTEST = "exact", "shortest decimal"


def float32_readings(vr: ValueRange) -> str:
    """The layout.FLOAT32_VALUES attribute for float32 features summarised by ``vr``."""
    return ", ".join(name for name, ok in ((_EQUAL, vr.float32_equal), (_SHORTEST, vr.float32_shortest)) if ok)


def float32_range(readings: object) -> ValueRange:
    """A ValueRange for stored float32 features, from their layout.FLOAT32_VALUES attribute (None: absent)."""
    # Files from before the attribute stored float32 for decimals of up to 6 significant digits.
    names = str(readings or _SHORTEST).split(", ")
    return ValueRange(
        integral=False, float32_equal=_EQUAL in names, float32_shortest=_SHORTEST in names, float16_exact=False, empty=False
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


def past_exact(values: np.ndarray) -> np.ndarray | None:
    """Mask of the values of 2**53 or more in magnitude, infinities too (None: there are none): read as float64, such
    a number may be the rounding of the one written (9007199254740993.0 reads as 2**53; 400 nines overflow to inf)."""
    if values.size == 0:
        return None
    low, high = values.min(), values.max()  # NaN in either: check value by value below
    if -FLOAT64_MAX_EXACT_INT < low and high < FLOAT64_MAX_EXACT_INT:
        return None
    magnitude = np.abs(values)
    past = magnitude >= FLOAT64_MAX_EXACT_INT  # NaN compares false
    return past if past.any() else None


def unrepresentable(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Boolean mask of the values that ``dtype`` cannot hold exactly."""
    if values.dtype.kind in "iu" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return (values < info.min) | (values > info.max)
    v = np.asarray(values, dtype=np.float64)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # float(info.max) + 1: int64's top, 2**63 - 1, reads as 2**63 in float64, so "> max" would let 2**63 in
        return ~np.isfinite(v) | (v != np.rint(v)) | (v < info.min) | (v >= float(info.max) + 1.0)
    if dtype == np.float64:
        return np.zeros(v.shape, dtype=bool)
    with np.errstate(over="ignore"):
        back = v.astype(dtype).astype(np.float64)
    bad = (back != v) & ~np.isnan(v)
    if bad.any():
        digits, limit, tiny = (6, 3.4e38, 1.18e-38) if dtype == np.float32 else (3, 65504.0, 6.11e-5)
        bad[bad] = ~_decimal_digits_fit(v[bad], digits, limit, tiny)
    return bad


def chunk_rows_for(num_features: int, itemsize: int, requested: int | None = None) -> int:
    """Rows per chunk: the requested number, or about CHUNK_BYTES of rows."""
    if requested is not None:
        return requested
    return max(1, CHUNK_BYTES // max(1, num_features * itemsize))


def check_sample_shape(sample_shape: Sequence[int] | None, num_features: int, *, target: bool = True) -> None:
    """Raise unless ``sample_shape`` multiplies to the feature count (``target``: whether a target was taken out)."""
    if sample_shape is None:
        return
    size = math.prod(sample_shape)
    if size != num_features:
        shape = ",".join(map(str, sample_shape))
        label = "; if one of them is the label, pass --target NAME" if size == num_features - 1 and not target else ""
        raise SchemaError(
            f"--sample-shape {shape} holds {size} values but rows have {num_features} features;"
            f" the dimensions must multiply to the feature count{label}"
        )


def class_code_dtype(num_classes: int) -> np.dtype:
    """Smallest unsigned type for codes 0..num_classes-1."""
    for name in ("uint8", "uint16", "uint32"):
        if num_classes - 1 <= np.iinfo(name).max:
            return np.dtype(name)
    return np.dtype("int64")


def check_storable_text(values: Sequence[str], *, column: str) -> None:
    """Raise unless every text value can be an HDF5 string (they end at a NUL byte)."""
    for value in values:
        if "\x00" in value:
            raise BadValueError(
                f"column {column!r} has {excerpt(value)!r}, which holds a NUL byte that HDF5 text cannot store;"
                f" is the file binary, or UTF-16 text (pass --encoding utf-16)? Or leave it out: --drop {column}"
            )


def check_category_name(name: str) -> None:
    """Raise unless a categorical column's name can name its vocabulary, /categories/<name>, in HDF5."""
    if "/" in name or name in (".", ".."):  # "/" would nest groups; "." names the group itself
        raise SchemaError(
            f"column {name!r} holds text to store as codes, but its name cannot name its vocabulary in the"
            f" file (/categories/{name}: HDF5 paths take no '/', '.' or '..' as a name); rename it in the header"
            " (or pass --no-header --names ...), or --drop it"
        )

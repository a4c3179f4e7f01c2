"""``convert NEW.csv --like OLD.h5``: a new part follows an existing file.

The new file takes OLD.h5's column roles (feature columns in OLD.h5's order,
target; categorical, boolean and datetime columns), its task, sample shape and ``--fill``, starts from its dtype
(widening, as ``--append`` does, only if new values need it), and codes every
class label and categorical value OLD.h5 knows with OLD.h5's code; values new
in NEW.csv get codes after the known ones (the rule of :mod:`csv2h5.vocabulary`).
Parts converted this way read as one, or merge, without any remapping.

Columns: NEW.csv must hold every feature column of OLD.h5 (an error names the
first one missing). Columns OLD.h5 does not store are left out, with a
warning. Without OLD.h5's target column NEW.csv converts without a target
(for ``h5train predict``), with a warning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import HeaderMismatchError
from .kinds import StoredKinds
from .layout import open_header
from .schema import ColumnRoles, ValueRange, resolve_columns, value_range


@dataclasses.dataclass(frozen=True)
class Template:
    """What a new part takes from an existing csv2h5 file."""

    path: Path
    features: list[str]
    target: list[str]
    task: str | None
    classes: list[object]  # index = code
    vocabularies: dict[str, list[str]]  # categorical column -> its values, index = code
    dtype: np.dtype
    sample_shape: tuple[int, ...] | None
    booleans: list[str] = dataclasses.field(default_factory=list)  # feature columns of true/false
    datetimes: list[str] = dataclasses.field(default_factory=list)  # feature columns of ISO-8601 dates
    fill: float | None = None  # what empty feature cells were stored as (--fill); None: NaN

    def kinds(self) -> StoredKinds:
        """The kind of every feature column, which the new part keeps."""
        return StoredKinds(str(self.path), frozenset(self.vocabularies), frozenset(self.booleans), frozenset(self.datetimes))

    def roles(self, names: Sequence[str], *, source: str) -> tuple[ColumnRoles, list[str]]:
        """The column roles of a CSV with header ``names``, and warnings about the columns that differ."""
        missing = [name for name in self.features if name not in names]
        if missing:
            raise HeaderMismatchError(
                f"{source} has no column {missing[0]!r}, which {self.path} stores as a feature"
                f" ({len(missing)} missing in all); --like needs every feature column of {self.path}:"
                " add the column, or convert without --like"
            )
        target = [name for name in self.target if name in names]
        if target and target != self.target:
            raise HeaderMismatchError(
                f"{source} has target column {target[0]!r} but not "
                f"{[t for t in self.target if t not in target][0]!r}, which {self.path} also has"
            )
        warnings = []
        if self.target and not target:
            warnings.append(
                f"{source} has no target column {self.target[0]!r} like {self.path}: "
                "converted without /target (enough for h5train predict)"
            )
        extra = [name for name in names if name not in self.features and name not in self.target]
        if extra:
            shown = ", ".join(map(repr, extra[:5])) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
            warnings.append(f"{source} has columns {self.path} does not store, left out: {shown}")
        # Names, not globs or indices: every selector is an exact header name, matched first.
        roles = resolve_columns(
            names, target=target, features=self.features, categorical=list(self.vocabularies), datetime=self.datetimes
        )
        return roles, warnings

    def floor(self) -> ValueRange:
        """The value range whose smallest dtype is the template's: where ``--dtype auto`` starts."""
        if self.dtype.kind in "iu":
            info = np.iinfo(self.dtype)
            return value_range(np.array([info.min, info.max], dtype=np.int64))
        wide = self.dtype.itemsize > 4
        # no values yet, so neither reading of float32 is ruled out: only the dtype is a floor
        return ValueRange(integral=False, float32_equal=not wide, float32_shortest=not wide, float16_exact=False, empty=False)


def read_template(path: str | Path) -> Template:
    """Read what ``--like path`` takes from a finished csv2h5 file."""
    header = open_header(path)
    target = header.target
    return Template(
        path=Path(path),
        features=header.columns,
        target=target.columns if target is not None else [],
        task=header.task,
        classes=header.classes,
        vocabularies=header.vocabularies,
        dtype=header.dtype,
        sample_shape=header.sample_shape,
        booleans=header.booleans,
        datetimes=header.datetimes,
        fill=header.fill,
    )

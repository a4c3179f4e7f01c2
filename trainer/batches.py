"""Finishing a batch: a sequence's raw rows filled, scaled, shaped and paired with their targets.

``BatchFinisher`` turns the values read for some file rows into what
``HDF5Sequence.read_batch`` returns: ``(x, y)``, ``(x, y, sample_weight)`` or
``x``. It holds no file handle, so it pickles with the sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from csv2h5.layout import CLASS_COUNTS

from .errors import DataOptionError
from .fileinfo import FileInfo
from .preprocess import BatchPreprocessor


class BatchFinisher:
    """What is done to every batch after it is read, settled once from the file and the options."""

    def __init__(
        self,
        info: FileInfo,
        *,
        targets: bool,
        one_hot: bool,
        scale: str | None,
        missing: str | None,
        sample_shape: Sequence[int] | None,
        class_weight: str | Mapping[object, float] | None,
        transform: Callable | None,
        weighed_rows: np.ndarray | None = None,
    ) -> None:
        self.info = info
        prepare = BatchPreprocessor(info, scale=scale, missing=missing)
        self.prepare = prepare if prepare.active else None
        self.targets, self.one_hot, self.sample_shape, self.transform = targets, one_hot, sample_shape, transform
        self.sample_weights = class_weights(class_weight, info, weighed_rows) if targets else None

    def __call__(self, x: np.ndarray, targets: np.ndarray | None):
        """Fill, scale and shape a batch's values ``x`` and pair them with ``targets`` (the stored targets of
        its rows), as ``read_batch`` returns them."""
        if self.prepare is not None:
            if x.dtype.kind != "f":  # filled and scaled values need a float array
                x = x.astype(np.float32)
            x = self.prepare(x)
        if self.sample_shape is not None:
            x = x.reshape((x.shape[0],) + tuple(self.sample_shape))
        if not self.targets:
            return x if self.transform is None else self.transform(x, None)[0]
        if self.info.task == "classification":
            codes = targets.astype(np.int32)  # a copy: the epoch's targets are shared, never handed out
            y = np.eye(len(self.info.classes), dtype=np.float32)[codes] if self.one_hot else codes
            weights = self.sample_weights[codes] if self.sample_weights is not None else None
        else:
            y = targets.astype(np.float32)  # a copy, as above
            weights = None
        if self.transform is not None:
            x, y = self.transform(x, y)
        return (x, y) if weights is None else (x, y, weights)


class OneHotTo:
    """A ``transform`` one-hot coding class codes over ``width`` classes (picklable, for loader processes).

    For a file whose classes are a leading subset of the training data's (codes that match, as
    :func:`.predict.check_like_training` checks): ``one_hot=True`` would code them over its own, fewer classes.
    """

    def __init__(self, width: int) -> None:
        self.width = width

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x, np.eye(self.width, dtype=np.float32)[y]


def one_hot_options(one_hot: bool, info: FileInfo, width: int | None) -> dict[str, object]:
    """``HDF5Sequence`` options that give the targets of ``info`` one-hot over ``width`` classes when ``one_hot``."""
    if not one_hot or info.task != "classification" or width is None or len(info.classes) >= width:
        return {"one_hot": one_hot}
    return {"one_hot": False, "transform": OneHotTo(width)}


def class_weights(
    class_weight: str | Mapping[object, float] | None, info: FileInfo, rows: np.ndarray | None = None
) -> np.ndarray | None:
    """A weight per class code for ``class_weight`` (``"balanced"``: from the class counts of ``rows``, None: every row)."""
    if class_weight is None:
        return None
    if info.task != "classification":
        raise DataOptionError("class_weight needs a classification target")
    k = len(info.classes)
    if class_weight == "balanced":
        counts = info.stats.get(CLASS_COUNTS) if rows is None else None
        if counts is None:
            codes = info.target if rows is None else info.target[rows]
            counts = np.bincount(codes.astype(np.intp), minlength=k)
        return balanced_weights(counts)
    if isinstance(class_weight, Mapping):
        weights = np.ones(k, dtype=np.float32)
        for key, code in _class_codes(list(class_weight), info.classes, named=info.named).items():
            weights[code] = _weight(key, class_weight[key])
        return weights
    raise DataOptionError(f"class_weight must be 'balanced' or a dict, got {class_weight!r}")


def balanced_weights(counts: np.ndarray) -> np.ndarray:
    """scikit-learn's ``compute_class_weight("balanced")`` over the classes that have rows:
    rows / (classes with rows * rows of the class). A class without rows weighs nothing it could change: 1."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.ones(len(counts))
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights.astype(np.float32)


def _class_codes(keys: list[object], classes: list[object], *, named: str) -> dict[object, int]:
    """The class code each key of a ``class_weight`` dict names: a class label (as in ``info.classes``, or a
    number label written as text, ``"1"``) or a class code 0..K-1.

    A key that is a label and the code of another class (labels 1, 2, 3 are codes 0, 1, 2: key 1) is read as
    the other keys are: as a label if some key is a label only, as a code if some key is a code only; a dict
    that does not tell is refused, as is a key that is neither, or two keys of one class.
    """
    readings = {key: (_label_code(key, classes), _code(key, len(classes))) for key in keys}
    labels_only = any(code is None for label, code in readings.values() if label is not None)
    codes_only = any(label is None for label, code in readings.values() if code is not None)
    found: dict[object, int] = {}
    for key, (label, code) in readings.items():
        if label is None and code is None:
            raise DataOptionError(
                f"class_weight has class {key!r}, which is neither a class label nor a class code of {named} ({_shown(classes)})"
            )
        if label is not None and code is not None and label != code and labels_only == codes_only:
            others = "the other keys mix labels and codes" if labels_only else "no other key says which"
            permuted = set(map(_code_of_label, classes)) == set(range(len(classes)))  # no code is free of labels
            raise DataOptionError(
                f"class_weight key {key!r} may be the label {classes[label]!r} (code {label}) or the code {code}"
                f" (label {classes[code]!r}), and {others}; write the label as text ({str(classes[label])!r}: ...)"
                f"{'' if permuted else ', or give every class a weight by code'} ({_shown(classes)})"
            )
        found[key] = label if label is not None and (code is None or labels_only) else code
    for key, code in found.items():
        other = next((k for k, c in found.items() if c == code and k is not key), None)
        if other is not None:
            raise DataOptionError(f"class_weight gives class {classes[code]!r} (code {code}) two weights: {key!r} and {other!r}")
    return found


def _label_code(key: object, classes: list[object]) -> int | None:
    """The code of the class whose label ``key`` is (a number label also as text), None if none."""
    for code, label in enumerate(classes):
        if isinstance(key, (bool, np.bool_)) != isinstance(label, (bool, np.bool_)):
            continue  # True is 1 to Python, not to a user
        if _same(key, label) or (isinstance(key, str) and not isinstance(label, str) and key == str(label)):
            return code
    return None


def _same(key: object, label: object) -> bool:
    try:
        return bool(key == label)
    except (TypeError, ValueError):  # an array as a key
        return False


def _code(key: object, count: int) -> int | None:
    """``key`` as a class code 0..count-1 (an integer, or a whole float: np.unique of codes gives those), else None."""
    whole = isinstance(key, (int, np.integer)) or (isinstance(key, (float, np.floating)) and float(key).is_integer())
    return int(key) if whole and not isinstance(key, (bool, np.bool_)) and 0 <= key < count else None


def _code_of_label(label: object) -> object:
    return label if isinstance(label, str) else _code(label, 1 << 62)


def _shown(classes: list[object]) -> str:
    return (
        "classes: "
        + ", ".join(f"code {c} is {label!r}" for c, label in enumerate(classes[:10]))
        + (", ..." if len(classes) > 10 else "")
    )


def _weight(code: object, weight: object) -> float:
    try:
        value = float(weight)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(weight, bool) or not np.isfinite(value) or value < 0:
        raise DataOptionError(f"class_weight of class {code!r} must be a number 0 or more, got {weight!r}")
    return value

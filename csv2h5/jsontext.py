"""JSON text that strict parsers accept: a number that is not finite is written as ``null``.

Python's ``json`` writes NaN and infinities as the bare words ``NaN`` and
``Infinity``, which are not JSON: ``jq``, JavaScript's ``JSON.parse``, Go and
Rust reject the whole document. A metric of a diverged model, the mean of an
all-empty column or a stored maximum of ``inf`` are all real values here, so
every JSON file and ``--json`` output goes through ``dumps``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def finite(value: object) -> object:
    """``value`` with every NaN or infinity (Python or numpy, at any depth) replaced by None.

    numpy scalars and arrays become plain Python numbers and lists, so they are
    written as numbers rather than by a ``default=`` fallback.
    """
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value: object, **kwargs: Any) -> str:
    """``json.dumps`` of ``value`` with non-finite numbers as ``null`` (strict JSON, never ``NaN``)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)

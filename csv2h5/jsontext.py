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


def finite(value: object, *, infinities: bool = False) -> object:
    """``value`` with every NaN or infinity (Python or numpy, at any depth) replaced by None.

    With ``infinities`` an infinity becomes the string ``"inf"`` or ``"-inf"`` instead
    (NaN stays None), for output where a diverged number must not pass for a missing one.
    numpy scalars and arrays become plain Python numbers and lists, so they are
    written as numbers rather than by a ``default=`` fallback.
    """
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isinf(number) and infinities:
            return "inf" if number > 0 else "-inf"
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return finite(value.tolist(), infinities=infinities)
    if isinstance(value, Mapping):
        return {key: finite(item, infinities=infinities) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item, infinities=infinities) for item in value]
    return value


def dumps(value: object, *, infinities: bool = False, **kwargs: Any) -> str:
    """``json.dumps`` of ``value`` with non-finite numbers as ``null`` (strict JSON, never ``NaN``); with
    ``infinities``, infinities as the strings ``"inf"`` and ``"-inf"`` (see ``finite``)."""
    return json.dumps(finite(value, infinities=infinities), allow_nan=False, **kwargs)

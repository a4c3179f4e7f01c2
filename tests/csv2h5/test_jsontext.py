"""Strict JSON: numbers that are not finite are written as null, never as the non-JSON words NaN/Infinity."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert, jsontext
from csv2h5.cli import app


def strict_loads(text: str) -> object:
    """json.loads as strict parsers (jq, JSON.parse) read it: NaN, Infinity and -Infinity are errors."""

    def refuse(word: str) -> object:
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_strict_loads_refuses_what_json_dumps_writes_by_default():
    with pytest.raises(ValueError, match="not JSON: NaN"):
        strict_loads(json.dumps({"loss": float("nan")}))


def test_dumps_writes_null_for_every_non_finite_number_at_any_depth():
    value = {
        "loss": float("nan"),
        "inf": math.inf,
        "ninf": -math.inf,
        "f32": np.float32("nan"),
        "array": np.array([1.5, np.inf]),
        "nested": [{"x": (np.float64(-np.inf), 2)}],
        "count": np.int64(3),
        "flag": np.bool_(True),
        "fine": 0.25,
        "text": "NaN",
    }
    assert strict_loads(jsontext.dumps(value)) == {
        "loss": None,
        "inf": None,
        "ninf": None,
        "f32": None,
        "array": [1.5, None],
        "nested": [{"x": [None, 2]}],
        "count": 3,
        "flag": True,
        "fine": 0.25,
        "text": "NaN",
    }


def test_info_json_of_a_file_with_infinite_and_empty_values_is_strict(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("a,b,label\n1.5,inf,0\n2.5,,1\n,3,0\n")
    out = tmp_path / "t.h5"
    convert([src], out, options=ConvertOptions(target=("label",)))
    result = CliRunner().invoke(app, ["info", str(out), "--json"])
    assert result.exit_code == 0, result.output
    stats = strict_loads(result.stdout)["stats"]
    assert stats["max"] == [2.5, None] and stats["mean"] == [2.0, None]  # b's max and mean are inf
    assert stats["min"] == [1.5, 3.0]

"""One character given two meanings (--comment, --delimiter, --decimal, the quote) is refused, naming both options."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--comment", ","], "--comment ',' is also the delimiter:"),  # the default delimiter
        (["--comment", ";", "--delimiter", ";"], "--comment ';' is also the delimiter:"),
        (["--delimiter", ".", "--decimal", "."], "--decimal '.' is also the delimiter:"),
        (["--comment", ".", "--decimal", "."], "--comment '.' is also the decimal mark:"),
        (["--comment", ",", "--decimal", ",", "--delimiter", ";"], "--comment ',' is also the decimal mark:"),
        (["--comment", '"'], "--comment '\"' is also the quote character"),
    ],
)
def test_one_character_with_two_meanings_is_refused(tmp_path, options, said):
    src, out = tmp_path / "m1.csv", tmp_path / "c.h5"
    src.write_text("a,b\n1,2\n3,4\n")
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), *options])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {said}"), result.output
    assert not out.exists()


def test_decimal_commas_in_quotes_beside_the_comma_delimiter_still_read(tmp_path):
    # Not a conflict: a decimal comma inside quotes is read as pandas reads it (README: delimiters and decimal commas).
    src, out = tmp_path / "q.csv", tmp_path / "q.h5"
    src.write_text('a,b\n"70,5",1\n"2,25",2\n')
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--decimal", ",", "--delimiter", ","])
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["features"][()], pd.read_csv(src, decimal=",").to_numpy(dtype=np.float32))

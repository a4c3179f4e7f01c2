"""An output path naming a directory is refused in one line; summaries say 1 row, 1 feature, 1 class."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from csv2h5 import ConvertOptions, convert
from csv2h5.cli import app
from csv2h5.errors import OutputError, counted
from csv2h5.merge import merge

runner = CliRunner()


@pytest.mark.parametrize("ending", [os.sep, os.sep + "."])  # Path("newdir/.") would be newdir
@pytest.mark.parametrize("command", ["convert", "merge"])
@pytest.mark.parametrize("exists", [False, True])
def test_an_output_ending_in_a_separator_is_refused_and_nothing_is_written(tmp_path, command, exists, ending):
    src = tmp_path / "m1.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    parts = []
    if command == "merge":
        for name in ("p1.h5", "p2.h5"):
            convert(src, tmp_path / name)
            parts.append(str(tmp_path / name))
    if exists:
        (tmp_path / "newdir").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    out = str(tmp_path / "newdir") + ending
    args = ["convert", str(src)] if command == "convert" else ["merge", *parts]
    result = runner.invoke(app, [*args, "-o", out])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {out} names a directory"), result.output
    assert f"such as {out if out.endswith(os.sep) else out + os.sep}" in lines[0] and lines[0].endswith(".h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no file named newdir
    with pytest.raises(OutputError, match="names a directory"):
        if command == "convert":
            convert(src, out)
        else:
            merge(parts, out)


def test_summaries_say_one_in_the_singular(tmp_path):
    src, out = tmp_path / "one.csv", tmp_path / "one.h5"
    src.write_text("a,y\n1,x\n")
    assert (
        convert(src, out, options=ConvertOptions(target=("y",)))
        .summary()
        .startswith("wrote 1 row x 1 feature (uint8), target y (classification, 1 class) to")
    )
    plain = tmp_path / "plain.h5"
    convert(src, plain, options=ConvertOptions(features=("a",)))
    appended = convert(src, plain, options=ConvertOptions(features=("a",), append=True))
    assert appended.summary().startswith("appended 1 row x 1 feature (uint8) to")
    (tmp_path / "two.csv").write_text("a,y\n1,x\n")
    convert(tmp_path / "two.csv", tmp_path / "two.h5", options=ConvertOptions(target=("y",)))
    merged = merge([out, tmp_path / "two.h5"], tmp_path / "m.h5")
    assert merged.summary().startswith("merged 2 files, 2 rows, 1 class, into")


def test_counted_plurals():
    assert [counted(1, "epoch"), counted(2, "epoch"), counted(2, "class", "classes")] == ["1 epoch", "2 epochs", "2 classes"]

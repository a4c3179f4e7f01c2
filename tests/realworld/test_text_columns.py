"""Text columns found at once, and columns whose kind is decided on the first rows.

Without ``--categorical auto`` one error lists every text column, with options
ready to paste; with it, text columns become codes unless they have more
distinct values than ``--max-categories``. A cell of another kind after the
rows that decided a column (text after numbers, say) stops the conversion,
whatever the block size: never a file stored half as numbers.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from csv2h5 import BadValueError, ConvertOptions, convert
from csv2h5.cli import app

runner = CliRunner()


def _convert(src: Path, out: Path, **options) -> object:
    return convert([src], out, options=ConvertOptions(workers=0, **options))


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _survey(path: Path, rows: int = 60) -> None:
    """Text columns in several places: city and answer from the first row, day (dates), note only at row 40."""
    lines = ["id,city,score,answer,day,note,label"]
    for i in range(rows):
        note = "late remark" if i == 40 else str(i)
        lines.append(
            f"{i},{['Paris', 'Lyon', 'Nice'][i % 3]},{i / 8},{['yes', 'no'][i % 2]},2024-01-{i % 28 + 1:02d},{note},{i % 2}"
        )
    path.write_text("\n".join(lines) + "\n")


def test_every_text_column_is_listed_at_once_with_options_ready_to_paste(tmp_path, stored):
    src = tmp_path / "survey.csv"
    _survey(src)
    result = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "out.h5"), "--target", "label", "--quiet"])
    assert result.exit_code == 2
    line = result.stderr.strip()
    # Split by what each column holds: categories, an identifier (note: a distinct value in every row), dates.
    assert line.startswith(
        f"error: {src}:2: column 'city' has 'Paris', which is not a number, and 3 more columns"
        " hold text (answer, day, note); pass --categorical city,answer --drop note --datetime day ("
    ), line
    assert "city, answer: text, stored as codes, or --drop city,answer;" in line and "day: ISO dates" in line
    assert "note: an identifier" in line
    assert _listing(tmp_path) == ["survey.csv"]
    # The suggestion, pasted, converts; the codes decode to pandas' text, the dates to pandas' seconds.
    pasted = shlex.split(line.split("; pass ")[1].split(" (")[0])
    result = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "out.h5"), "--target", "label", "--quiet", *pasted])
    assert result.exit_code == 0, result.stderr
    expected = pd.read_csv(src, dtype=str)
    got = stored(tmp_path / "out.h5")
    for name in ("city", "answer"):
        assert got.column(name) == expected[name].tolist(), name
    seconds = (pd.to_datetime(expected["day"]) - pd.Timestamp("1970-01-01")).dt.total_seconds()
    assert not got.mismatches("day", seconds.tolist())
    assert "note" not in got.vocabularies and "note" not in got.names


def test_names_that_need_quoting_are_quoted_for_the_shell(tmp_path):
    src = tmp_path / "odd.csv"
    src.write_text("first name,n,it's\nAda,1,x\nAlan,2,y\n")
    with pytest.raises(BadValueError, match=r"""pass --categorical 'first name,it'"'"'s' to store"""):
        _convert(src, tmp_path / "out.h5")


def test_categorical_auto_stores_every_text_column_and_says_which(tmp_path, stored):
    src = tmp_path / "survey.csv"
    _survey(src)
    result = runner.invoke(
        app,
        ["convert", str(src), "-o", str(tmp_path / "out.h5"), "--target", "label", "--categorical", "auto", "--datetime", "day"],
    )
    assert result.exit_code == 0, result.stderr
    assert "text stored as codes: city, answer, note" in result.stdout
    assert "dates stored as seconds since 1970 UTC: day" in result.stdout
    got = stored(tmp_path / "out.h5")
    assert sorted(got.vocabularies) == ["answer", "city", "note"]
    assert got.vocabularies["note"][40] == "late remark"  # values in order of appearance; numbers' text kept


def test_max_categories_refuses_an_identifier_and_naming_the_column_lifts_it(tmp_path, stored):
    src = tmp_path / "people.csv"
    src.write_text("name,age,group\n" + "".join(f"person {i},{20 + i % 50},{'abc'[i % 3]}\n" for i in range(40)))
    with pytest.raises(
        BadValueError,
        match=r"people\.csv:12: column 'name' has more than 10 distinct values"
        r" \(--max-categories\).*pass --drop name; or keep it as codes:"
        r" --categorical auto,name \(no bound\)",
    ):
        _convert(src, tmp_path / "out.h5", categorical=("auto",), max_categories=10, block_bytes=64)
    assert _listing(tmp_path) == ["people.csv"]
    _convert(src, tmp_path / "out.h5", categorical=("auto", "name"), max_categories=10, block_bytes=64)
    assert len(stored(tmp_path / "out.h5").vocabularies["name"]) == 40
    _convert(src, tmp_path / "out.h5", categorical=("auto",), max_categories=40, overwrite=True)


def _numbers_then(path: Path, cell: str, row: int, rows: int = 300) -> int:
    """A file of numbers with ``cell`` in column b at ``row``; returns that cell's line."""
    lines = ["a,b,c"] + [f"{i},{i * 2},{i % 3}" for i in range(rows)]
    lines[row + 1] = f"{row},{cell},1"
    path.write_text("\n".join(lines) + "\n")
    return row + 2


@pytest.mark.parametrize("block_bytes", [16, 64, 1000, 1 << 20])
@pytest.mark.parametrize("auto", [False, True])
def test_text_after_the_deciding_rows_is_an_error_whatever_the_block_size(tmp_path, block_bytes, auto):
    src = tmp_path / "late.csv"
    line = _numbers_then(src, "oops", row=250)
    categorical = ("auto",) if auto else ()
    with pytest.raises(BadValueError) as caught:
        _convert(src, tmp_path / "out.h5", block_bytes=block_bytes, infer_bytes=512, categorical=categorical)
    # The deciding rows are the whole lines in the first 512 bytes: lines 2-65 here.
    assert str(caught.value) == (
        f"{src}:{line}: column 'b' has 'oops', which is not a number, but the first rows (to line 65), which decide"
        f" each column's kind, held only numbers; pass --categorical {'auto,b' if auto else 'b'} to store the column"
        " as text codes from the first row, or --drop b"
    )
    assert _listing(tmp_path) == ["late.csv"]


@pytest.mark.parametrize("block_bytes", [16, 64, 1000, 1 << 20])
def test_text_among_the_deciding_rows_makes_a_categorical_column_whatever_the_block_size(tmp_path, stored, block_bytes):
    src = tmp_path / "early.csv"
    _numbers_then(src, "oops", row=50)
    _convert(src, tmp_path / "out.h5", block_bytes=block_bytes, infer_bytes=512, categorical=("auto",))
    expected = pd.read_csv(src, dtype={"b": str})
    got = stored(tmp_path / "out.h5")
    assert got.column("b") == expected["b"].tolist()  # "100", not 100.0: the text as written
    assert not got.mismatches("a", expected["a"].astype(float).tolist())


def test_a_column_empty_in_the_deciding_rows_takes_the_kind_of_its_first_values(tmp_path, stored):
    src = tmp_path / "sparse.csv"
    src.write_text("a,later\n" + "".join(f"{i},\n" for i in range(100)) + "".join(f"{i},word{i % 4}\n" for i in range(100)))
    _convert(src, tmp_path / "out.h5", block_bytes=64, infer_bytes=128, categorical=("auto",))
    expected = pd.read_csv(src, dtype={"later": str})
    assert stored(tmp_path / "out.h5").column("later") == [None if pd.isna(v) else v for v in expected["later"]]


def test_a_column_decided_after_the_first_rows_keeps_its_kind(tmp_path):
    src = tmp_path / "sparse.csv"
    src.write_text(
        "a,later\n" + "".join(f"{i},\n" for i in range(100)) + "".join(f"{i},{i}\n" for i in range(100)) + "100,word\n"
    )
    with pytest.raises(
        BadValueError,
        match=r"sparse\.csv:202: column 'later' has 'word', which is not a number, but its"
        r" cells from line \d+ on, which decided its kind, were only numbers",
    ):
        _convert(src, tmp_path / "out.h5", block_bytes=64, infer_bytes=128, categorical=("auto",))


def test_a_boolean_column_with_a_number_later_is_an_error(tmp_path):
    src = tmp_path / "flags.csv"
    src.write_text("a,flag\n" + "".join(f"{i},{'true' if i % 2 else 'False'}\n" for i in range(200)) + "200,1\n")
    with pytest.raises(
        BadValueError,
        match=r"flags\.csv:202: column 'flag' has '1', which is not true or false,"
        r" but the first rows \(to line \d+\), which decide each column's kind,"
        r" held only booleans \(true/false\)",
    ):
        _convert(src, tmp_path / "out.h5", block_bytes=64, infer_bytes=256)


@pytest.mark.parametrize("block_bytes", [16, 1 << 20])
@pytest.mark.parametrize("auto", [False, True])
def test_booleans_beside_other_text_is_an_error_naming_both_cells(tmp_path, block_bytes, auto):
    src = tmp_path / "mixed.csv"
    src.write_text("a,flag\n1,True\n2,false\n3,\n4,maybe\n5,TRUE\n")
    with pytest.raises(
        BadValueError,
        match=r"mixed\.csv:5: column 'flag' has 'maybe' beside booleans \(such as"
        r" 'True' at line 2\); a column holds booleans \(true/false\), numbers or"
        rf" text, not a mix: fix the cell, or pass --categorical {'auto,' * auto}flag",
    ):
        _convert(src, tmp_path / "out.h5", block_bytes=block_bytes, categorical=("auto",) if auto else ())


def test_booleans_beside_numbers_in_other_blocks_is_an_error(tmp_path):
    src = tmp_path / "mixed.csv"
    src.write_text("a,flag\n" + "".join(f"{i},{i % 2}\n" for i in range(50)) + "50,true\n")
    with pytest.raises(
        BadValueError,
        match=r"mixed\.csv:2: column 'flag' has '0' beside booleans \(such as 'true'"
        r" at line 52\)",
    ):
        _convert(src, tmp_path / "out.h5", block_bytes=32)


def test_a_named_categorical_column_keeps_booleans_and_numbers_as_text(tmp_path, stored):
    src = tmp_path / "mixed.csv"
    src.write_text("a,flag\n1,True\n2,maybe\n3,0\n")
    _convert(src, tmp_path / "out.h5", categorical=("flag",))
    assert stored(tmp_path / "out.h5").column("flag") == ["True", "maybe", "0"]


def test_parser_processes_decide_and_check_kinds_alike(tmp_path, stored):
    """Blocks parsed ahead in worker processes under the first rows' plan are read again where needed."""
    src = tmp_path / "survey.csv"
    _survey(src, rows=400)
    outs = []
    for workers in (0, 2):
        out = tmp_path / f"w{workers}.h5"
        convert(
            [src],
            out,
            options=ConvertOptions(
                workers=workers, block_bytes=256, infer_bytes=2048, target=("label",), categorical=("auto",), datetime=("day",)
            ),
        )
        outs.append(stored(out))
    assert outs[0].values.tobytes() == outs[1].values.tobytes() and outs[0].vocabularies == outs[1].vocabularies
    with pytest.raises(
        BadValueError,
        match=r"survey\.csv:42: column 'note' has 'late remark', which is not a number,"
        r" but the first rows \(to line \d+\)",
    ):
        convert(
            [src],
            tmp_path / "bad.h5",
            options=ConvertOptions(
                workers=2, block_bytes=256, infer_bytes=1024, target=("label",), categorical=("city", "answer"), datetime=("day",)
            ),
        )

"""Data in parts keeps each column's kind: --like, --append and merge take booleans, dates and text from the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from csv2h5 import BadValueError, ConvertOptions, HeaderMismatchError, OptionError, convert
from csv2h5.merge import merge


def _day(path: Path, day: int, flag: str = "true") -> Path:
    path.write_text(
        "visits,member,seen,city,label\n"
        + "".join(
            f"{i},{flag if i % 2 else 'False'},2024-03-{day:02d}T{i:02d}:00:00+01:00,"
            f"{['Oslo', 'Bergen', 'Tromsø'][(i + day) % 3]},{i % 2}\n"
            for i in range(12)
        )
    )
    return path


def _expected(*paths: Path) -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(p, dtype={"city": str}) for p in paths], ignore_index=True)
    frame["member"] = frame["member"].astype(float)
    stamps = pd.to_datetime(frame["seen"], utc=True, format="ISO8601")
    frame["seen"] = (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return frame


def _check(got, expected: pd.DataFrame) -> None:
    assert got.names_attr("boolean_columns") == ["member"] and got.names_attr("datetime_columns") == ["seen"]
    for name in ("visits", "member", "seen"):
        assert not got.mismatches(name, expected[name].astype(float).tolist()), name
    assert got.column("city") == expected["city"].tolist()


@pytest.fixture
def first(tmp_path: Path) -> Path:
    out = tmp_path / "day1.h5"
    convert(
        [_day(tmp_path / "day1.csv", 1)],
        out,
        options=ConvertOptions(target=("label",), categorical=("auto",), datetime=("seen",), workers=0),
    )
    return out


def test_like_takes_every_kind_from_the_file(tmp_path, first, stored):
    src = _day(tmp_path / "day2.csv", 2, flag="TRUE")
    convert([src], tmp_path / "day2.h5", options=ConvertOptions(like=first, workers=0))
    _check(stored(tmp_path / "day2.h5"), _expected(src))


def test_append_takes_every_kind_from_the_file(tmp_path, first, stored):
    src = _day(tmp_path / "day2.csv", 2)
    convert([src], first, options=ConvertOptions(target=("label",), append=True, workers=0))  # no --datetime needed
    _check(stored(first), _expected(tmp_path / "day1.csv", src))


def test_merge_keeps_the_kinds_and_refuses_parts_of_other_kinds(tmp_path, first, stored):
    src = _day(tmp_path / "day2.csv", 2)
    convert([src], tmp_path / "day2.h5", options=ConvertOptions(like=first, workers=0))
    merge([first, tmp_path / "day2.h5"], tmp_path / "all.h5")
    _check(stored(tmp_path / "all.h5"), _expected(tmp_path / "day1.csv", src))
    numbers = tmp_path / "numbers.h5"  # the same columns, member as 0/1 numbers and seen as text codes
    (tmp_path / "n.csv").write_text(src.read_text().replace("true", "1").replace("False", "0"))
    convert([tmp_path / "n.csv"], numbers, options=ConvertOptions(target=("label",), categorical=("auto",), workers=0))
    with pytest.raises(HeaderMismatchError, match=r"column 'member' holds booleans in .*day1\.h5 but not in .*numbers\.h5"):
        merge([first, numbers], tmp_path / "bad.h5")


def test_a_part_whose_cells_are_of_another_kind_is_refused(tmp_path, first):
    src = tmp_path / "day2.csv"
    src.write_text(_day(src, 2).read_text().replace("False", "0", 1))
    with pytest.raises(
        BadValueError,
        match=r"day2\.csv:2: column 'member' has '0', which is not true or false, but"
        r" .*day1\.h5 stores it as booleans \(true/false\)",
    ):
        convert([src], tmp_path / "day2.h5", options=ConvertOptions(like=first, workers=0))
    with pytest.raises(OptionError, match=r"day1\.h5 stores column 'visits' as numbers, so --categorical visits"):
        convert([src], first, options=ConvertOptions(target=("label",), categorical=("visits",), append=True))


def test_parts_read_as_one_refuse_parts_of_other_kinds_as_merge_does(tmp_path, first):
    from csv2h5.trainer import DataFileError
    from csv2h5.trainer.fileinfo import open_info

    src = _day(tmp_path / "day2.csv", 2)
    numbers = tmp_path / "numbers.h5"  # member as 0/1 numbers: the columns and vocabularies agree, the kinds do not
    (tmp_path / "n.csv").write_text(src.read_text().replace("true", "1").replace("False", "0"))
    convert(
        [tmp_path / "n.csv"],
        numbers,
        options=ConvertOptions(target=("label",), categorical=("city",), datetime=("seen",), workers=0),
    )
    with pytest.raises(
        DataFileError,
        match=r"column 'member' holds booleans in .*day1\.h5 but not in .*numbers\.h5;"
        r" files read as one must be converted alike \(csv2h5 convert --like",
    ):
        open_info([first, numbers])
    with pytest.raises(
        HeaderMismatchError,
        match=r"column 'member' holds booleans in .*day1\.h5 but not in .*numbers\.h5;"
        r" merge files converted alike",
    ):
        merge([first, numbers], tmp_path / "bad.h5")
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".h5") == ["day1.h5", "numbers.h5"]

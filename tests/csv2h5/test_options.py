"""Each reading option changes exactly what it says."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert
from csv2h5.errors import BadValueError, HeaderMismatchError, NotCsv2H5FileError, OptionError, SchemaError


def _features(path):
    with h5py.File(path, "r") as f:
        return f["features"][()], dict(f["features"].attrs), (f["target"][()] if "target" in f else None)


def test_no_header_with_index_target(tmp_path):
    src = tmp_path / "n.csv"
    src.write_text("1,2,7\n3,4,8\n")
    convert([src], tmp_path / "n.h5", options=ConvertOptions(header=False, target=("2",)))
    x, attrs, y = _features(tmp_path / "n.h5")
    assert x.tolist() == [[1, 2], [3, 4]] and list(attrs["columns"]) == ["c0", "c1"]
    with h5py.File(tmp_path / "n.h5") as f:
        assert list(f["target"].attrs["classes"]) == [7, 8] and list(f["target"].attrs["columns"]) == ["c2"]
    assert y.tolist() == [0, 1]


def test_names_delimiter_auto_comment_skip_rows(tmp_path):
    src = tmp_path / "o.csv"
    src.write_text("produced by a logger\n# comment line\n1;2;3\n4;5;6 # trailing\n")
    convert(
        [src],
        tmp_path / "o.h5",
        options=ConvertOptions(header=False, names=("a", "b", "c"), delimiter="auto", comment="#", skip_rows=1, drop=("b",)),
    )
    x, attrs, _ = _features(tmp_path / "o.h5")
    assert list(attrs["columns"]) == ["a", "c"] and x.tolist() == [[1, 3], [4, 6]]


def test_feature_globs_and_categorical(tmp_path):
    src = tmp_path / "c.csv"
    src.write_text('id,px1,px2,colour\n9,1,2,red\n9,3,4,"blue"\n9,5,6,red\n')
    convert([src], tmp_path / "c.h5", options=ConvertOptions(features=("px*", "colour"), categorical=("colour",)))
    x, attrs, _ = _features(tmp_path / "c.h5")
    assert list(attrs["columns"]) == ["px1", "px2", "colour"]
    with h5py.File(tmp_path / "c.h5") as f:
        vocabulary = [v.decode() if isinstance(v, bytes) else v for v in f["categories/colour"][()]]
    assert [vocabulary[int(code)] for code in x[:, 2]] == ["red", "blue", "red"]


def test_append_adds_rows_and_merges_stats(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y,label\n1,2,0\n3,4,1\n")
    b.write_text("x,y,label\n5,600,1\n7,8,2\n")
    out = tmp_path / "all.h5"
    convert([a], out, options=ConvertOptions(target=("label",)))
    convert([b], out, options=ConvertOptions(target=("label",), append=True))
    x, _, y = _features(out)
    assert x.tolist() == [[1, 2], [3, 4], [5, 600], [7, 8]]
    with h5py.File(out) as f:
        assert list(f["target"].attrs["classes"]) == [0, 1, 2]
        assert y.tolist() == [0, 1, 1, 2]
        assert np.allclose(f["stats/mean"][()], x.mean(axis=0))
        assert np.allclose(f["stats/std"][()], x.std(axis=0))
        assert f.attrs["rows"] == 4


def test_append_of_another_schema_leaves_the_file_unchanged(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,z\n1,2\n")
    out = tmp_path / "all.h5"
    convert([a], out)
    before = out.read_bytes()
    with pytest.raises(
        HeaderMismatchError, match=r"b\.csv does not match .*all\.h5: feature column 2 is 'z' in .*b\.csv but 'y' in .*all\.h5"
    ):
        convert([b], out, options=ConvertOptions(append=True))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "all.h5", "b.csv"]


@pytest.mark.parametrize("largest", [2**53 + 1, -(2**63), 2**63 - 1])
def test_append_to_large_integers_keeps_them_exact(tmp_path, largest):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    a.write_text(f"x\n1\n{largest}\n")
    b.write_text("x\n5\n")
    c.write_text("x\n0.5\n")
    out = tmp_path / "all.h5"
    convert([a], out)
    convert([b], out, options=ConvertOptions(append=True))
    assert _features(out)[0][:, 0].tolist() == [1, largest, 5]
    before = out.read_bytes()
    with pytest.raises(BadValueError, match=r"integers beyond 2\*\*53"):  # a float would round the stored rows
        convert([c], out, options=ConvertOptions(append=True))
    assert out.read_bytes() == before


def test_fill_keeps_integer_columns_integer(tmp_path):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,\n2,3\n")
    convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=0))
    x, _, _ = _features(tmp_path / "f.h5")
    assert x.dtype == np.uint8 and x.tolist() == [[1, 0], [2, 3]]


@pytest.mark.parametrize(  # values outside each type's range, or between its values
    "fill, dtype",
    [(999, "uint8"), (-1, "uint8"), (0.5, "int16"), (2**31, "int32"), (0.1234567891, "float32"), (100000, "float16")],
)
def test_a_fill_the_dtype_cannot_hold_is_refused_as_the_fill_not_as_a_cell(tmp_path, fill, dtype):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,\n2,3\n")
    message = f"--fill {fill} does not fit --dtype {dtype}; pass a --fill that {dtype} holds, or a wider --dtype"
    with pytest.raises(OptionError, match=re.escape(message)):
        convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=fill, dtype=dtype))


@pytest.mark.parametrize("fill, dtype", [(255, "uint8"), (-128, "int8"), (0.5, "float16"), (0.1, "float32"), (0.1, "float64")])
def test_a_fill_the_dtype_holds_fills(tmp_path, fill, dtype):
    src = tmp_path / "f.csv"
    src.write_text("a,b\n1,\n2,3\n")
    convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=fill, dtype=dtype))
    x, _, _ = _features(tmp_path / "f.h5")
    assert x.dtype == np.dtype(dtype) and x[0, 1] == np.dtype(dtype).type(fill)


@pytest.mark.parametrize("options", [{}, {"dtype": "float32"}, {"categorical": ("auto",)}])
def test_fill_leaves_a_missing_category_missing_rather_than_another_value(tmp_path, options):
    import pandas as pd

    src = tmp_path / "f.csv"
    src.write_text("a,city\n1,Paris\n,\n3,Lyon\n4,Paris\n")
    options = {"categorical": ("city",), **options}
    convert([src], tmp_path / "f.h5", options=ConvertOptions(fill=0, **options))
    x, _, _ = _features(tmp_path / "f.h5")
    with h5py.File(tmp_path / "f.h5") as f:
        vocabulary = [v.decode() for v in f["categories/city"][()]]
        counts = f["category_counts/city"][()].tolist()
    read = pd.read_csv(src)  # the oracle: pandas' reading, the missing city NaN
    decoded = [vocabulary[int(c)] if not np.isnan(c) else None for c in x[:, 1]]
    assert decoded == [None if pd.isna(v) else v for v in read["city"]]
    assert x[:, 0].tolist() == read["a"].fillna(0).tolist()  # numbers are filled as asked
    assert counts == [int((read["city"] == v).sum()) for v in vocabulary]


def test_quoted_fields_with_delimiters_and_newlines(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('a,label\n1,"x, y"\n2,"multi\nline"\n3,"say ""hi"""\n')
    convert([src], tmp_path / "q.h5", options=ConvertOptions(target=("label",)))
    with h5py.File(tmp_path / "q.h5") as f:
        classes = [c.decode() if isinstance(c, bytes) else c for c in f["target"].attrs["classes"]]
        assert [classes[i] for i in f["target"][()]] == ["x, y", "multi\nline", 'say "hi"']


def test_inputs_of_two_headers_are_refused_naming_the_column_in_each(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y,w\n1,2,3\n")
    b.write_text("x,z,w\n1,2,3\n")
    with pytest.raises(HeaderMismatchError, match=r"column 2 is 'z' in .*b\.csv but 'y' in .*a\.csv"):
        convert([a, b], tmp_path / "ab.h5")


@pytest.mark.parametrize("text, lines", [("a,b\n1,2\n3,4\n", 3), ("a,b\n1,2\n3,4", 3), ("a,b\n", 1)])
def test_skip_rows_past_the_end_counts_the_lines_of_the_file(tmp_path, text, lines):
    src = tmp_path / "s.csv"
    src.write_text(text)
    assert len(text.splitlines()) == lines  # the oracle: Python's count of the lines
    with pytest.raises(SchemaError, match=rf"--skip-rows 5 skips the whole file \({lines} lines\)"):
        convert([src], tmp_path / "s.h5", options=ConvertOptions(skip_rows=5))


def test_append_of_the_same_columns_in_another_order_says_how_to_take_them_by_name(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y,label\n1,2,p\n")
    b.write_text("y,x,label\n4,3,q\n")
    out = tmp_path / "all.h5"
    convert([a], out, options=ConvertOptions(target=("label",)))
    with pytest.raises(HeaderMismatchError, match=r"same columns in another order: --append --like .*all\.h5 takes them"):
        convert([b], out, options=ConvertOptions(append=True, target=("label",)))
    convert([b], out, options=ConvertOptions(append=True, like=str(out)))  # the advice, followed
    with h5py.File(out, "r") as f:
        assert f["features"][()].tolist() == [[1, 2], [3, 4]]  # by name: x then y, as pandas reads them
        assert [f["target"].attrs["classes"][c] for c in f["target"][()]] == ["p", "q"]


def test_append_without_the_options_the_file_was_made_with_names_them_rather_than_another_header(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("id,x,y,label\n1,1,2,p\n")
    b.write_text("id,x,y,label\n2,3,4,q\n")  # the same header: only the options are missing
    out = tmp_path / "all.h5"
    convert([a], out, options=ConvertOptions(target=("label",), drop=("id",)))
    with pytest.raises(HeaderMismatchError) as caught:
        convert([b], out, options=ConvertOptions(append=True))
    message = str(caught.value)
    assert "must share one header" not in message
    assert "pass them again (--target label --drop id), or pass --like" in message and "with --append" in message
    convert([b], out, options=ConvertOptions(append=True, target=("label",), drop=("id",)))  # the advice, followed
    convert([b], out, options=ConvertOptions(append=True, like=str(out)))  # and its other half
    with h5py.File(out, "r") as f:
        assert f["features"][()].tolist() == [[1, 2], [3, 4], [3, 4]]
        assert [f["target"].attrs["classes"][c] for c in f["target"][()]] == ["p", "q", "q"]


def test_append_to_an_hdf5_file_of_another_tool_is_one_error_and_leaves_it_unchanged(tmp_path):
    src = tmp_path / "a.csv"
    src.write_text("x,y\n1,2\n")
    out = tmp_path / "theirs.h5"
    with h5py.File(out, "w") as f:
        f["x"] = np.arange(10)
    before = out.read_bytes()
    with pytest.raises(NotCsv2H5FileError, match=r"theirs\.h5 is not a csv2h5 file"):
        convert([src], out, options=ConvertOptions(append=True))
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "theirs.h5"]


@pytest.mark.parametrize("name", ["a/b", "."])
@pytest.mark.parametrize("categorical", ["named", "auto"])
def test_a_categorical_column_whose_name_no_hdf5_path_holds_is_refused(tmp_path, name, categorical):
    src = tmp_path / "c.csv"
    src.write_text(f"x,{name},label\n1,p,y\n2,r,n\n")
    out = tmp_path / "c.h5"
    options = ConvertOptions(target=("label",), categorical=(name if categorical == "named" else "auto",))
    with pytest.raises(SchemaError, match=rf"column {name!r} holds text to store as codes, but its name cannot"):
        convert([src], out, options=options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.csv"]


def test_one_selector_string_is_one_column_not_its_letters(tmp_path):
    """ConvertOptions(target="label") from Python: the column label (not columns l, a, b, e, l)."""
    src = tmp_path / "t.csv"
    src.write_text("x,label\n1.5,a\n2.5,b\n")
    convert([src], tmp_path / "t.h5", options=ConvertOptions(target="label", na_values="?"))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert list(f["target"].attrs["columns"]) == ["label"] and list(f["features"].attrs["columns"]) == ["x"]
    assert ConvertOptions(target=0, header=False).target == ("0",)  # an index of a header-less file
    assert ConvertOptions(block_bytes=np.int64(64)).block_bytes == 64


@pytest.mark.parametrize(
    "given, message",
    [
        ({"target": True}, "target takes column names or indices"),
        ({"drop": [1.5]}, "drop takes column names or indices"),
        ({"block_bytes": "4MB"}, "block_bytes must be an integer, got '4MB'"),
        ({"workers": 1.5}, "workers must be an integer"),
        ({"header": 0}, r"header must be True or False, got 0 \(pandas' header=0, the first line, is header=True here\)"),
        ({"overwrite": "no"}, "overwrite must be True or False"),
        ({"sample_shape": "28,28,1"}, r"sample_shape takes a tuple of integers such as \(28, 28, 1\), got '28,28,1'"),
        ({"sample_shape": [1.5, 2]}, "sample_shape takes a tuple of integers"),
        ({"fill": "0"}, "fill must be a number, got '0'"),
    ],
)
def test_python_callers_wrong_types_are_one_option_error(given, message):
    with pytest.raises(OptionError, match=message):
        ConvertOptions(**given)


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.array(["label"]),
        lambda: pd.Index(["label"]),
        lambda: {"label"},
        lambda: (name for name in ["label"]),
        lambda: [np.str_("label")],
    ],
    ids=["numpy array", "pandas Index", "set", "generator", "numpy string"],
)
def test_selectors_as_any_collection_of_names_are_taken(tmp_path, make):
    """Any iterable of names worked before the type checks: a numpy array or a DataFrame's columns among them."""
    src = tmp_path / "t.csv"
    src.write_text("x,label\n1.5,a\n2.5,b\n")
    convert([src], tmp_path / "t.h5", options=ConvertOptions(target=make()))
    with h5py.File(tmp_path / "t.h5", "r") as f:
        assert list(f["target"].attrs["columns"]) == ["label"] and list(f["features"].attrs["columns"]) == ["x"]
    columns = ConvertOptions(header=False, features=np.array([1, 2]), drop=[np.int64(0)])
    assert (columns.features, columns.drop) == (("1", "2"), ("0",))


def test_wrong_spellings_of_missing_cells_are_named_as_such():
    with pytest.raises(OptionError, match=r"na_values takes spellings of a missing cell \(a string or a list of them\)"):
        ConvertOptions(na_values=["?", -999.0])
    with pytest.raises(OptionError, match=r"names takes column names \(a string or a list of them\)"):
        ConvertOptions(header=False, names=["a", None])


def test_a_sample_shape_of_numpy_integers_is_stored(tmp_path):
    """A numpy array or numpy integers for sample_shape, as a Python caller has them from x.shape[1:]."""
    src = tmp_path / "t.csv"
    src.write_text("a,b,c,d\n1,2,3,4\n5,6,7,8\n")
    for shape in (np.array([2, 2]), (np.int64(2), 2)):
        options = ConvertOptions(sample_shape=shape, overwrite=True)
        assert options.sample_shape == (2, 2)
        convert([src], tmp_path / "t.h5", options=options)
        with h5py.File(tmp_path / "t.h5", "r") as f:
            assert list(f["features"].attrs["sample_shape"]) == [2, 2]


def test_a_date_a_forced_dtype_cannot_hold_is_shown_as_the_date_with_its_seconds(tmp_path):
    import pandas as pd

    src = tmp_path / "d.csv"
    src.write_text("when,v\n2024-01-01,1\n2024-01-01 01:00,2\n")
    seconds = int(pd.Timestamp("2024-01-01 01:00", tz="UTC").timestamp())  # the oracle: pandas' reading, 1704070800
    with pytest.raises(BadValueError) as caught:
        convert([src], tmp_path / "d.h5", options=ConvertOptions(datetime=("when",), dtype="float32"))
    assert f"d.csv:3: column 'when' has 2024-01-01 01:00:00 UTC ({seconds} seconds since 1970), which float32" in str(
        caught.value
    )


@pytest.mark.parametrize("block_bytes", [64, 1 << 20])
def test_a_column_empty_in_early_blocks_then_decimal_is_no_integer_column_however_the_input_is_cut(tmp_path, block_bytes):
    import pandas as pd

    src = tmp_path / "late.csv"
    src.write_text("a,x\n" + "".join(f"{i},\n" for i in range(50)) + "".join(f"{i},{i}.5\n" for i in range(50)))
    read = pd.read_csv(src)["x"].dropna()  # the oracle: pandas finds decimals in x, so no --fill makes it integer
    assert not (read == read.round()).all()
    report = convert([src], tmp_path / "late.h5", options=ConvertOptions(block_bytes=block_bytes))
    assert report.empty_cell_columns == [] and report.warnings == ()


def test_a_column_empty_in_every_row_is_named_as_empty_with_drop_as_the_advice(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text("a,x\n" + "".join(f"{i},\n" for i in range(50)))
    report = convert([src], tmp_path / "e.h5")
    assert report.empty_cell_columns == []  # no integers in it to keep
    assert report.warnings == (
        "column 'x' is empty in every row (stored as NaN, which also makes the file's type a float one); --drop x",
    )
    convert([src], tmp_path / "d.h5", options=ConvertOptions(drop=("x",)))  # the advice, followed
    x, _, _ = _features(tmp_path / "d.h5")
    assert x.dtype == np.uint8 and x[:, 0].tolist() == list(range(50))


def test_warnings_under_like_never_advise_an_option_like_refuses(tmp_path):
    ref, part = tmp_path / "ref.csv", tmp_path / "part.csv"
    ref.write_text("user_id,city,y\n" + "".join(f"{i},c{i % 3},{i % 2}\n" for i in range(40)))
    part.write_text("user_id,city,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(40)))
    convert([ref], tmp_path / "ref.h5", options=ConvertOptions(target=("y",), categorical=("city",)))
    report = convert([part], tmp_path / "part.h5", options=ConvertOptions(like=str(tmp_path / "ref.h5")))
    empty = [w for w in report.warnings if "empty in every row" in w]
    named = [w for w in report.warnings if "named like an identifier" in w]
    assert len(empty) == 1 and "city" in empty[0] and "--drop" not in empty[0], report.warnings
    assert len(named) == 1 and "--drop user_id when converting" in named[0], report.warnings
    with pytest.raises(OptionError, match="--like takes the column roles"):  # why the advice names the other file
        ConvertOptions(like=str(tmp_path / "ref.h5"), drop=("user_id",))


def test_a_sample_shape_one_short_without_a_target_says_to_pass_it(tmp_path):
    src = tmp_path / "img.csv"
    src.write_text("label," + ",".join(f"p{i}" for i in range(4)) + "\n3,0,1,2,3\n")
    with pytest.raises(SchemaError) as caught:
        convert([src], tmp_path / "img.h5", options=ConvertOptions(sample_shape=(2, 2, 1)))
    assert str(caught.value).endswith("if one of them is the label, pass --target NAME")
    convert([src], tmp_path / "img.h5", options=ConvertOptions(sample_shape=(2, 2, 1), target=("label",)))  # followed
    with pytest.raises(SchemaError) as caught:  # with a target, the shape is simply wrong
        convert([src], tmp_path / "img2.h5", options=ConvertOptions(sample_shape=(3, 1), target=("label",)))
    assert "--target" not in str(caught.value)

"""A catalogue of bad input for ``csv2h5 convert``: each ends in one line, exit 2, nothing at OUTPUT.

Each case is (name, input files, arguments, what the message must say). The
message must name the problem and where it is; after the failure the
directory holds exactly the inputs: no output, no temporary file.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from csv2h5.cli import app

runner = CliRunner()
GOOD = b"a,b,label\n1,2,0\n3,4,1\n5,6,0\n"
# 50,000 rows compress to more than one block of any of the formats.
MANY_ROWS = b"a,b,label\n" + b"".join(b"%d,%d,%d\n" % (i, i * 7919 % 10007, i % 3) for i in range(50_000))
# 16-byte lines: zstd decompresses in 128 KiB blocks, so a zstd file cut anywhere after the
# first block gives back whole lines, a shorter file that looks fine.
ALIGNED_ROWS = b"aaaaaaa,b,label\n" + b"".join(b"%06d,%06d,%d\n" % (i, i * 7 % 999_983, i % 3) for i in range(20_000))


def _damaged(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + b"\x00\xff" * 4 + data[middle + 8 :]


# name, {file: bytes}, extra arguments ({d} is the directory), expected words in the message
CASES = [
    ("empty file", {"in.csv": b""}, [], ["in.csv is empty"]),
    ("header only", {"in.csv": b"a,b,label\n"}, [], ["no data rows after the header"]),
    ("header and blank lines only", {"in.csv": b"a,b,label\n\n\n"}, [], ["no data rows"]),
    (
        "row with more fields",
        {"in.csv": b"a,b,label\n1,2,0\n1,2,3,4\n"},
        [],
        ["in.csv:3", "expected 3 fields", "found 4", "--on-bad-lines"],
    ),
    ("row with fewer fields", {"in.csv": b"a,b,label\n1,2,0\n1,2\n5,6,1\n"}, [], ["in.csv:3", "expected 3 fields", "found 2"]),
    (
        "ragged row, warn policy still needs data",
        {"in.csv": b"a,b,label\n1,2,3,4\n"},
        ["--on-bad-lines", "skip"],
        ["no data rows"],
    ),
    ("header shorter than the data", {"in.csv": b"a,b,label\n1,2,0,9\n3,4,1,9\n"}, [], ["in.csv:2", "found 4"]),
    ("duplicate column names", {"in.csv": b"a,a,label\n1,2,0\n"}, [], ["duplicate column name 'a'", "rename"]),
    ("text in a numeric column", {"in.csv": b"a,b,label\n1,2,0\n1,oops,1\n"}, [], ["in.csv:3", "'b'", "oops"]),
    ("hexadecimal cell", {"in.csv": b"a,b,label\n1,2,0\n0x1F,4,1\n"}, [], ["in.csv:3", "'a'", "0x1F", "not a number"]),
    ("stray text line", {"in.csv": b"a,b,label\n1,2,0\n# exported by tool\n3,4,1\n"}, [], ["in.csv:3", "found 1"]),
    ("invalid UTF-8", {"in.csv": b"a,b,label\n1,2,0\n1,\xff\xfe,1\n"}, [], ["in.csv:3", "not valid utf-8", "--encoding"]),
    (
        "UTF-16 text (Excel's Unicode text) read as UTF-8",
        {"in.csv": GOOD.decode().encode("utf-16")},
        [],
        ["in.csv:1", "utf-16 byte-order mark", "--encoding utf-16"],
    ),
    (
        "value too large for a forced dtype",
        {"in.csv": b"a,b,label\n1,2,0\n300,4,1\n"},
        ["--dtype", "uint8"],
        ["'a'", "300", "uint8"],
    ),
    (
        "negative value for a forced unsigned dtype",
        {"in.csv": b"a,b,label\n-1,2,0\n"},
        ["--dtype", "uint8"],
        ["'a'", "-1", "uint8"],
    ),
    ("target column that does not exist", {"in.csv": GOOD}, ["--target", "lable"], ["'lable'", "label", "did you mean"]),
    (
        "feature column that does not exist",
        {"in.csv": GOOD},
        ["--features", "zz"],
        ["--features 'zz' is not a column", "'label'"],
    ),
    ("empty target cell", {"in.csv": b"a,b,label\n1,2,0\n3,4,\n"}, [], ["in.csv:3", "label", "empty"]),
    # (a single-class target converts now, with a warning: a part of the data may hold one class)
    ("--like with its own column roles", {"in.csv": GOOD}, ["--like", "{d}/old.h5"], ["--like", "old.h5", "drop --target"]),
    ("truncated gzip", {"in.csv.gz": gzip.compress(MANY_ROWS)[:60_000]}, [], ["in.csv.gz", "damaged or truncated"]),
    ("truncated bz2", {"in.csv.bz2": bz2.compress(MANY_ROWS)[:60_000]}, [], ["in.csv.bz2", "bz2 data is damaged or truncated"]),
    ("truncated xz", {"in.csv.xz": lzma.compress(MANY_ROWS)[:30_000]}, [], ["in.csv.xz", "xz data is damaged or truncated"]),
    (
        "truncated zstd at a line end",
        {"in.csv.zst": zstandard.ZstdCompressor().compress(ALIGNED_ROWS)[:25_000]},
        [],
        ["in.csv.zst", "zstd data is damaged or truncated", "ended before the end of a zstd frame"],
    ),
    (
        "damaged zstd",
        {"in.csv.zst": _damaged(zstandard.ZstdCompressor().compress(MANY_ROWS))},
        [],
        ["in.csv.zst", "zstd data is damaged or truncated"],
    ),
    ("directory as input", {"sub/x.csv": GOOD}, ["{d}/sub"], ["is a directory"]),
    ("missing input", {}, ["{d}/nothere.csv"], ["nothere.csv: no such file"]),
    ("missing output directory", {"in.csv": GOOD}, ["-o", "{d}/no/such/dir/out.h5"], ["does not exist", "create"]),
    ("output is an input", {"in.csv": GOOD}, ["-o", "{d}/in.csv", "--overwrite"], ["also an input"]),
    ("inputs whose headers differ", {"in.csv": GOOD, "more.csv": b"a,c,label\n1,2,0\n"}, ["{d}/more.csv"], ["more.csv", "'c'"]),
    ("sample shape that does not fit", {"in.csv": GOOD}, ["--sample-shape", "3,3"], ["--sample-shape", "9", "2"]),
    ("unknown dtype", {"in.csv": GOOD}, ["--dtype", "uint7"], ["--dtype 'uint7'"]),
    ("unknown compression", {"in.csv": GOOD}, ["--compression", "brotli"], ["--compression", "brotli"]),
    ("gzip level out of range", {"in.csv": GOOD}, ["--compression", "gzip:12"], ["gzip level must be 1-9"]),
    ("two-character delimiter", {"in.csv": GOOD}, ["--delimiter", "::"], ["--delimiter must be one character"]),
    ("target also a feature", {"in.csv": GOOD}, ["--features", "a,label"], ["'label'", "both --target and --features"]),
    ("unknown encoding", {"in.csv": GOOD}, ["--encoding", "klingon"], ["--encoding 'klingon'"]),
    ("skip-rows past the end", {"in.csv": GOOD}, ["--skip-rows", "10"], ["skips the whole file (4 lines)"]),
    ("overwrite and append together", {"in.csv": GOOD}, ["--overwrite", "--append"], ["contradict"]),
    ("append to a file that is not there", {"in.csv": GOOD}, ["--append"], ["nothing to --append to"]),
    ("bad --sample-shape text", {"in.csv": GOOD}, ["--sample-shape", "a,b"], ["--sample-shape takes integers"]),
    (
        "text in several columns",
        {"in.csv": b"a,b,c,label\n1,x,2024-01-01,0\n"},
        [],
        [
            "in.csv:2",
            "column 'b' has 'x'",
            "1 more column holds text (c)",
            "--categorical b --datetime c",
            "--drop b;",
            "c: ISO dates",
        ],
    ),
    (
        "text after the rows that decide the column",
        {"in.csv": b"a,b,label\n" + b"1,2,0\n" * 800_000 + b"3,late,1\n"},
        [],
        ["in.csv:800002", "'late'", "first rows (to line", "held only numbers", "--categorical b"],
    ),
    (
        "booleans beside text",
        {"in.csv": b"a,flag,label\n1,true,0\n2,maybe,1\n"},
        [],
        ["in.csv:3", "'flag' has 'maybe' beside booleans", "line 2", "--categorical flag"],
    ),
    (
        "true/false labels beside other labels",
        {"in.csv": b"a,label\n1,true\n2,maybe\n"},
        [],
        ["in.csv:3", "target column 'label'", "'maybe' among true/false labels"],
    ),
    (
        "too many values for --categorical auto",
        {"in.csv": b"name,label\nann,0\nbob,1\ncid,0\n"},
        ["--categorical", "auto", "--max-categories", "2"],
        ["in.csv:4", "'name'", "more than 2 distinct values", "--drop name"],
    ),
    ("--max-categories below 1", {"in.csv": GOOD}, ["--max-categories", "0"], ["--max-categories must be positive"]),
    (
        "not a date in a --datetime column",
        {"in.csv": b"day,label\n2024-01-01,0\n31/01/2024,1\n"},
        ["--datetime", "day"],
        ["in.csv:3", "'day'", "31/01/2024", "not an ISO-8601 date"],
    ),
    ("--datetime on the target", {"in.csv": GOOD}, ["--datetime", "label"], ["--datetime 'label' is not a feature column"]),
    (
        "a column both --categorical and --datetime",
        {"in.csv": GOOD},
        ["--categorical", "a", "--datetime", "a"],
        ["'a' is both --categorical and --datetime"],
    ),
    (
        "decimal commas without --decimal",
        {"in.csv": b"a;b;label\n70,5;1;0\n"},
        ["--delimiter", ";"],
        ["in.csv:2", "'a' has '70,5'", "pass --decimal ,", "decimal comma"],
    ),
    (
        "a semicolon file read as commas",
        {"in.csv": b"a;b;label\n1;2;0\n"},
        [],
        ["in.csv:1", "one column holding semicolons", "--delimiter ';'"],
    ),
    (
        "a tab file read as commas",
        {"in.txt": b"a\tb\tlabel\n1\t2\t0\n"},
        [],
        ["in.txt:1", "one column holding tabs", "--delimiter tab"],
    ),
    (
        "--decimal , with a comma delimiter and a decimal comma outside quotes",
        {"in.csv": b'a,b,label\n"1,5",2,0\n2,5,3,1\n'},
        ["--decimal", ",", "--delimiter", ","],
        ["in.csv:3", "expected 3 fields", "found 4", "a decimal comma outside quotes"],
    ),
    ("unknown --decimal", {"in.csv": GOOD}, ["--decimal", ";"], ["--decimal must be '.' or ','"]),
    (
        "a decimal point where the decimal mark is a comma",
        {"in.csv": b"a;b;label\n1,5;2.5;0\n"},
        ["--decimal", ","],
        ["in.csv:2", "'b' has '2.5'", "not a number"],
    ),
    (
        "an identifier among text columns",
        {"in.csv": b"customer_id,city,label\nC1,Paris,0\nC2,Lyon,1\n"},
        [],
        ["in.csv:2", "pass --categorical city --drop customer_id (", "customer_id: an identifier"],
    ),
    (
        "ISO dates beyond --max-categories",
        {"in.csv": b"day,label\n1969-01-01,0\n2013-01-01T06:00:00Z,1\n2020-05-05,0\n"},
        ["--categorical", "auto", "--max-categories", "2"],
        ["in.csv:4", "'day'", "ISO dates", "--datetime day"],
    ),
    ("one input given twice", {"in.csv": GOOD}, ["{d}/in.csv"], ["in.csv is given twice", "pass each input once"]),
    ("an infinite --fill", {"in.csv": b"a,b,label\n1,,0\n"}, ["--fill", "inf"], ["--fill", "finite number"]),
]


def _write(directory: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("name,files,args,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line(tmp_path, name, files, args, words):
    _write(tmp_path, files)
    before = _listing(tmp_path)
    inputs = [str(tmp_path / n) for n in files if "/" not in n][:1]
    argv = ["convert", *inputs, "-o", str(tmp_path / "out.h5"), "--target", "label", "--quiet"]
    argv += [a.format(d=tmp_path) for a in args]
    if "-o" in args:  # the case names its own output
        i = argv.index("-o")
        del argv[i : i + 2]
    if "--target" in args:
        i = argv.index("--target")
        del argv[i : i + 2]
    result = runner.invoke(app, argv)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert len(lines[0]) < 400  # a cell is shown as a short excerpt, never whole
    assert _listing(tmp_path) == before  # no output, no temporary file


def test_a_line_over_the_limit(tmp_path, monkeypatch):
    """A "line" of hundreds of MiB means a wrong delimiter or an unclosed quote; the limit is lowered here."""
    import csv2h5.reader.limits

    monkeypatch.setattr(csv2h5.reader.limits, "MAX_LINE_BYTES", 1 << 20)
    src = tmp_path / "in.csv"
    src.write_bytes(b'a,b,label\n1,2,0\n"unclosed,' + b"9" * (2 << 20) + b"\n")
    result = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "out.h5"), "--quiet"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "in.csv:3" in lines[0], lines
    assert _listing(tmp_path) == ["in.csv"]


def test_the_catalogue_has_the_cases_the_readme_counts():
    assert len(CASES) == 59


# Runs the CLI in a child that, when it starts as root (who reads any file, as in CI), drops to an
# unprivileged user once a first run (on a missing file) has imported everything the error path needs:
# Python itself may live where that user cannot read. Paths are relative to the working directory,
# as the directories above it may be closed to that user too.
_AS_UNPRIVILEGED_USER = """
import contextlib, os, sys
from csv2h5.cli import main
command = sys.argv[1:]
quiet, stderr = os.open(os.devnull, os.O_WRONLY), os.dup(2)
os.dup2(quiet, 2)
with contextlib.suppress(SystemExit):
    sys.argv = ["csv2h5", command[0], "missing", *command[2:]]
    main()
sys.stderr.flush()
os.dup2(stderr, 2)
if os.geteuid() == 0:
    try:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    except OSError:
        sys.exit(77)
if os.access("unreadable", os.R_OK):
    sys.exit(77)  # this user still reads it: nothing to test
sys.argv = ["csv2h5", *command]
main()
"""


@pytest.mark.parametrize(
    "command",
    [
        ["convert", "unreadable", "-o", "out.h5", "--quiet"],
        ["info", "unreadable"],
        ["merge", "unreadable", "unreadable", "-o", "out.h5", "--quiet"],
    ],
    ids=lambda c: c[0],
)
def test_unreadable_file(tmp_path, command):
    src = tmp_path / "unreadable"
    src.write_bytes(GOOD)
    src.chmod(0)
    tmp_path.chmod(0o777)  # the unprivileged user may write here: a bug that left an output would show
    done = subprocess.run(
        [sys.executable, "-c", _AS_UNPRIVILEGED_USER, *command], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    if done.returncode == 77:
        pytest.skip("cannot run as a user who is refused the file")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["error: unreadable: permission denied; check the file's permissions"]
    assert _listing(tmp_path) == ["unreadable"]

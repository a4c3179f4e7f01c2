"""Any input bytes end in exit 0 with a valid file, or exit 2 with one line ``error: ...`` — never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from csv2h5.cli import app

SAMPLE = b'\xef\xbb\xbfid,"name",x,label\r\n1,"a, b",0.5,yes\r\n2,"multi\r\nline",1e-3,no\n3,plain,,yes\n4,"q""uote",-2,no\n'
OPTIONS = [
    (),
    ("--target", "label"),
    ("--target", "c0"),
    ("--no-header",),
    ("--no-header", "--target", "0"),
    ("--delimiter", "auto"),
    ("--delimiter", "auto", "--target", "label"),
    ("--categorical", "name"),
]
GARBAGE = st.sampled_from([b"\r", b"\n", b'"', b",", b";", b"\t", b"\x00", b"\xff", b"\xef\xbb\xbf", b"\\", b"#", b" "])


@st.composite
def mutated(draw) -> bytes:
    """The sample CSV with a few bytes inserted, deleted or replaced."""
    data = bytearray(SAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(GARBAGE, st.binary(min_size=1, max_size=3)))
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


def _check(data: bytes, options: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as work:
        src, out = Path(work) / "in.csv", Path(work) / "out.h5"
        src.write_bytes(data)
        result = CliRunner().invoke(app, ["convert", str(src), "-o", str(out), "--quiet", *options])
        assert result.exit_code in (0, 2), (result.exit_code, result.exception, result.stderr)
        if result.exit_code == 2:
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
            assert sorted(p.name for p in Path(work).iterdir()) == ["in.csv"]
        else:
            with h5py.File(out, "r") as f:
                assert int(f.attrs["rows"]) == f["features"].shape[0] > 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200), options=st.sampled_from(OPTIONS))
@example(data=b"a\rb,\n", options=())
@example(data=b'a,"b\rc"\n1,2\n', options=("--target", "c0"))
@example(data=b"a,b\n1,x\x00y\n2,z\n", options=("--categorical", "b"))
@example(data=b"a,b\n1,x\x00y\n2,z\n", options=("--target", "b"))
@example(data=b"\x00", options=())
@example(data=b"a,\xff\xfe\n1,2\n", options=())
def test_arbitrary_bytes(data, options):
    _check(data, options)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), options=st.sampled_from(OPTIONS))
def test_mutated_csv(data, options):
    _check(data, options)

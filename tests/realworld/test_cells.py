"""Each kind of cell real tables hold, converted and compared cell by cell with pandas.read_csv.

Quoted text holding delimiters, quotes, tabs, CRLF, lone CR and Unicode (kept
byte for byte) and a byte-order mark. pandas is the oracle: numbers equal,
codes decoded through the vocabulary back to pandas' text.
"""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from csv2h5 import ConvertOptions, convert

BLOCK_BYTES = [48, 1 << 20]  # many blocks (a row or two each) and one


def _convert(src: Path, out: Path, **options) -> object:
    return convert([src], out, options=ConvertOptions(workers=0, **options))


# Quoted cells as real exports write them: delimiters, doubled quotes, tabs, CRLF, LF and lone CR
# inside quotes, Unicode, spaces kept; the file itself has CRLF line ends and a byte-order mark.
TEXTS = ['"Fine, thanks"', '"line one\r\nline two"', '"tab\there"', '"lone\rcarriage"', '"say ""hi"""',
         "Zürich", '"São Paulo"', "東京", "naïve café ☕", " padded ", '"two\nlines"', "plain"]


@pytest.mark.parametrize("block_bytes", BLOCK_BYTES)
def test_quoted_text_comes_back_byte_for_byte(tmp_path, stored, block_bytes):
    rng = random.Random(3)
    rows = [f"{i},{rng.choice(TEXTS)},{i / 4},{rng.choice(TEXTS)}" for i in range(120)]
    src = tmp_path / "text.csv"
    src.write_bytes(b"\xef\xbb\xbf" + ("id,comment,score,label\r\n" + "\r\n".join(rows) + "\r\n").encode())
    out = tmp_path / "text.h5"
    _convert(src, out, block_bytes=block_bytes, categorical=("comment",), target=("label",))
    expected = pd.read_csv(src)
    got = stored(out)
    assert got.names == ["id", "comment", "score"]  # the byte-order mark is not part of the first name
    assert got.column("comment") == expected["comment"].tolist()
    assert any("\r\n" in text for text in got.vocabularies["comment"])  # the point: CRLF kept inside quotes
    assert got.labels() == expected["label"].tolist()
    assert not got.mismatches("score", expected["score"].tolist())


def test_a_quoted_crlf_in_a_header_less_file_of_numbers_and_text(tmp_path, stored):
    """CRLF line ends with a quote in the block: pyarrow, not a replacement, takes \\r\\n as the line end."""
    src = tmp_path / "t.csv"
    src.write_bytes(b'1,"a\r\nb"\r\n2,c\r\n3,"d"\r\n')
    _convert(src, tmp_path / "t.h5", header=False, categorical=("1",))
    got = stored(tmp_path / "t.h5")
    assert got.column("c0") == [1.0, 2.0, 3.0] and got.column("c1") == ["a\r\nb", "c", "d"]

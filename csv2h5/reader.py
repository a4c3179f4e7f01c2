"""The only module that parses CSV: opening sources, cutting blocks, parsing them.

A source is read as raw bytes (decompressed on the fly) and cut into blocks at
line ends outside quotes, so blocks can be parsed independently, in parallel, and
give the same result whatever the block size. ``parse_block`` turns one block
into numbers: a vectorised numpy path for the common all-small-integers case
(pixels, counts, labels), and pyarrow for everything else (quotes, floats, empty
cells, text).
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import lzma
import os
import re
import select
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import BadLineError, BadValueError, InputError, OptionError, SchemaError, excerpt
from .schema import ValueRange, smallest_dtype, unrepresentable, value_range
from .stats import ColumnStats

BOM = b"\xef\xbb\xbf"
MAX_LINE_BYTES = 256 << 20  # a "line" longer than this is almost surely a wrong delimiter/quote
# pandas' default spellings of a missing value, so both read the same cells as NaN.
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_UTF8_NAMES = {"utf-8", "utf8", "utf_8", "ascii", "us-ascii", "utf-8-sig"}
_DIGITS_MAX = 3  # fast path: fields of 1..3 digits (values 0..999: pixels, counts, labels)


# --------------------------------------------------------------------------- opening


def _compression_of(raw: io.BufferedReader) -> str | None:
    head = raw.peek(6)[:6]  # peek, not read: a pipe cannot be rewound
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


class _Pipe(io.RawIOBase):
    """A pipe's reading end that waits in short slices.

    A signal (Ctrl-C, SIGTERM) may be delivered to any thread; if it lands on a
    helper thread while the main thread sleeps in read(), Python only runs its
    handler once the read returns, which on a stalled pipe is never.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def readinto(self, buffer) -> int:
        while not select.select([self.fd], [], [], 0.2)[0]:
            pass  # back in Python every 0.2 s: pending signal handlers run here
        return os.readv(self.fd, [buffer])

    def close(self) -> None:
        if not self.closed:
            os.close(self.fd)
        super().close()


class _ZstdFrames(io.RawIOBase):
    """Decompressed zstd frames, one after another; input that ends inside a frame is an EOFError.

    zstandard's own stream_reader stops quietly at a truncated frame, which turned a
    cut-off download into a file with fewer rows; and its ZstdError is not an OSError.
    """

    def __init__(self, raw: BinaryIO, zstandard) -> None:
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._damaged = zstandard.ZstdError
        self._frame = self._decompressor.decompressobj()
        self._inside_frame = False  # input was fed to a frame that has not ended
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            data = self._raw.read(1 << 16)
            if not data:
                if self._inside_frame:
                    raise EOFError("compressed file ended before the end of a zstd frame")
                return 0
            out = []
            while data:
                try:
                    out.append(self._frame.decompress(data))
                except self._damaged as exc:  # not an OSError: say it the way the other formats do
                    raise OSError(str(exc)) from None
                self._inside_frame = not self._frame.eof
                data = b""
                if self._frame.eof:  # another frame may follow (zstd -T, concatenated files)
                    data, self._frame = self._frame.unused_data, self._decompressor.decompressobj()
            self._out = memoryview(b"".join(out))
        size = min(len(buffer), len(self._out))
        buffer[:size] = self._out[:size]
        self._out = self._out[size:]
        return size


def _open_raw(path: Path) -> io.BufferedReader:
    fd = os.open(path, os.O_RDONLY)
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return open(fd, "rb")
    return io.BufferedReader(_Pipe(fd), buffer_size=1 << 16)


class Source:
    """One input file, opened for streaming as (decompressed, UTF-8) bytes."""

    def __init__(self, path: Path, *, encoding: str = "utf-8") -> None:
        self.path = Path(path)
        self.name = str(path)
        if not self.path.exists():
            raise InputError(f"{self.name}: no such file; check the path")
        if self.path.is_dir():
            raise InputError(f"{self.name} is a directory; pass the CSV files inside it")
        try:
            self._raw = _open_raw(self.path)
            self.compression = _compression_of(self._raw)
        except PermissionError:
            raise InputError(f"{self.name}: permission denied; check the file's permissions") from None
        except OSError as exc:
            raise InputError(f"{self.name}: cannot read ({exc.strerror})") from None
        status = os.fstat(self._raw.fileno())
        regular = stat.S_ISREG(status.st_mode)  # not a pipe, e.g. <(zcat data.csv.gz)
        self.size = status.st_size if regular else 0
        self.position = 0  # decompressed bytes returned by read() so far
        self._stream: BinaryIO = self._open_stream()
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            self.close()
            raise OptionError(f"--encoding {encoding!r} is not a known encoding (try utf-8, latin-1, cp1252)") from None
        if codec not in _UTF8_NAMES and encoding.lower() not in _UTF8_NAMES:
            # Blocks are cut at b"\n", which needs an ASCII-compatible byte stream: transcode.
            self._text = io.TextIOWrapper(self._stream, encoding=codec, newline="")
        else:
            self._text = None
        # Plain files are re-read by parser processes at an offset, which is cheaper
        # than sending the bytes through a pipe.
        self.plain = regular and self.compression is None and self._text is None

    def _open_stream(self) -> BinaryIO:
        if self.compression == "gzip":
            return gzip.GzipFile(fileobj=self._raw)
        if self.compression == "bz2":
            return bz2.BZ2File(self._raw)
        if self.compression == "xz":
            return lzma.LZMAFile(self._raw)
        if self.compression == "zstd":
            try:
                import zstandard
            except ImportError:
                self.close()
                raise InputError(f"{self.name} is zstd-compressed; pip install zstandard to read it") from None
            return io.BufferedReader(_ZstdFrames(self._raw, zstandard), buffer_size=1 << 16)
        return self._raw

    @property
    def bytes_read(self) -> int:
        """Bytes of the file itself consumed so far (compressed bytes if compressed)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return self.size

    def read(self, size: int) -> bytes:
        """Up to ``size`` decompressed UTF-8 bytes; b"" at the end."""
        try:
            if self._text is not None:
                data = self._text.read(size).encode("utf-8")
            else:
                data = self._stream.read(size)
            self.position += len(data)
            return data
        except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError, zlib_error()) as exc:
            raise InputError(
                f"{self.name}: the {self.compression or 'file'} data is damaged or truncated ({exc});"
                " re-download or re-compress it"
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.name}: not valid {exc.encoding} text ({exc.reason}); pass the right --encoding") from None

    def close(self) -> None:
        for handle in (getattr(self, "_text", None), getattr(self, "_stream", None), getattr(self, "_raw", None)):
            if handle is not None:
                try:
                    handle.close()
                except Exception:  # closing a damaged stream can fail again; it is closed anyway
                    pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


# --------------------------------------------------------------------------- header


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How the text is delimited."""

    delimiter: str = ","
    quotechar: str = '"'
    comment: str | None = None


@dataclasses.dataclass(slots=True)
class Header:
    """What precedes the data: the column names and how many lines they took."""

    names: list[str]
    lines: int  # physical lines consumed (skipped rows + header)
    rest: bytes  # bytes read past the header, the start of the data
    dialect: Dialect


def _split_first_record(data: bytes, dialect: Dialect, at_eof: bool) -> tuple[list[str], int, int] | None:
    """Parse the first CSV record: (fields, bytes used, lines used), or None if incomplete."""
    pos = 0
    lines = 0
    while True:
        end = data.find(b"\n", pos)
        if end < 0:
            if not at_eof:
                return None
            end = len(data)
        chunk = data[: end + 1]
        lines_here = lines + 1
        text = chunk.decode("utf-8", errors="replace")
        if text.count(dialect.quotechar) % 2 == 0 or end >= len(data):
            with _long_fields():
                rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quotechar))
            fields = rows[0] if rows else []
            return fields, min(end + 1, len(data)), lines_here
        pos = end + 1
        lines = lines_here


def sniff_delimiter(sample: bytes, name: str) -> str:
    """Guess the delimiter from the first lines (``--delimiter auto``)."""
    text = sample[:65536].decode("utf-8", errors="replace")
    text = text[: text.rfind("\n") + 1] or text
    try:
        return csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        raise OptionError(
            f"{name}: could not guess the delimiter from the first lines; pass --delimiter ',' (or ';', tab, '|')"
        ) from None


def read_header(source: Source, *, dialect: Dialect, header: bool, names: tuple[str, ...],
                skip_rows: int, block_bytes: int) -> Header:
    """Read past skipped lines and the header; return the names and the leftover bytes."""
    data = b""
    at_eof = False
    lines = 0

    def more() -> None:
        nonlocal data, at_eof
        chunk = source.read(max(block_bytes, 1 << 16))
        if not chunk:
            at_eof = True
        data += chunk

    more()
    if data.startswith(BOM):
        data = data[len(BOM):]
    for _ in range(skip_rows):
        while b"\n" not in data and not at_eof:
            more()
        cut = data.find(b"\n")
        if cut < 0:
            raise SchemaError(f"{source.name}: --skip-rows {skip_rows} skips the whole file ({lines + 1} lines)")
        data = data[cut + 1:]
        lines += 1
    if dialect.delimiter == "auto":
        while data.count(b"\n") < 20 and not at_eof and len(data) < (1 << 20):
            more()
        sample = _strip_comments(data, dialect.comment) if dialect.comment else data
        dialect = dataclasses.replace(dialect, delimiter=sniff_delimiter(sample, source.name))
    # Skip blank and comment lines before the header, as pandas does.
    while True:
        while b"\n" not in data and not at_eof:
            more()
        stripped = data.lstrip(b"\r\n")
        skipped = data[: len(data) - len(stripped)].count(b"\n")
        data, lines = stripped, lines + skipped
        if dialect.comment and data.startswith(dialect.comment.encode()):
            cut = data.find(b"\n")
            data, lines = (data[cut + 1:], lines + 1) if cut >= 0 else (b"", lines + 1)
            continue
        if not data and not at_eof:
            more()
            continue
        break
    if not data:
        what = "no header line" if header else "no data"
        raise SchemaError(f"{source.name} is empty ({what}); check the file, or --skip-rows")
    while True:
        record = _split_first_record(data, dialect, at_eof)
        if record is not None:
            break
        if len(data) > MAX_LINE_BYTES:
            raise BadLineError(f"{source.name}:{lines + 1}: the first record is over {MAX_LINE_BYTES >> 20} MiB; check --delimiter and quoting")
        more()
    fields, used, used_lines = record
    fields = [f.rstrip("\r") if i == len(fields) - 1 else f for i, f in enumerate(fields)]
    if header:
        columns = [f if f != "" else f"Unnamed: {i}" for i, f in enumerate(fields)]
        return Header(columns, lines + used_lines, data[used:], dialect)
    if names:
        if len(names) != len(fields):
            raise SchemaError(
                f"{source.name}:{lines + 1}: --names gives {len(names)} names but the first line has {len(fields)} fields"
            )
        return Header(list(names), lines, data, dialect)
    return Header([f"c{i}" for i in range(len(fields))], lines, data, dialect)


# --------------------------------------------------------------------------- blocks


@dataclasses.dataclass(frozen=True, slots=True)
class TextBlock:
    """A run of whole CSV lines, cut outside quotes: bytes, or where to find them in a plain file."""

    source: str
    index: int  # position of this block in the conversion, for ordering
    first_line: int  # 1-based physical line number of the block's first line
    data: bytes | None  # None: read ``length`` bytes at ``offset`` of ``source``
    offset: int = 0
    length: int = 0

    def text(self) -> bytes:
        if self.data is not None:
            return self.data
        fd = os.open(self.source, os.O_RDONLY)
        try:
            data = os.pread(fd, self.length, self.offset)
        finally:
            os.close(fd)
        if len(data) != self.length:
            raise InputError(f"{self.source} changed while being converted (it is shorter now); convert it again")
        return data


def _last_cut(data: bytes, quotechar: bytes, end: int | None = None) -> int:
    """Index just past the last line end in ``data[:end]`` that is outside quotes, or -1."""
    end = len(data) if end is None else min(end, len(data))
    if data.find(quotechar, 0, end) < 0:
        return data.rfind(b"\n", 0, end) + 1 or -1
    b = np.frombuffer(data, dtype=np.uint8, count=end)
    inside = np.cumsum(b == quotechar[0]) & 1  # blocks always start outside quotes
    ends = np.flatnonzero((b == 10) & (inside == 0))
    return int(ends[-1]) + 1 if ends.size else -1


def _count_lines(data: bytes | memoryview) -> int:
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))


def iter_blocks(source: Source, header: Header, *, block_bytes: int, start_index: int = 0) -> Iterator[TextBlock]:
    """Yield the data of ``source`` after its header as TextBlocks of about ``block_bytes``."""
    quote = header.dialect.quotechar.encode()
    pending = header.rest
    line = header.lines + 1
    index = start_index
    at_eof = False
    while True:
        if len(pending) < block_bytes and not at_eof:
            chunk = source.read(block_bytes)
            at_eof = not chunk
            pending = pending + chunk if pending else chunk
        cut = _last_cut(pending, quote, block_bytes) if len(pending) > block_bytes else -1
        if cut < 0:
            cut = len(pending) if at_eof else _last_cut(pending, quote)
        while cut < 0:  # one line longer than a block: read on until it ends
            if len(pending) > MAX_LINE_BYTES:
                raise BadLineError(
                    f"{source.name}:{line}: a line (or quoted field) runs over {MAX_LINE_BYTES >> 20} MiB;"
                    " check --delimiter and for an unclosed quote"
                )
            chunk = source.read(block_bytes)
            at_eof = not chunk
            pending += chunk
            cut = len(pending) if at_eof else _last_cut(pending, quote)
        if cut == 0:
            return
        view = memoryview(pending)[:cut]
        if source.plain:
            offset = source.position - len(pending)
            yield TextBlock(source.name, index, line, None, offset, cut)
        else:
            yield TextBlock(source.name, index, line, bytes(view))
        line += _count_lines(view)
        view.release()
        pending = pending[cut:]
        index += 1
        if at_eof and not pending:
            return


# --------------------------------------------------------------------------- parsing


@dataclasses.dataclass(frozen=True, slots=True)
class ParsePlan:
    """Everything a parser process needs to turn a TextBlock into numbers."""

    names: tuple[str, ...]
    dialect: Dialect
    features: tuple[int, ...]
    target: tuple[int, ...]
    categorical: tuple[int, ...]
    dtype: str = "auto"
    fill: float | None = None
    on_bad_lines: str = "error"


@dataclasses.dataclass(slots=True)
class ParsedBlock:
    """One block as numbers, with what the writer and the report need."""

    index: int
    source: str
    rows: int
    features: np.ndarray  # (rows, F); categorical columns hold block-local codes
    value_range: ValueRange  # of the non-categorical feature columns
    stats: ColumnStats
    target: np.ndarray | None  # numeric, or object (str) for text labels
    categories: dict[int, list[str]]  # feature position -> block-local vocabulary
    bad_lines: list[tuple[int, int]]  # (line, fields found)
    int_columns_with_empty: list[str]
    target_lines: np.ndarray | None = None  # physical line of each row, kept only when needed


def _parse_digits(data: bytes, ncol: int, delimiter: int) -> np.ndarray | None:
    """All-small-integer fast path: a (rows, ncol) uint16 table, or None if the block is not that.

    Accepts only lines of exactly ``ncol`` fields of 1..3 ASCII digits, so any
    other input (signs, decimals, empty cells, quotes, ragged lines) falls back
    to the general parser.
    """
    if not data or data[-1:] != b"\n":
        return None
    b = np.frombuffer(data, dtype=np.uint8)
    d = b - np.uint8(48)
    isd = d < 10
    sep = np.flatnonzero(~isd)
    nrows, rem = divmod(sep.size, ncol)
    if rem or not isd[0]:
        return None
    if not (b.take(sep[ncol - 1 :: ncol]) == 10).all() or np.count_nonzero(b == 10) != nrows:
        return None
    if np.count_nonzero(b == delimiter) != sep.size - nrows:
        return None  # some other byte (sign, dot, letter) is in the block
    if (~isd[1:] & ~isd[:-1]).any():
        return None  # an empty field
    run = isd[_DIGITS_MAX:].copy()
    for k in range(1, _DIGITS_MAX + 1):
        run &= isd[_DIGITS_MAX - k : -k]
    if run.any():
        return None  # a field with more digits than the fast path handles
    dz = (d * isd).astype(np.uint16)
    # value[i] = the number whose last digit is at i-1, i.e. the field ending at separator i
    value = np.zeros(b.size, dtype=np.uint16)
    value[1:] = dz[:-1]
    value[2:] += dz[:-2] * np.uint16(10)
    term = dz[:-3] * np.uint16(100)
    term *= isd[1:-2]
    value[3:] += term
    return value.take(sep).reshape(nrows, ncol)


def _as_slice(positions: tuple[int, ...]) -> slice | list[int]:
    """A slice when the positions are a contiguous run (a view instead of a gather)."""
    if positions and list(positions) == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return list(positions)


def _strip_comments(data: bytes, comment: str) -> bytes:
    return re.sub(re.escape(comment.encode()) + rb"[^\n]*", b"", data)


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """Let Python's csv module read cells as long as a line may be (its default stops at 128 KiB)."""
    previous = csv.field_size_limit(MAX_LINE_BYTES)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _record_lines(data: bytes, first_line: int, plan: ParsePlan, source: str = "") -> tuple[np.ndarray, list[tuple[int, int]], list[int]]:
    """Line number of every record, the bad records (line, fields), and the bad records' row positions.

    Blank lines are skipped, as pandas and pyarrow do. Rows are counted among
    the non-blank records, the numbering pyarrow's parser uses.
    """
    ncol = len(plan.names)
    delim = plan.dialect.delimiter.encode()
    quote = plan.dialect.quotechar.encode()
    if quote not in data:
        b = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(b == 10)
        if data and data[-1:] != b"\n":
            ends = np.append(ends, len(data))
        starts = np.concatenate(([0], ends[:-1] + 1)) if ends.size else np.zeros(0, dtype=np.int64)
        delims = np.concatenate(([0], np.cumsum(b == delim[0])))
        fields = delims[ends] - delims[starts] + 1
        length = ends - starts
        if length.size:
            cr = length > 0
            cr[cr] = b[ends[cr] - 1] == 13
            length = length - cr
        keep = length > 0
        lines = np.arange(first_line, first_line + ends.size)[keep]
        fields = fields[keep]
        bad = np.flatnonzero(fields != ncol)
        return lines, [(int(lines[i]), int(fields[i])) for i in bad], bad.tolist()
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=plan.dialect.delimiter,
                        quotechar=plan.dialect.quotechar)
    lines_list: list[int] = []
    bad_rows: list[tuple[int, int]] = []
    bad_pos: list[int] = []
    line = first_line
    consumed = 0
    with _long_fields():  # a quoted cell may hold a long text
        try:
            for record in reader:
                start = first_line + consumed
                consumed = reader.line_num
                if not record:
                    continue
                if len(record) != ncol:
                    bad_rows.append((start, len(record)))
                    bad_pos.append(len(lines_list))
                lines_list.append(start)
                line = start
        except csv.Error as exc:  # a cell longer than any line may be: a quote that never closes
            raise BadLineError(f"{source}:{first_line + consumed}: {exc}; is a quote left open? "
                               "check the quoting from this line on") from None
    del line
    return np.asarray(lines_list, dtype=np.int64), bad_rows, bad_pos


def _bad_line_error(source: str, line: int, fields: int, ncol: int) -> BadLineError:
    hint = " (a trailing delimiter?)" if fields == ncol + 1 else ""
    return BadLineError(
        f"{source}:{line}: expected {ncol} fields as in the header, found {fields}{hint};"
        " fix the line, or pass --on-bad-lines skip (or warn)"
    )


def _arrow_failure(block: TextBlock, data: bytes, exc: Exception) -> Exception:
    """Say where pyarrow's complaint is: the first byte that is not UTF-8, if that is it."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = block.first_line + data.count(b"\n", 0, bad.start)
        shown = excerpt(data[max(0, bad.start - 10): bad.start + 10].decode("utf-8", "backslashreplace"))
        return InputError(f"{block.source}:{line}: not valid UTF-8 text (near {shown!r}); "
                          "pass the file's --encoding (e.g. latin-1, cp1252)")
    return BadLineError(f"{block.source}:{block.first_line}: this block cannot be parsed ({str(exc)[:200]}); "
                        "check --delimiter and quoting near this line")


def _arrow_table(data: bytes, plan: ParsePlan, used: list[int]):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = list(plan.names)
    if data.startswith(BOM):
        # pyarrow drops a byte-order mark only at the very start of what it reads; a block is
        # not the file's start, so keep the mark as the data it is (as anywhere else in a block).
        data = b"\n" + data
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=max(1 << 20, len(data) + 1)),
        parse_options=pacsv.ParseOptions(
            delimiter=plan.dialect.delimiter,
            quote_char=plan.dialect.quotechar,
            newlines_in_values=plan.dialect.quotechar.encode() in data,
            invalid_row_handler=lambda row: "skip",  # counted and reported by _record_lines
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: pa.string() for i in used},
            include_columns=[names[i] for i in used],
            null_values=list(NA_VALUES),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _refuse_rounded_integers(column, values: np.ndarray, *, name: str, lines: np.ndarray, source: str) -> None:
    """Refuse an integer cell that the float64 ``values`` round (9007199254740993 -> ...992).

    A column with empty cells or decimals is read as float64, and no float type holds
    every integer beyond 2**53.
    """
    import pyarrow.compute as pc

    suspects = np.flatnonzero(np.abs(values) >= 2**53)  # 2**53 + 1 rounds to 2**53
    if not suspects.size:
        return
    texts = column.take(suspects)
    integers = pc.match_substring_regex(texts, r"^[+-]?[0-9]+$").to_numpy(zero_copy_only=False)
    for row, text in zip(suspects[integers], texts.filter(integers).to_pylist()):
        if int(text) != float(values[row]):
            raise BadValueError(
                f"{source}:{int(lines[row])}: column {name!r} has {excerpt(text)!r}, an integer beyond 2**53 that"
                f" no float holds exactly, among empty cells or decimals; pass --drop {name}, or --categorical {name}"
                " to store it as codes"
            )


def _numbers(column, *, name: str, lines: np.ndarray, source: str, hint: str,
             fill: float | None = None) -> tuple[np.ndarray, bool]:
    """Convert a pyarrow string column to int64 or float64; (values, had empty cells)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pc.utf8_trim_whitespace(column)  # " 6 " is 6, as pandas reads it
    nulls = column.is_null()
    has_null = bool(pc.any(nulls).as_py()) if len(column) else False
    # pyarrow reads "0x1F" as 31; pandas and Python's float() call it text. Decimal only:
    # a hex-looking cell is usually an identifier, not a quantity.
    hex_like = pc.match_substring_regex(column, r"^[+-]?0[xX]") if len(column) else None
    for target_type in (pa.int64(), pa.float64()):
        if hex_like is not None and pc.any(hex_like).as_py():
            break
        try:
            converted = pc.cast(column, target_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if target_type == pa.int64():
            values = pc.fill_null(converted, 0).to_numpy()
            if not has_null:
                return values, has_null
            if fill is not None and float(fill).is_integer():  # filled as integers: a float rounds beyond 2**53
                return np.where(nulls.to_numpy(zero_copy_only=False), int(fill), values), has_null
            values = values.astype(np.float64)
            values[nulls.to_numpy(zero_copy_only=False)] = np.nan
        else:
            values = converted.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        _refuse_rounded_integers(column, values, name=name, lines=lines, source=source)
        return values, has_null
    for row, cell in enumerate(column.to_pylist()):
        if cell is None:
            continue
        if not cell.isascii() or "_" in cell:  # float() reads "1_000" and Arabic-Indic digits; pyarrow does not
            break
        try:
            float(cell)
        except ValueError:
            break
    else:  # pragma: no cover - pyarrow rejected a cell Python accepts (e.g. "1_0")
        row, cell = 0, column[0].as_py()
    raise BadValueError(
        f"{source}:{int(lines[row])}: column {name!r} has {excerpt(cell)!r}, which is not a number; {hint}"
    )


def _parse_general(block: TextBlock, data: bytes, plan: ParsePlan) -> tuple[np.ndarray, np.ndarray | None, dict[int, list[str]], list[str], list[tuple[int, int]], np.ndarray]:
    import pyarrow.compute as pc

    ncol = len(plan.names)
    lines, bad, bad_pos = _record_lines(data, block.first_line, plan, block.source)
    if bad and plan.on_bad_lines == "error":
        line, fields = bad[0]
        raise _bad_line_error(block.source, line, fields, ncol)
    if bad_pos:
        lines = np.delete(lines, bad_pos)
    used = sorted(set(plan.features) | set(plan.target))
    try:
        table = _arrow_table(data, plan, used)
    except Exception as exc:  # pyarrow.ArrowInvalid: the one failure left after our own line checks
        raise _arrow_failure(block, data, exc) from None
    rows = table.num_rows
    if rows != lines.size:  # pragma: no cover - both parsers follow RFC 4180; a mismatch is a bug
        raise RuntimeError(f"{block.source}:{block.first_line}: parsed {rows} rows but counted {lines.size} records")
    features = np.empty((rows, len(plan.features)), dtype=np.float64)
    categories: dict[int, list[str]] = {}
    widened: list[str] = []
    int_parts: dict[int, np.ndarray] = {}
    for j, col in enumerate(plan.features):
        name = plan.names[col]
        column = table.column(name)
        if col in plan.categorical:
            encoded = pc.dictionary_encode(column).combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.float64)
            categories[j] = [str(v) for v in encoded.dictionary.to_pylist()]
            features[:, j] = codes  # nulls become NaN through to_numpy
            continue
        values, had_empty = _numbers(
            column, name=name, lines=lines, source=block.source,
            hint=f"pass --categorical {name} to store text as codes, or --drop {name}", fill=plan.fill,
        )
        if had_empty and values.dtype.kind == "f" and plan.fill is None:
            if np.all(np.isnan(values) | (values == np.rint(values))):
                widened.append(name)
        if values.dtype.kind == "i":
            int_parts[j] = values
        features[:, j] = values
    if int_parts and all(j in int_parts for j in range(len(plan.features))):
        features = np.column_stack([int_parts[j] for j in range(len(plan.features))]) if rows else np.zeros((0, len(plan.features)), np.int64)
    elif int_parts:
        big = [plan.names[plan.features[j]] for j, v in int_parts.items() if v.size and np.abs(v).max() > 2**53]
        if big:
            raise BadValueError(
                f"{block.source}:{block.first_line}: column {big[0]!r} has integers beyond 2**53 while other"
                " columns have decimals; features share one dtype, so drop one of them (--drop)"
            )
    target = None
    if plan.target:
        parts = []
        for col in plan.target:
            name = plan.names[col]
            column = table.column(name)
            if column.null_count:
                row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
                raise BadValueError(
                    f"{block.source}:{int(lines[row])}: target column {name!r} is empty;"
                    " drop or fill the rows with no target"
                )
            try:
                values, _ = _numbers(column, name=name, lines=lines, source=block.source, hint="")
            except BadValueError:
                values = np.asarray(column.to_pylist(), dtype=object)
            parts.append(values)
        target = parts[0] if len(parts) == 1 else np.column_stack(parts)
    return features, target, categories, widened, bad, lines


def parse_block(block: TextBlock, plan: ParsePlan) -> ParsedBlock:
    """Turn one block of CSV lines into arrays, checking every cell."""
    data = block.text()
    if plan.dialect.comment:
        data = _strip_comments(data, plan.dialect.comment)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    ncol = len(plan.names)
    table = None
    if not plan.categorical and len(plan.dialect.delimiter.encode()) == 1:
        table = _parse_digits(data, ncol, plan.dialect.delimiter.encode()[0])
    lines = None
    if table is not None:
        features = table[:, _as_slice(plan.features)]
        target = table[:, list(plan.target)] if plan.target else None
        if target is not None and target.shape[1] == 1:
            target = target[:, 0]
        categories: dict[int, list[str]] = {}
        widened: list[str] = []
        bad: list[tuple[int, int]] = []
    else:
        features, target, categories, widened, bad, lines = _parse_general(block, data, plan)
    if plan.fill is not None and features.dtype.kind == "f":
        features = np.where(np.isnan(features), plan.fill, features)
    numeric_cols = [j for j in range(features.shape[1]) if j not in categories]
    numeric = features if not categories else features[:, numeric_cols]
    if plan.dtype != "auto":
        _check_forced_dtype(numeric, np.dtype(plan.dtype), block, plan, lines, numeric_cols)
    vr = value_range(numeric)
    if not categories and vr.integral:
        # Only whole numbers travel narrowed; decimals stay float64 until the file's
        # dtype is known (float32 -> float64 would not give back the text's value).
        features = features.astype(smallest_dtype(vr), copy=False)
    return ParsedBlock(
        index=block.index,
        source=block.source,
        rows=features.shape[0],
        features=features,
        value_range=vr,
        stats=ColumnStats.of(features),
        target=target,
        categories=categories,
        bad_lines=bad,
        int_columns_with_empty=widened,
        target_lines=lines if target is not None and target.dtype == object else None,
    )


def _check_forced_dtype(values: np.ndarray, dtype: np.dtype, block: TextBlock, plan: ParsePlan,
                        lines: np.ndarray | None, numeric_cols: list[int]) -> None:
    bad = unrepresentable(values, dtype)
    if not bad.any():
        return
    row, col = (int(i) for i in np.argwhere(bad)[0])
    line = int(lines[row]) if lines is not None else block.first_line + row
    name = plan.names[plan.features[numeric_cols[col]]]
    value = values[row, col]
    shown = "an empty cell" if isinstance(value, float) and np.isnan(value) else repr(excerpt(_format_number(value)))
    advice = "pass --fill VALUE or a float --dtype" if shown == "an empty cell" else "pass a wider --dtype, or --dtype auto"
    raise BadValueError(f"{block.source}:{line}: column {name!r} has {shown}, which {dtype.name} cannot hold exactly; {advice}")


def _format_number(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(float(value)) < 2**53:
        return str(int(value))
    return str(value.item() if hasattr(value, "item") else value)

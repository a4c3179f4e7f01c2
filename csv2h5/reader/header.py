"""Reading a CSV's header: its dialect (delimiter, quoting, decimal mark), its column names, where data starts;
and every input's header, checked to be the first's.

Also a helper the header shares with the rest of the reader: Python's csv module let read cells as
long as a line may be. Comments are stripped by ``comments``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import BadLineError, HeaderMismatchError, InputError, OptionError, SchemaError
from ..lists import header_difference
from .comments import strip_comments
from .limits import max_line_bytes
from .quotes import quoted_fields
from .source import Source

BOM = b"\xef\xbb\xbf"
_SNIFFED = ",;\t|"  # the delimiters --delimiter auto chooses from


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """How the text is written: delimited, quoted, its decimal mark and its spellings of a missing cell."""

    delimiter: str = ","
    quotechar: str = '"'
    comment: str | None = None
    decimal: str = "."  # "," for numbers written 70,5 (with another delimiter)
    na_values: tuple[str, ...] = ()  # missing-cell spellings besides pandas' (--na-values)

    def __post_init__(self) -> None:
        """Refuse one character given two meanings: which one a reader takes is a guess."""
        if self.comment is not None and self.comment == self.delimiter:
            raise OptionError(
                f"--comment {self.comment!r} is also the delimiter: each line would"
                " end at its first field; pass another --comment or --delimiter"
            )
        if self.comment is not None and self.comment == self.decimal:
            raise OptionError(
                f"--comment {self.comment!r} is also the decimal mark: a number such as"
                f" 3{self.comment}5 would end at it as a comment; pass another --comment"
            )
        if self.comment is not None and self.comment == self.quotechar:
            raise OptionError(
                f"--comment {self.comment!r} is also the quote character: a quoted cell would start as a comment;"
                " pass another --comment"
            )
        if self.decimal == self.delimiter == ".":  # a decimal comma beside --delimiter , is read in quotes ("70,5")
            raise OptionError(
                "--decimal '.' is also the delimiter: 3.5 would be two cells; pass another --delimiter, or --decimal ,"
            )


@dataclasses.dataclass(slots=True)
class Header:
    """What precedes the data: the column names and how many lines they took."""

    names: list[str]
    lines: int  # physical lines consumed (skipped rows + header)
    rest: bytes  # bytes read past the header, the start of the data
    dialect: Dialect


def _split_first_record(
    data: bytes, dialect: Dialect, at_eof: bool, *, name: str = "", first_line: int = 1, header: bool = True, skip: bool = False
) -> tuple[list[str], int, int] | None:
    """Parse the first CSV record: (fields, bytes used, lines used), or None if incomplete.

    A comment right after a closing quote is refused in a ``header``; in a record of data it is refused as in
    any other (with the advice of --on-bad-lines skip), or with ``skip`` (--on-bad-lines skip or warn) the
    record is passed over, as the data blocks skip it, and the next counts the fields.
    """
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
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as bad:
            if first_line == 1 and chunk.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text", PowerShell
                raise InputError(
                    f"{name}:1: the file starts with a UTF-16 byte-order mark: it is UTF-16 text, not UTF-8;"
                    " pass --encoding utf-16"
                ) from None
            shown = chunk[max(0, bad.start - 10) : bad.start + 10].decode("utf-8", "backslashreplace")
            line = first_line + chunk.count(b"\n", 0, bad.start)
            raise InputError(
                f"{name}:{line}: not valid UTF-8 text (near {shown[:40]!r}); pass the file's --encoding (e.g. latin-1, cp1252)"
            ) from None
        if end >= len(data) or not quoted_fields(chunk, dialect).ends_inside:  # its last line end is outside quotes
            if dialect.comment:  # the header's comment is cut too, as pandas cuts it
                skipped: list[tuple[int, int]] | None = [] if skip and not header else None
                kept = strip_comments(chunk, dialect, source=name, first_line=first_line, skipped=skipped, first_record=header)
                if skipped:
                    return _record_after(data, end + 1, dialect, at_eof, name=name, first_line=first_line + lines_here)
                text = kept.decode("utf-8")
            try:
                with long_fields():
                    rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter, quotechar=dialect.quotechar))
            except csv.Error as exc:
                raise _first_record_error(name, first_line, str(exc)) from None
            fields = rows[0] if rows else []
            return fields, min(end + 1, len(data)), lines_here
        pos = end + 1
        lines = lines_here


def _record_after(
    data: bytes, start: int, dialect: Dialect, at_eof: bool, *, name: str, first_line: int
) -> tuple[list[str], int, int] | None:
    """The first record of ``data[start:]`` past blank and comment lines, as ``_split_first_record`` gives it (data first)."""
    lines = data[start:].split(b"\n")
    if not at_eof:
        lines.pop()  # the last may be incomplete: read on if no record starts before it
    for line in lines:
        if line.rstrip(b"\r") and not _blank(line, dialect) and not line.startswith(dialect.comment.encode()):
            return _split_first_record(data[start:], dialect, at_eof, name=name, first_line=first_line, header=False, skip=True)
        start, first_line = start + len(line) + 1, first_line + 1
    if not at_eof:
        return None
    raise SchemaError(
        f"{name}: no data rows: the only record was skipped as a bad line (a --comment right after a closing quote);"
        " nothing to convert: put the comment inside the quotes or on a line of its own"
    )


def _first_record_error(name: str, line: int, reason: str) -> BadLineError:
    if "new-line character" in reason:
        return BadLineError(
            f"{name}:{line}: a carriage return (\\r) outside quotes in the first line; lines end with"
            " \\n or \\r\\n here (a file from an old Mac? convert its line ends: tr '\\r' '\\n')"
        )
    return BadLineError(f"{name}:{line}: the first line cannot be read as CSV ({reason}); check --delimiter and quoting")


def sniff_delimiter(sample: bytes, name: str, decimal: str = ".") -> str:
    """Guess the delimiter from the first lines (``--delimiter auto``); never the decimal mark."""
    text = sample[:65536].decode("utf-8", errors="replace")
    text = text[: text.rfind("\n") + 1] or text
    text = re.sub(r"(?m)^[ \t]+\r?$", "", text)  # lines of spaces and tabs only: blank, and they confuse the guess
    try:
        return csv.Sniffer().sniff(text, delimiters=_SNIFFED.replace(decimal, "")).delimiter
    except csv.Error:
        raise OptionError(
            f"{name}: could not guess the delimiter from the first lines; pass --delimiter ',' (or ';', tab, '|')"
        ) from None


def _guessed(data: bytes, dialect: Dialect, name: str, first_line: int, header: bool = True) -> Dialect:
    """``dialect`` with the delimiter guessed from ``data``, the first lines from line ``first_line`` of ``name`` on.

    A record with a comment right after a closing quote is left out of the guess (the ``header``'s is refused):
    the data's are refused or skipped as --on-bad-lines says once their blocks are read.
    """
    if dialect.comment:
        data = strip_comments(data, dialect, source=name, first_line=first_line, skipped=[], first_record=header)
    return dataclasses.replace(dialect, delimiter=sniff_delimiter(data, name, dialect.decimal))


def read_header(
    source: Source,
    *,
    dialect: Dialect,
    header: bool,
    names: tuple[str, ...],
    skip_rows: int,
    block_bytes: int,
    skip_bad: bool = False,
) -> Header:
    """Read past skipped lines and the header; return the names and the leftover bytes.

    ``skip_bad``: --on-bad-lines skip or warn, which with --no-header skips a first record that cannot count the
    columns (a comment right after a closing quote) as it skips any other; a header's is refused.
    """
    data = b""
    at_eof = False
    lines = 0

    def more(size: int = max(block_bytes, 1 << 16)) -> None:
        nonlocal data, at_eof
        chunk = source.read(size)
        if not chunk:
            at_eof = True
        data += chunk

    # A header is usually far shorter than a block: reading a whole block first costs its pages for nothing
    # when the parser processes read the data themselves (more is read below if the header is longer).
    more(1 << 16)
    if data.startswith(BOM):
        data = data[len(BOM) :]
    for _ in range(skip_rows):
        while b"\n" not in data and not at_eof:
            more()
        cut = data.find(b"\n")
        if cut < 0:
            whole = lines + (1 if data else 0)  # a last line without its newline counts too
            raise SchemaError(f"{source.name}: --skip-rows {skip_rows} skips the whole file ({whole} lines)")
        data = data[cut + 1 :]
        lines += 1
    if dialect.delimiter == "auto":
        while data.count(b"\n") < 20 and not at_eof and len(data) < (1 << 20):
            more()
        dialect = _guessed(data, dialect, source.name, lines + 1, header)
    # Skip blank lines (empty, or spaces and tabs only) and comment lines before the header, as pandas does.
    while True:
        while b"\n" not in data and not at_eof:
            more()
        stripped = data.lstrip(b"\r\n")
        data, lines = stripped, lines + data.count(b"\n", 0, len(data) - len(stripped))
        cut = data.find(b"\n")
        if cut < 0 and not at_eof:  # the first line is not read whole yet
            more()
            continue
        first = data[:cut] if cut >= 0 else data
        if (dialect.comment and first.startswith(dialect.comment.encode())) or _blank(first, dialect):
            data, lines = (data[cut + 1 :] if cut >= 0 else b""), lines + 1
            continue
        break
    if not data:
        what = "no header line" if header else "no data"
        raise SchemaError(f"{source.name} is empty ({what}); check the file, or --skip-rows")
    while True:
        record = _split_first_record(data, dialect, at_eof, name=source.name, first_line=lines + 1, header=header, skip=skip_bad)
        if record is not None:
            break
        if len(data) > max_line_bytes():
            raise BadLineError(
                f"{source.name}:{lines + 1}: the first record is over {max_line_bytes() >> 20} MiB; check --delimiter and quoting"
            )
        more()
    return _header_of(record, data, lines, dialect, name=source.name, header=header, names=names)


def _header_of(
    record: tuple[list[str], int, int],
    data: bytes,
    lines: int,
    dialect: Dialect,
    *,
    name: str,
    header: bool,
    names: tuple[str, ...],
) -> Header:
    """The Header of the first record (``_split_first_record``) of ``data``, which starts at line ``lines + 1``."""
    fields, used, used_lines = record
    fields = [f.rstrip("\r") if i == len(fields) - 1 else f for i, f in enumerate(fields)]
    if not names:  # --names says how many columns there are
        _check_one_column(fields, dialect, name, lines + 1)
    if header and any("\x00" in f for f in fields):
        raise InputError(
            f"{name}:{lines + 1}: the header holds a NUL byte, which no column name can;"
            " is the file binary, or UTF-16 text (pass --encoding utf-16)?"
        )
    if header:
        columns = [f if f != "" else f"Unnamed: {i}" for i, f in enumerate(fields)]
        return Header(columns, lines + used_lines, data[used:], dialect)
    if names:
        if len(names) != len(fields):
            raise SchemaError(f"{name}:{lines + 1}: --names gives {len(names)} names but the first line has {len(fields)} fields")
        return Header(list(names), lines, data, dialect)
    return Header([f"c{i}" for i in range(len(fields))], lines, data, dialect)


def read_headers(
    paths: Sequence[Path],
    *,
    dialect: Dialect,
    encoding: str,
    header: bool,
    names: tuple[str, ...],
    skip_rows: int,
    block_bytes: int,
    skip_bad: bool = False,
) -> Iterator[tuple[Source, Header]]:
    """Each input opened with its header read (closed when the next one opens); every header must be the first's.

    Raises:
        HeaderMismatchError: an input's column names are not the first input's.
    """
    first_names: list[str] | None = None
    for path in paths:
        source = Source(path, encoding=encoding)
        try:
            found = read_header(
                source,
                dialect=dialect,
                header=header,
                names=names,
                skip_rows=skip_rows,
                block_bytes=block_bytes,
                skip_bad=skip_bad,
            )
            if first_names is None:
                first_names = found.names
                dialect = found.dialect  # a sniffed delimiter is kept for every file
            elif found.names != first_names:
                raise HeaderMismatchError(header_difference(paths[0], first_names, source.name, found.names))
            yield source, found
        finally:
            source.close()


def blank_bytes(dialect: Dialect) -> bytes:
    """What a blank line may hold besides its line end: spaces and tabs, but not the delimiter (that ends a cell)."""
    return b" \t".replace(dialect.delimiter.encode(), b"")


def _blank(line: bytes, dialect: Dialect) -> bool:
    """Whether a line (without its \\n) holds only spaces and tabs, and the \\r of a CRLF line end."""
    line = line[:-1] if line.endswith(b"\r") else line
    return bool(line) and not line.translate(None, blank_bytes(dialect))


def _check_one_column(fields: list[str], dialect: Dialect, name: str, line: int) -> None:
    """Refuse a first line read as one column that holds another usual delimiter: the wrong --delimiter.

    Read on, its rows would be one column of text, refused with advice to store
    them as categories.
    """
    if len(fields) != 1:
        return
    found = [d for d in ("\t", ";", "|", ",") if d != dialect.delimiter and d in fields[0]]
    if found:
        spelled = {"\t": "tab"}.get(found[0], found[0])
        words = {"\t": "tabs", ";": "semicolons", "|": "'|'", ",": "commas"}[found[0]]
        import shlex  # only for this message: not loaded by every conversion

        raise SchemaError(
            f"{name}:{line}: the first line is one column holding {words}: is the file"
            f" {spelled}-separated? pass --delimiter {shlex.quote(spelled)} (or --delimiter auto to guess)"
        )


@contextlib.contextmanager
def long_fields() -> Iterator[None]:
    """Let Python's csv module read cells as long as a line may be (its default stops at 128 KiB)."""
    previous = csv.field_size_limit(max_line_bytes())
    try:
        yield
    finally:
        csv.field_size_limit(previous)

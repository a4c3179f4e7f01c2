"""Opening inputs: files, pipes and compressed streams, read as UTF-8 bytes."""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import lzma
import os
import select
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import InputError, OptionError

_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}
_UTF8_NAMES = {"utf-8", "utf8", "utf_8", "ascii", "us-ascii", "utf-8-sig"}

_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zstd")
_TAB_SUFFIXES = (".tsv", ".tab")
STDIN_NAME = "<stdin>"  # the name in messages of the input "-"


def is_stdin(path: str | os.PathLike[str]) -> bool:
    """Whether an input path is ``-``: standard input, as most command-line tools take it."""
    return os.fspath(path) == "-"


def source_name(path: str | os.PathLike[str]) -> str:
    """An input's name in messages and in the file's ``sources`` record."""
    return STDIN_NAME if is_stdin(path) else str(path)


def default_delimiter(path: str | os.PathLike[str], decimal: str = ".") -> str:
    """The delimiter of an input no --delimiter was given for: what its name says.

    ``.tsv`` and ``.tab`` files (compressed too, e.g. ``data.tsv.gz``) are tab-separated;
    the rest comma-separated, or semicolon-separated with decimal commas (as spreadsheets
    in European locales write them: the comma is taken).
    """
    name = os.fspath(without_compression_suffix(os.fspath(path).lower()))
    if name.endswith(_TAB_SUFFIXES):
        return "\t"
    return ";" if decimal == "," else ","


def without_compression_suffix(path: str | os.PathLike[str]) -> Path:
    """``path`` without the suffixes of the compressions csv2h5 reads: ``day.csv`` of ``day.csv.gz``."""
    path = Path(path)
    while path.suffix.lower() in _COMPRESSED_SUFFIXES:
        path = path.with_suffix("")
    return path


def compression_of(head: bytes) -> str | None:
    """The compression a stream starting with ``head`` is in (gzip, bz2, xz, zstd), or None."""
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


def _compression_of(raw: io.BufferedReader) -> str | None:
    return compression_of(raw.peek(6)[:6])  # peek, not read: a pipe cannot be rewound


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
    if is_stdin(path):  # read as a pipe even when redirected from a file: parser processes cannot re-read it
        return io.BufferedReader(_Pipe(os.dup(0)), buffer_size=1 << 16)
    fd = os.open(path, os.O_RDONLY)
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return open(fd, "rb")
    return io.BufferedReader(_Pipe(fd), buffer_size=1 << 16)


class Source:
    """One input file, opened for streaming as (decompressed, UTF-8) bytes."""

    def __init__(self, path: Path, *, encoding: str = "utf-8") -> None:
        self.path = Path(path)
        self.name = source_name(path)
        stdin = is_stdin(path)
        if not stdin and not self.path.exists():
            raise InputError(f"{self.name}: no such file; check the path")
        if not stdin and self.path.is_dir():
            raise InputError(f"{self.name} is a directory; pass the CSV files inside it")
        try:
            self._raw = _open_raw(self.path)
            self.compression = _compression_of(self._raw)
        except PermissionError:
            raise InputError(f"{self.name}: permission denied; check the file's permissions") from None
        except OSError as exc:
            raise InputError(f"{self.name}: cannot read ({exc.strerror})") from None
        status = os.fstat(self._raw.fileno())
        regular = stat.S_ISREG(status.st_mode) and not stdin  # not a pipe, e.g. <(zcat data.csv.gz)
        self.size = status.st_size if regular else 0
        self.position = 0  # decompressed bytes returned by read() so far
        self._overflow = b""  # transcoded bytes read but not yet returned
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
        with self._reading():
            if self._text is not None:
                data = self._text.read(size).encode("utf-8")
            else:
                data = self._stream.read(size)
        self.position += len(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        """Fill up to ``len(buffer)`` decompressed UTF-8 bytes into ``buffer``; 0 at the end."""
        with self._reading():
            if self._text is None:
                count = self._stream.readinto(buffer) or 0
            else:  # transcoded text: a character may take up to 4 bytes, so keep what does not fit
                data = self._overflow or self._text.read(max(1, len(buffer) // 4)).encode("utf-8")
                count = min(len(data), len(buffer))
                buffer[:count] = data[:count]
                self._overflow = data[count:]
        self.position += count
        return count

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn a damaged stream's many exception types into one InputError."""
        try:
            yield
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

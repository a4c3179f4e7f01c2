"""Writing an output file all or nothing: its path checked, written beside it, renamed when complete.

``convert`` and ``merge`` both write through :class:`AtomicOutput`: the file
is written under a temporary name beside the output (:mod:`csv2h5.scratch`)
and renamed only when finished, so a failure or Ctrl-C never leaves a file
that looks finished, nor a temporary; a failed write (a full disk, a file-size
limit) becomes one line for people.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from .errors import Csv2H5Error, OutputError, OutputExistsError
from .scratch import sweep_stale, temporary_path


def output_path(output: str | os.PathLike[str], *, example: str = "data.h5") -> Path:
    """The output as a Path, refused when it ends in a separator (``new/``): a directory, not a file to write."""
    text = os.fspath(output)
    last = text.rstrip("".join(filter(None, (os.sep, os.altsep)))).rsplit(os.sep, 1)[-1]
    if text.endswith(tuple(filter(None, (os.sep, os.altsep)))) or last in (".", ".."):  # Path("new/.") would be new
        folder = text if text.endswith(os.sep) else text + os.sep
        raise OutputError(f"{text} names a directory; pass a file name such as {folder}{example}")
    return Path(text)


def check_output(
    output: Path, *, inputs: Sequence[Path] = (), overwrite: bool = False, append: bool | None = None, example: str = "data.h5"
) -> None:
    """Refuse an output that cannot be written, or must not be, before any input is read.

    Args:
        output: the file to write.
        inputs: the files read (pipes left out): none of them may be the output.
        overwrite: an existing output may be replaced.
        append: rows are added to the output, which must exist (``convert --append``); None for a
            command that cannot append.
        example: a file name to suggest when ``output`` is a directory.
    """
    if not output.parent.is_dir():
        raise OutputError(f"{output.parent} does not exist; create the directory first")
    if output.is_dir():
        raise OutputError(f"{output} is a directory; pass a file name such as {output / example}")
    if output.exists() and not (overwrite or append):
        also = " or --append to add rows" if append is not None else ""
        raise OutputExistsError(f"{output} already exists; pass --overwrite to replace it{also}")
    if append and not output.exists():
        raise OutputError(f"{output} does not exist, so there is nothing to --append to; drop --append")
    for path in inputs:
        if path.exists() and output.exists() and path.resolve() == output.resolve():
            raise OutputError(f"{output} is also an input; write to another file")


def write_failure(output: Path, exc: OSError) -> str:
    """One line for a failed write; h5py hides the errno inside its message."""
    return f"cannot write {output}: {write_reason(exc)}; nothing was written"


def write_reason(exc: OSError) -> str:
    """Why a write failed, and what to do, in a few words."""
    code = exc.errno
    if code is None:
        found = re.search(r"errno = (\d+)", str(exc))
        code = int(found.group(1)) if found else None
    reasons = {
        errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
        errno.EFBIG: "the file grew too large for this system's file-size limit (ulimit -f) or file system",
        errno.EDQUOT: "the disk quota is exceeded; free some space or write elsewhere",
    }
    return reasons.get(code) or (os.strerror(code) if code else str(exc).splitlines()[0][:200])


class AtomicOutput:
    """One output written under a temporary name and renamed by :meth:`commit`; a context manager.

    Leaving the ``with`` block by an exception (or calling :meth:`abandon`)
    closes what was registered with :meth:`on_failure` (in reverse order),
    removes the temporary and the scratch files, and turns an ``OSError`` that
    is not a :class:`Csv2H5Error` into an :class:`OutputError` (see :func:`write_failure`).
    """

    SCRATCH = ("target.tmp", "tmp.repack")  # what a conversion may write beside the temporary

    def __init__(self, output: Path, *, on_notice: Callable[[str], None] | None = None) -> None:
        """Remove the temporaries earlier killed runs to ``output`` left (told to ``on_notice``)."""
        self.output = output
        self.temporary = temporary_path(output)
        self._closers: list[Callable[[], object]] = []
        swept = sweep_stale(output)
        if swept and on_notice is not None:
            on_notice(swept.describe())

    def scratch(self, suffix: str) -> Path:
        """The name of a scratch file beside the output (one of ``SCRATCH``), removed on failure."""
        return temporary_path(self.output, suffix)

    def on_failure(self, close: Callable[[], object]) -> None:
        """Call ``close`` (e.g. a writer's) before the files are removed after a failure."""
        self._closers.append(close)

    def commit(self) -> None:
        """Rename the finished temporary to the output."""
        os.replace(self.temporary, self.output)

    def abandon(self, exc: BaseException) -> NoReturn:
        """After ``exc``: close what was registered, remove the temporaries, and raise (an OutputError for a failed write)."""
        for close in reversed(self._closers):
            close()
        for path in (self.temporary, *(temporary_path(self.output, s) for s in self.SCRATCH)):
            try:
                path.unlink(missing_ok=True)
            except OSError:  # pragma: no cover - nothing more to do
                pass
        if isinstance(exc, OSError) and not isinstance(exc, Csv2H5Error):  # a full disk, a file-size limit
            raise OutputError(write_failure(self.output, exc)) from None
        raise exc

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            self.abandon(exc)

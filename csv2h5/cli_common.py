"""What both command lines share: one-line errors, exit codes, --version, SIGTERM, int lists.

``csv2h5`` and ``h5train`` import these; nothing here imports Keras, so
``h5train --help`` and ``--version`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from ._version import __version__
from .errors import OptionError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters shown as escapes.

    Messages quote what was found in the data (a column name, a cell), which may hold
    a carriage return or a newline; printed raw, they would break the one-line promise.
    """
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text.strip())


def fail(message: str, code: int = EXIT_USER_ERROR) -> None:
    """Print one line ``error: ...`` to stderr and exit (user errors: 2; interruptions: 130)."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def parse_ints(text: str | None, option: str) -> tuple[int, ...] | None:
    """``28,28,1`` or ``28x28x1`` as a tuple of ints (None for no text).

    Raises:
        OptionError: the text holds something other than integers.
    """
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise OptionError(f"{option} takes integers like 28,28,1, got {text!r}") from None


def version_callback(program: str) -> Callable[[bool], None]:
    """A ``--version`` callback that prints ``program`` and the package version, then exits."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{program} {__version__}")
            raise typer.Exit()

    return show


def terminate(signum: int, frame: object) -> None:
    """SIGTERM handler: stop as Ctrl-C does, through the same clean-up."""
    raise KeyboardInterrupt

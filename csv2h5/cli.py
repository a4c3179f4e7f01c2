"""``csv2h5``: typer only — parse arguments, show progress, map errors to exit codes."""

# No ``from __future__ import annotations`` here: typer reads the options from the annotations,
# and strings would be evaluated again on every run (15-30 ms; objects: 3-4 ms).

import gc
import os
import signal
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated

import typer

from .cli_common import EXIT_INTERRUPTED, fail, parse_ints, terminate, version_callback
from .cli_options import (
    AppendOption,
    CategoricalOption,
    ChunkRowsOption,
    CommentOption,
    CompressionOption,
    DatetimeOption,
    DecimalOption,
    DelimiterOption,
    DropOption,
    DtypeOption,
    EncodingOption,
    FeaturesOption,
    FillOption,
    HeaderOption,
    InputsArgument,
    LikeOption,
    MaxCategoriesOption,
    NamesOption,
    NaValuesOption,
    OnBadLinesOption,
    OutputOption,
    OverwriteOption,
    QuietOption,
    SampleShapeOption,
    SkipRowsOption,
    TargetOption,
    TaskOption,
)
from .errors import Csv2H5Error
from .options import MAX_CATEGORIES, ConvertOptions

if TYPE_CHECKING:
    from .convert import Progress

# The engine (numpy, h5py, pyarrow) is imported by the command that uses it, after ``main``
# has set up the process: ``--version``, ``--help`` and a mistyped option need none of it.

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Convert large CSV files into one chunked HDF5 file for training.",
)


def _split(values: list[str]) -> tuple[str, ...]:
    """Accept both repeated options and comma lists: --drop a --drop b == --drop a,b."""
    return tuple(part for value in values for part in value.split(",") if part != "")


def _note(line: str) -> None:
    typer.echo(f"note: {line}", err=True)


@app.command()
def convert(
    inputs: InputsArgument,
    output: OutputOption,
    target: TargetOption = [],
    features: FeaturesOption = [],
    drop: DropOption = [],
    categorical: CategoricalOption = [],
    datetime: DatetimeOption = [],
    max_categories: MaxCategoriesOption = MAX_CATEGORIES,
    header: HeaderOption = True,
    names: NamesOption = None,
    delimiter: DelimiterOption = None,
    decimal: DecimalOption = ".",
    skip_rows: SkipRowsOption = 0,
    comment: CommentOption = None,
    encoding: EncodingOption = "utf-8",
    dtype: DtypeOption = "auto",
    fill: FillOption = None,
    na_values: NaValuesOption = [],
    task: TaskOption = "auto",
    sample_shape: SampleShapeOption = None,
    chunk_rows: ChunkRowsOption = None,
    compression: CompressionOption = "none",
    on_bad_lines: OnBadLinesOption = "error",
    overwrite: OverwriteOption = False,
    append: AppendOption = False,
    like: LikeOption = None,
    quiet: QuietOption = False,
) -> None:
    """Convert CSV files into one chunked HDF5 file."""
    given = SimpleNamespace(**locals())  # every command-line option, by name, for _convert_options
    from .convert import convert as run_convert

    signal.signal(signal.SIGTERM, terminate)
    try:
        options = _convert_options(given)
        with _progress(quiet) as on_progress:
            report = run_convert(inputs, output, options=options, on_progress=on_progress, on_notice=_note)
    except Csv2H5Error as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; nothing was written (no partial output left)", EXIT_INTERRUPTED)
    except OSError as exc:
        if exc.errno in (28, 27):  # ENOSPC, EFBIG
            fail(f"{output}: no space left (or file size limit); nothing was written. Free space and run again")
        raise
    if options.on_bad_lines == "warn" and report.bad_lines:
        typer.echo(f"warning: {report.bad_lines_skipped}", err=True)
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if not quiet:
        typer.echo(report.summary())


def _convert_options(given: SimpleNamespace) -> ConvertOptions:
    """The engine's options from convert's command line: comma lists split, numbers parsed.

    Raises:
        Csv2H5Error: an option the engine cannot take (ConvertOptions checks them).
    """
    return ConvertOptions(
        target=_split(given.target),
        features=_split(given.features),
        drop=_split(given.drop),
        categorical=_split(given.categorical),
        datetime=_split(given.datetime),
        max_categories=given.max_categories,
        header=given.header,
        names=tuple(given.names.split(",")) if given.names else (),  # an empty name is kept, to be refused
        delimiter=given.delimiter,
        decimal=given.decimal,
        skip_rows=given.skip_rows,
        comment=given.comment,
        encoding=given.encoding,
        dtype=given.dtype,
        fill=given.fill,
        na_values=tuple(given.na_values),  # not split at commas: a spelling is taken whole
        task=given.task,
        sample_shape=parse_ints(given.sample_shape, "--sample-shape"),
        chunk_rows=given.chunk_rows,
        compression=given.compression,
        on_bad_lines=given.on_bad_lines,
        overwrite=given.overwrite,
        append=given.append,
        like=given.like,
    )


def _may_draw_bar() -> bool:
    """Whether stderr may be a terminal to rich: only then is rich imported (30-40 ms of every run).

    rich's own test (``Console.is_terminal``) still decides; this only skips it where that test
    can only say no: stderr no terminal and neither TTY_COMPATIBLE nor FORCE_COLOR set.
    """
    if os.environ.get("TTY_COMPATIBLE") or os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


class _progress:
    """A rich progress bar over input bytes, or nothing with --quiet / no terminal."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = None

    def __enter__(self):
        if self.quiet or not _may_draw_bar():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn
        from rich.progress import Progress as Bar

        console = Console(stderr=True)
        self.bar = Bar(
            TextColumn("converting"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.bar.__enter__()
        self.task = None

        def advance(p: "Progress") -> None:
            if self.task is None:
                self.task = self.bar.add_task("convert", total=p.bytes_total, rows="0")
            elapsed = self.bar.tasks[0].elapsed or 0.0
            rate = f"{p.rows / elapsed:,.0f}" if elapsed > 0 else "-"
            self.bar.update(self.task, completed=p.bytes_done, rows=rate)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@app.command()
def info(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files written by csv2h5 convert, or glob patterns for them.", show_default=False, readable=False),
    ],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print JSON for scripts: one named file's object; a list for several files or a pattern."),
    ] = False,
) -> None:
    """Describe converted files: rows, columns, dtype, chunks, target, stats."""
    from . import jsontext
    from .info import describe, render
    from .inputs import expand_patterns

    try:  # every file described before any is printed: an error leaves no half-printed JSON
        found = expand_patterns(paths)
        described = [describe(path) for path in found]
    except Csv2H5Error as exc:
        fail(str(exc))
    if as_json:
        # One file named as it is: its object. Several, or a pattern (however many it matched): a list,
        # so a script's pattern gives one shape of output whatever it matches.
        one = len(paths) == 1 and found == [Path(paths[0])]
        typer.echo(jsontext.dumps(described[0] if one else described, indent=2))
    else:
        typer.echo("\n\n".join(map(render, described)))


@app.command()
def merge(
    parts: Annotated[
        list[Path],
        typer.Argument(
            help="Converted files of one schema, joined in this order; a glob pattern's files come sorted by name.",
            show_default=False,
            readable=False,
        ),
    ],
    output: OutputOption,
    overwrite: OverwriteOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary line.")] = False,
) -> None:
    """Join converted files of one schema into one file (rows copied; stats merged exactly)."""
    from .merge import merge as run_merge

    signal.signal(signal.SIGTERM, terminate)
    try:
        report = run_merge(parts, output, overwrite=overwrite, on_notice=_note)
    except Csv2H5Error as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; nothing was written (no partial output left)", EXIT_INTERRUPTED)
    if not quiet:
        typer.echo(report.summary())


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback("csv2h5"), is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Convert large CSV files into one chunked HDF5 file for training."""


def main() -> None:
    """Console-script entry point."""
    # The converter does no linear algebra: OpenBLAS's threads, started as numpy loads, cost
    # every run about 60 ms of CPU (measured on 2 cores) and nothing else. A user's setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        app()
    except BrokenPipeError:  # e.g. `csv2h5 info --json big.h5 | head`
        sys.exit(0)
    finally:
        # The interpreter's last garbage collections walk every object numpy, pyarrow and h5py
        # made (50-60 ms); the process ends anyway. Exit handlers still run, files still flush.
        gc.freeze()


def run() -> None:
    """The ``csv2h5`` program (console script, ``python -m csv2h5``): :func:`main`, and the process
    ends at once after a command that succeeded. ``main`` itself raises ``SystemExit`` as ever,
    for callers that run it in their own process."""
    try:
        main()
    except SystemExit as exc:
        if not exc.code:
            _end_at_once()  # returns where that could lose anything: the interpreter ends as ever
        raise


def _end_at_once() -> None:
    """End a command that succeeded without the interpreter's teardown, which then frees every
    object of numpy, pyarrow and h5py one by one (about 15 ms of a 2-row conversion, measured).

    What a normal end does that counts is done first: exit handlers (``atexit``: logging,
    ``multiprocessing``, temporary directories) and flushing stdout and stderr. Only when no
    other thread runs (the interpreter would wait for it) and no HDF5 file is open (the
    library would close it at exit); otherwise, or if stdout cannot be flushed (a closed
    pipe, which the interpreter reports), this returns and the process ends as usual.
    """
    import threading

    if threading.active_count() > 1:
        return
    h5py = sys.modules.get("h5py")
    if h5py is not None and h5py.h5f.get_obj_count(h5py.h5f.OBJ_ALL, h5py.h5f.OBJ_FILE):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        os._exit(120)  # what the interpreter exits with when it cannot flush stdout at the end
    os._exit(0)

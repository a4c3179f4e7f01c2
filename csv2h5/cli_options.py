"""The arguments and options of ``csv2h5 convert`` (and ``merge``), declared once as typer annotations.

Each alias holds what typer shows and checks: the option's spelling, its type and its help. The
command's signature gives the parameter name and the default, in the order ``--help`` lists them;
the command turns what it receives into the engine's options.
"""

from pathlib import Path
from typing import Annotated

import typer

# readable=False: typer would refuse an unreadable input with a usage box of several lines; the
# engine says it in one.
InputsArgument = Annotated[
    list[Path],
    typer.Argument(
        help="CSV files (plain, .gz, .bz2, .xz, .zst) sharing one header, or glob patterns for them; - reads standard input.",
        show_default=False,
        readable=False,
    ),
]
# Text, not a Path: Path("new/") drops the separator that says the user named a directory.
OutputOption = Annotated[str, typer.Option("--output", "-o", help="HDF5 file to write.", show_default=False)]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]

# Which columns are read, and what each becomes.
TargetOption = Annotated[list[str], typer.Option(help="Column to store as /target (repeatable; index with --no-header).")]
FeaturesOption = Annotated[
    list[str], typer.Option(help="Feature columns: names, indices or globs like 'pixel*' (default: all others).")
]
DropOption = Annotated[list[str], typer.Option(help="Columns to leave out (names, indices or globs).")]
CategoricalOption = Annotated[
    list[str], typer.Option(help="Text feature column stored as codes, vocabulary in /categories; 'auto': every column of text.")
]
DatetimeOption = Annotated[
    list[str], typer.Option(help="Column of ISO-8601 dates, stored as seconds since 1970-01-01 UTC (names or globs).")
]
MaxCategoriesOption = Annotated[
    int, typer.Option(help="--categorical auto refuses a column with more distinct values (identifiers, free text).")
]

# How the text is read.
HeaderOption = Annotated[bool, typer.Option("--header/--no-header", help="Whether the first line names the columns.")]
NamesOption = Annotated[str | None, typer.Option(help="Column names for --no-header input: a,b,c.")]
DelimiterOption = Annotated[
    str | None,
    typer.Option(
        help="Field delimiter: one character, 'tab' (or '\\t'), or 'auto' to guess."
        " Default: tab for .tsv/.tab files, ';' with --decimal ',', else ','.",
        show_default=False,
    ),
]
DecimalOption = Annotated[str, typer.Option(help="Decimal mark of the numbers: '.' or ',' (70,5 is 70.5), as pandas' decimal=.")]
SkipRowsOption = Annotated[int, typer.Option(help="Lines to skip before the header.")]
CommentOption = Annotated[str | None, typer.Option(help="Comment character: the rest of the line is ignored.")]
EncodingOption = Annotated[str, typer.Option(help="Text encoding of the input.")]
OnBadLinesOption = Annotated[
    str,
    typer.Option(
        help="Rows with the wrong number of fields, an empty target, or a --comment right after a closing quote: error|skip|warn."
    ),
]

# What the values become.
DtypeOption = Annotated[str, typer.Option(help="Feature dtype: auto|uint8|int8|int16|int32|int64|float16|float32|float64.")]


def _number(text: str) -> float:
    """A --fill as written: an integer stays exact (2**53 + 1 is no float), for ConvertOptions to judge; else a float."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None


FillOption = Annotated[
    float | None, typer.Option(help="Value for empty cells of number columns (default: NaN).", parser=_number, metavar="<float>")
]
NaValuesOption = Annotated[
    list[str], typer.Option(help="More spellings of a missing cell, besides pandas' (NA, null, ...): '?', '-'.")
]
TaskOption = Annotated[str, typer.Option(help="Target task: auto|classification|regression.")]
SampleShapeOption = Annotated[str | None, typer.Option(help="Shape of one row for image models, e.g. 28,28,1.")]

# The output file.
ChunkRowsOption = Annotated[int | None, typer.Option(help="Rows per HDF5 chunk (default: about 1 MiB).")]
CompressionOption = Annotated[str, typer.Option(help="none|lzf|gzip[:1-9] (none keeps the fast memory-map reader).")]
OverwriteOption = Annotated[bool, typer.Option(help="Replace OUTPUT if it exists.")]
AppendOption = Annotated[bool, typer.Option(help="Add the rows to an existing OUTPUT of the same schema.")]
LikeOption = Annotated[
    Path | None,
    typer.Option(
        help="Follow this converted file: its column roles, dtype, task, classes and vocabularies"
        " (known values keep their codes).",
        show_default=False,
    ),
]

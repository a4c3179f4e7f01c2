"""What a conversion starts from, built before its first block is read.

A new file, or a copy of the file appended to (``--append``: its schema checked,
its statistics, dtype, vocabularies, column kinds and target rows taken up),
and the ``--like`` template's dtype, codes, kinds and classes.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .categories import Vocabularies
from .columnkinds import ColumnKinds
from .dtypes import FeatureDtype, range_of_dtype
from .errors import HeaderMismatchError, OptionError, number_text
from .kinds import StoredKinds
from .layout import (
    FEATURES,
    FILL,
    SAMPLE_SHAPE,
    TARGET,
    FileHeader,
    fill_text,
    open_csv2h5,
    open_header,
    read_categories,
    read_file_header,
    read_stats,
)
from .lists import header_difference
from .options import ConvertOptions, dtype_holds, parse_compression
from .output import AtomicOutput
from .reader import ParsePlan
from .schema import ColumnRoles, ValueRange, check_sample_shape
from .stats import ColumnStats
from .target import TargetCollector
from .vocabulary import unite
from .writer import H5Writer

if TYPE_CHECKING:  # the template module loads only with --like
    from .like import Template


@dataclasses.dataclass
class Start:
    """The parts a conversion writes through."""

    writer: H5Writer
    kinds: ColumnKinds
    dtype: FeatureDtype
    vocabularies: Vocabularies
    stats: ColumnStats  # of the rows written so far
    targets: TargetCollector | None  # None: no target column
    existing_rows: int = 0  # rows of the file appended to


@dataclasses.dataclass
class _Appended:
    """What the file appended to holds beside its features."""

    header: FileHeader
    kinds: StoredKinds
    target: np.ndarray | None  # its target rows (labels, or numbers), written again with the new ones


def start(
    roles: ColumnRoles,
    plan: ParsePlan,
    options: ConvertOptions,
    output_file: AtomicOutput,
    template: Template | None,
    *,
    source: str,
    expected_bytes: int | None,
    encoders: dict[str, object],
) -> Start:
    """Open the output (new, or a copy of the file appended to) and everything its rows go through.

    ``source``: the first input, for messages. The files opened are closed by ``output_file`` on a failure.
    """
    o = options
    sample_shape = o.sample_shape or (template.sample_shape if template is not None else None)
    check_sample_shape(sample_shape, len(roles.features), target=bool(roles.target))
    floor = template.floor() if template is not None and o.dtype == "auto" else ValueRange()
    vocabularies = Vocabularies(o.max_categories)
    appended: _Appended | None = None
    if o.append:
        open_csv2h5(output_file.output).close()  # not HDF5, or another tool's HDF5: said in one line, before the copy
        shutil.copyfile(output_file.output, output_file.temporary)  # the original stays untouched until the rename
        writer = H5Writer(output_file.temporary, mode="r+", expected_bytes=expected_bytes, **encoders)
        output_file.on_failure(writer.close)
        appended = _adopt(writer, roles, o, output_file.output, source, vocabularies)
        stats = ColumnStats.from_stored(read_stats(writer.file, output_file.output), appended.header.rows)
        # The stored dtype already holds the old rows; it is where widening starts.
        dtype = FeatureDtype(o.dtype, range_of_dtype(appended.header.dtype, stats, appended.header.float32_values).merge(floor))
    else:
        writer = H5Writer(output_file.temporary, expected_bytes=expected_bytes, **encoders)
        output_file.on_failure(writer.close)
        dtype = FeatureDtype(o.dtype, floor)
        writer.create_features(
            roles.feature_names, dtype.start_dtype(), chunk_rows=o.chunk_rows, compression=parse_compression(o.compression)
        )
        if sample_shape:
            writer.set_attrs(FEATURES, {SAMPLE_SHAPE: list(sample_shape)})
        if o.fill is not None:  # --append and --like take it up (settled_options)
            writer.set_attrs(FEATURES, {FILL: o.fill})
        stats = ColumnStats.empty(len(roles.features))
    if template is not None:  # after the file appended to: its codes come first
        for name, values in template.vocabularies.items():
            vocabularies.follow(roles.feature_names.index(name), values)
    stored = appended.kinds if appended is not None else (template.kinds() if template is not None else None)
    kinds = ColumnKinds(roles, plan, max_categories=o.max_categories, infer_bytes=o.infer_bytes, stored=stored)
    targets = None
    if roles.target:
        targets = _targets(roles, o, output_file, template, appended.header if appended is not None else None)
        if appended is not None and appended.target is not None and len(appended.target):
            targets.add(appended.target, source=str(output_file.output), first_line=0, lines=None)
    return Start(
        writer, kinds, dtype, vocabularies, stats, targets, existing_rows=appended.header.rows if appended is not None else 0
    )


def _adopt(
    writer: H5Writer, roles: ColumnRoles, options: ConvertOptions, output: Path, source: str, vocabularies: Vocabularies
) -> _Appended:
    """Check that the appended-to file has this input's schema; take up its vocabularies, kinds and target rows."""
    f = writer.file
    header = read_file_header(f, output)
    if header.columns != roles.feature_names:
        message = header_difference(output, header.columns, source, roles.feature_names, what="feature columns")
        if sorted(header.columns) == sorted(roles.feature_names):  # --like takes the columns by name
            message += f"; they are the same columns in another order: --append --like {output} takes them by name"
        elif advice := _roles_advice(header, roles, output):  # the same header, read with other options
            message = message.removesuffix("; inputs converted together must share one header") + advice
        raise HeaderMismatchError(message)
    stored_target = header.target.columns if header.target is not None else []
    if stored_target != roles.target_names:
        raise HeaderMismatchError(
            f"{output} has target {stored_target or 'none'} but --target gives"
            f" {roles.target_names or 'none'}; use the same --target as when it was made"
        )
    writer.adopt_features()
    stored_vocabularies = read_categories(f, output)
    for name, (values, counts) in stored_vocabularies.items():
        vocabularies.adopt(roles.feature_names.index(name), values, counts)
    kinds = StoredKinds(str(output), frozenset(stored_vocabularies), frozenset(header.booleans), frozenset(header.datetimes))
    target = None
    if header.target is not None:
        old = f[TARGET][()]
        if header.task == "classification":
            classes = header.classes
            labels = np.asarray(classes, dtype=object) if all(isinstance(c, str) for c in classes) else np.asarray(classes)
            target = labels[old]
        else:
            target = old.astype(np.float64)
    return _Appended(header, kinds, target)


def _check_compression(header: FileHeader, options: ConvertOptions, output: Path) -> None:
    """--append keeps the file's compression: asking for another is refused, not silently ignored."""
    wanted = parse_compression(options.compression)
    if options.compression == "none" or wanted[0] not in ("lzf", "gzip"):  # the default; plugin filters: not compared
        return
    if wanted != (header.compression, header.compression_opts if header.compression == "gzip" else None):
        stored = f"{header.compression}{f':{header.compression_opts}' if header.compression == 'gzip' else ''}"
        raise OptionError(
            f"{output} is stored with --compression {stored if header.compression else 'none'}, and --append keeps it;"
            f" drop --compression {options.compression}, or convert into a new file to change it"
        )


def settled_options(options: ConvertOptions, output: Path, template: Template | None) -> ConvertOptions:
    """The options as the ``--like`` template and the file appended to settle them, before anything is copied.

    Their ``--fill`` is taken when none is given: empty cells stored two ways in one file
    (0 in the old rows, NaN in the new) read as different values, so a ``--fill`` other than
    the stored one is refused, as is one given for a file whose empty cells are NaN, and a
    template and a file appended to that store them differently. The file appended to keeps
    its compression: asking for another is refused too. Messages say which file a fill is
    recorded in, and name a ``--fill`` only where one was given.
    """
    given = fill = options.fill
    if template is not None:
        # Refused, not allowed, when it differs: a test set converted --like its training set
        # must store an empty cell as training did, or the model reads it as another value.
        fill = _same_fill(given, template.fill, template.path, how="--like")
    if options.append and output.exists():
        header = open_header(output)
        _check_compression(header, options, output)
        if template is not None and template.fill != header.fill:
            raise OptionError(
                f"{output} stores empty cells as {fill_text(header.fill)} and {template.path} (--like) as"
                f" {fill_text(template.fill)}, as each was converted: rows appended cannot store them as both;"
                f" convert --like a file converted as {output} was, or into a new file"
            )
        fill = _same_fill(fill, header.fill, output, how="--append")
    if fill != given:
        taken = ("--like", template.path) if template is not None else ("--append", output)
        _check_taken_fill(fill, options.dtype, *taken)
    return options if fill == given else dataclasses.replace(options, fill=fill)


def _same_fill(given: float | None, stored: float | None, path: Path, *, how: str) -> float | None:
    """The fill to use: the stored one; a given one only when it is the same."""
    if given is None or given == stored:
        return stored
    again = "convert all the data again" if how == "--append" else f"convert {path}'s data again"
    raise OptionError(
        f"{path} stores empty cells as {fill_text(stored)}, and {how} keeps that; drop {fill_text(given)},"
        f" or {again} with {fill_text(given)}"
    )


def _check_taken_fill(fill: float | None, dtype: str, how: str, path: Path) -> None:
    """Refuse a fill taken from ``path`` that an explicit ``--dtype`` cannot hold, naming the file, not a --fill."""
    if fill is not None and dtype != "auto" and not dtype_holds(dtype, fill):
        shown = number_text(fill)
        raise OptionError(
            f"{path} stores empty cells as {shown} (it was converted with --fill {shown}), and {how} keeps that,"
            f" but --dtype {dtype} cannot hold {shown}; pass a --dtype that holds it, or --dtype auto"
        )


def _roles_advice(header: FileHeader, roles: ColumnRoles, output: Path) -> str:
    """The options to pass when the input holds every column ``output`` stores, but gives them other roles.

    Empty when it does not: then the headers really differ.
    """
    target = header.target.columns if header.target is not None else []
    if not set(header.columns) | set(target) <= set(roles.names):
        return ""
    dropped = [n for n in roles.names if n not in header.columns and n not in target]
    given = [f"--target {','.join(target)}"] if target else []
    given += [f"--drop {','.join(dropped)}"] if dropped else []
    again = ""
    if given and [n for n in roles.names if n in header.columns] == header.columns:  # the same order: the options do it
        again = f" pass them again ({' '.join(given)}), or"
    like = f"pass --like {output} with --append, which takes its columns and target by name"
    return f"; {output} was converted with other options:{again} {like}"


def _targets(
    roles: ColumnRoles, options: ConvertOptions, output_file: AtomicOutput, template: Template | None, appended: FileHeader | None
) -> TargetCollector:
    """The target collector, knowing the classes and task of the file appended to and of the template."""
    known, known_from = None, ""
    if appended is not None and appended.task == "classification":
        known, known_from = appended.classes, str(output_file.output)
    if template is not None and template.classes:
        known, known_from = unite([known or [], template.classes]), known_from or str(template.path)
    task = options.task
    if template is not None and template.task is not None:
        task = template.task
    if appended is not None and appended.task is not None:
        task = appended.task
    targets = TargetCollector(
        output_file.scratch("target.tmp"),
        names=roles.target_names,
        task=task,
        known_classes=known,
        known_from=known_from,
        decimal=options.decimal,
    )
    output_file.on_failure(targets.close)
    return targets

"""The rows a training run reads: its training and validation sequences, and what it says about them.

``fit`` asks here for the two ``HDF5Sequence`` objects (a split of the file, a second file, or no
validation), for the order the training rows are read in (recorded in config.json and said in the start
line), and for the rows a multi-worker run leaves out (said before it starts, never silently).
"""

from __future__ import annotations

import os

from .batches import one_hot_options
from .distribute import Plan
from .errors import DataOptionError, ModelError, NoWholeBatchError
from .fileinfo import FileInfo, open_info, read_info
from .options import FitOptions
from .overlap import shared_rows
from .predict import check_like_training
from .rundir import data_record
from .sequence import HDF5Sequence


def training_sequences(options: FitOptions, info: FileInfo, plan: Plan) -> tuple[HDF5Sequence, HDF5Sequence | None]:
    """The training sequence and the validation one (None without validation) of a run."""
    try:
        return _sequences(options, info, plan)
    except NoWholeBatchError as exc:  # said in the command line's terms: it never set drop_remainder
        raise DataOptionError(
            f"the {exc.rows:,} {'training' if exc.training else 'validation'} rows are fewer than one --batch-size"
            f" of {exc.batch_size}, and training on {plan.devices} devices or workers reads whole batches only;"
            f" pass a --batch-size of {exc.rows} or less{'' if exc.training else ' (or validate on more rows)'}"
        ) from None


def _sequences(options: FitOptions, info: FileInfo, plan: Plan) -> tuple[HDF5Sequence, HDF5Sequence | None]:
    for given, flag in ((options.one_hot, "--one-hot"), (options.class_weight, f"--class-weight {options.class_weight}")):
        if given and info.task != "classification":  # said as the command line's option, not as the sequence's
            raise DataOptionError(f"{flag} needs a classification target; {options.data} has {info.task or 'no target'}")
    # Several devices in one process need batches that split evenly: the last, smaller one is dropped.
    # Reading threads and processes for training are the pipeline's (trainer/pipeline.py); validation
    # reads in file order, so Keras's own loader threads cannot change it.
    # Raw rows: the model's first layer fills and scales them (so the saved model takes raw rows too).
    common = dict(
        batch_size=options.batch_size,
        one_hot=options.one_hot,
        sample_shape=(info.num_features,),
        workers=options.loaders,
        batch_slice=plan.batch_slice,
        drop_remainder=plan.devices > 1,
        scale=None,
        missing=None,
        memory_budget=options.memory_budget,
    )
    train = HDF5Sequence(
        options.data,
        shuffle=options.shuffle,
        seed=options.seed,
        class_weight=options.class_weight,
        batches_per_epoch=options.steps_per_epoch,
        training=True,
        use_multiprocessing=options.processes,  # read by the pipeline's processes: each holds a pool of its own
        **common,
    )
    if options.val_split:
        try:
            train, val = train.split(options.val_split, seed=options.seed)
        except NoWholeBatchError:
            raise
        except DataOptionError as exc:  # said as the option the command line gave, not as the Python call
            raise DataOptionError(str(exc).replace(f"split({options.val_split})", f"--val-split {options.val_split}")) from None
        val = HDF5Sequence(options.data, shuffle=False, indices=val.indices, **common)
        return train, val
    if options.val is not None:
        val_info = open_info(options.val)
        if val_info.num_features != info.num_features or val_info.task != info.task:
            raise DataOptionError(
                f"--val {options.val} has {val_info.num_features} features ({val_info.task}); "
                f"{options.data} has {info.num_features} ({info.task}); convert both the same way"
            )
        _check_apart(options, info, val_info)
        # The same columns, codes that mean the same values and classes that are the training data's
        # (or the first of them), as evaluate checks: else validation scores (and the epoch kept for
        # them) would come from rows the model reads as other rows.
        try:
            check_like_training({"data": data_record(info)}, val_info, labels=True)
        except ModelError as exc:
            raise DataOptionError(f"--val {exc}") from None
        one_hot = one_hot_options(options.one_hot, val_info, len(info.classes))
        return train, HDF5Sequence(options.val, shuffle=False, **{**common, **one_hot})
    return train, None


def _check_apart(options: FitOptions, info: FileInfo, val_info: FileInfo) -> None:
    """Refuse a --val that holds rows of the data (the same file, a copy, one of its parts or their merge):
    its scores, and the epoch kept for them, would come from rows the model trains on."""
    files = [_each_file(i) for i in (info, val_info)]
    shared = shared_rows(*files)
    if shared is None:
        return
    if shared.input is not None:
        found = f"{shared.second} and {shared.first} both hold {shared.what}"
    elif os.path.samefile(shared.first, shared.second):
        found = f"{shared.second} is the training data"
    else:
        found = f"{shared.second} holds the same content as {shared.first}"
    raise DataOptionError(
        f"--val {options.val} holds rows the model trains on ({found}): validate on other rows"
        " (--val-split, or a file converted from rows kept out of training)"
    )


def _each_file(info: FileInfo) -> list[FileInfo]:
    """The files of ``info`` one by one: itself, or its parts read again."""
    return [info] if len(info.parts) < 2 else [read_info(p) for p in info.parts]


def left_out(train: HDF5Sequence, val: HDF5Sequence | None, plan: Plan) -> str | None:
    """What a multi-worker run leaves out, said before it starts (never silently)."""
    if plan.worker is None:
        return None
    batch = train.batch_size
    rows = [
        f"{seq.num_rows % batch} {name} rows"
        for name, seq in (("training", train), ("validation", val))
        if seq is not None and seq.num_rows % batch
    ]
    if not rows:
        return None
    return (
        f"multi-worker training leaves out the last, partial global batch of each epoch: {' and '.join(rows)} "
        "(a --batch-size that divides the rows uses them all)"
    )


def fewer_steps(train: HDF5Sequence, steps_per_epoch: int | None) -> str | None:
    """A --steps-per-epoch beyond what an epoch holds, said (an epoch is then every batch, once)."""
    if steps_per_epoch is None or steps_per_epoch <= len(train):
        return None
    return (
        f"--steps-per-epoch {steps_per_epoch} is more than the {len(train):,} batches of {train.batch_size} training rows"
        f" an epoch holds: each epoch trains {len(train):,} steps"
    )


def data_order(train: HDF5Sequence) -> dict[str, object]:
    """Which order the training rows are read in, and why (config.json and the start line)."""
    plan = train.block_plan
    return {
        "shuffle": train.shuffle,
        "why": train.shuffle_reason,
        "memory_budget": train.memory_budget,
        "budget_for": "data",  # the memory left to the data (runs recorded before held all the memory found)
        "block_rows": plan.block_rows if plan else None,
        "pool_blocks": plan.pool_blocks if plan else None,
    }


def order_changed(recorded: dict[str, object] | None, order: dict[str, object]) -> str | None:
    """On resume: the order planned now, said when it is not the one the run started with (a run an
    older version planned): the epochs from here read in the new one, not as the run would have."""
    keys = ("shuffle", "block_rows", "pool_blocks")
    if recorded is None or all(recorded.get(key) == order[key] for key in keys):
        return None
    return (
        f"the run started reading its data as {_order_text(recorded)}; this version plans {_order_text(order)} "
        "from the same memory figure, so the epochs from here are shuffled in that order"
    )


def _order_text(order: dict[str, object]) -> str:
    return f"shuffle={order.get('shuffle')}" + (f", {_pool_text(order)}" if order.get("pool_blocks") else "")


def order_note(order: dict[str, object]) -> str:
    pool = f"; {_pool_text(order)}" if order["shuffle"] == "blocks" else ""
    return f"data order: shuffle={order['shuffle']} ({order['why']}){pool}"


def _pool_text(order: dict[str, object]) -> str:
    return f"a pool of {order['pool_blocks']} blocks of {order['block_rows']:,} rows"

"""The arguments and options of ``h5train fit`` (and the few evaluate and predict share), declared once.

Each alias holds what typer shows and checks: the option's spelling, its type and its help. The
command's signature gives the parameter name and the default, in the order ``--help`` lists them;
the command turns what it receives into ``FitOptions``. Nothing here imports Keras.
"""

from pathlib import Path
from typing import Annotated

import typer

# The data.
DataArgument = Annotated[Path | None, typer.Argument(help="Training file from csv2h5 convert.", show_default=False)]
ValOption = Annotated[Path | None, typer.Option(help="Validation file (converted like DATA).")]
ValSplitOption = Annotated[
    float | None,
    typer.Option(help="Hold out this fraction of DATA for validation (stratified; default 0.1 without --val; 0: no validation)."),
]

# The model.
ModelOption = Annotated[
    str,
    typer.Option(
        help="auto (mlp for image-shaped files, tabular otherwise), tabular, mlp, cnn, "
        "or package.module:function (runs your own code; see README)."
    ),
]
HiddenOption = Annotated[list[int], typer.Option(help="Hidden layer width (repeatable; default: tabular 128, 64; mlp 50).")]
DropoutOption = Annotated[float | None, typer.Option(help="Dropout after each hidden layer (default: tabular 0.1, else 0).")]
ActivationOption = Annotated[str, typer.Option(help="Hidden activation.")]
SampleShapeOption = Annotated[str | None, typer.Option(help="Row shape for cnn, e.g. 28,28,1 (default: from the file).")]
NormalizeOption = Annotated[
    str,
    typer.Option(
        help="standard (stored mean/std, missing values filled, categories encoded), "
        "unit (over the stored largest magnitude) or none: a layer of the model."
    ),
]
MissingOption = Annotated[
    str,
    typer.Option(
        help="What a missing value (NaN) becomes: mean (the training mean, with a "
        "missing indicator), zero, or error (refuse NaN)."
    ),
]
OneHotOption = Annotated[bool, typer.Option(help="One-hot targets and categorical cross-entropy.")]

# How it trains.
EpochsOption = Annotated[int | None, typer.Option(help="Epochs in all (default 10; with --resume, to train longer).")]
BatchSizeOption = Annotated[
    int | None,
    typer.Option(help="Rows per batch: the global batch, over all devices and workers (default 256; less for small tables)."),
]
OptimizerOption = Annotated[str, typer.Option(help="Keras optimizer name.")]
LearningRateOption = Annotated[float | None, typer.Option(help="Learning rate (default: the optimizer's).")]
ShuffleOption = Annotated[
    str, typer.Option(help="auto (global when the data fits in memory, blocks otherwise), global, blocks, window, batch or none.")
]
MemoryBudgetOption = Annotated[
    str | None,
    typer.Option(
        help="Memory the data may use, e.g. 8GB (default: the container's limit or MemAvailable, less what Python, "
        "Keras and the model hold: 0.7 GB and more; shared by --processes)."
    ),
]
LoadersOption = Annotated[int | None, typer.Option(help="Batch-loading threads (processes with --processes; default 1).")]
ProcessesOption = Annotated[bool, typer.Option(help="Load batches in processes rather than threads.")]
WorkersOption = Annotated[int | None, typer.Option(hidden=True, help="Deprecated name of --loaders.")]
SeedOption = Annotated[int, typer.Option(help="Seeds weights, data order and dropout.")]
ClassWeightOption = Annotated[str | None, typer.Option(help="balanced: by class counts in the training rows.")]
EarlyStoppingOption = Annotated[
    int | None,
    typer.Option(
        help="Stop after this many epochs without improvement of the "
        "validation metric, then keep the best epoch's weights "
        "(default 10 with validation; 0: off)."
    ),
]
TieToleranceOption = Annotated[
    float,
    typer.Option(
        help="Validation values within this fraction of the best count as ties and the latest is kept "
        "(best.keras, early stopping's count and the weights restored); 0: the first best."
    ),
]
StepsPerEpochOption = Annotated[int | None, typer.Option(help="Batches per epoch (default: all rows).")]

# Where it trains: the backend (evaluate and predict take it too) and the devices or workers.
BackendOption = Annotated[
    str,
    typer.Option(help="Keras backend: auto (KERAS_BACKEND if set, else jax if installed, else tensorflow), jax or tensorflow."),
]
StrategyOption = Annotated[
    str, typer.Option(help="default; mirrored (every local device); multi-worker (JAX, several processes or machines).")
]
CoordinatorOption = Annotated[str | None, typer.Option(help="multi-worker: HOST:PORT where worker 0 listens.")]
NumWorkersOption = Annotated[int | None, typer.Option(help="multi-worker: how many workers in all.")]
WorkerIndexOption = Annotated[
    int | None, typer.Option(help="multi-worker: this worker's number, 0..N-1 (0 writes the run directory).")
]
JoinTimeoutOption = Annotated[float, typer.Option(help="multi-worker: seconds to wait for every worker to start.")]

# The run: its directory, and what it shows (evaluate and predict take --verbose too).
RunDirOption = Annotated[Path | None, typer.Option(help="Run directory (default runs/<UTC time>).")]
ResumeOption = Annotated[Path | None, typer.Option(help="Continue this run directory from its last checkpoint.")]
ProgressOption = Annotated[
    str, typer.Option(help="Keras progress: bar, epoch (a line per epoch), none; auto: bar in a terminal.")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Show TensorFlow/XLA start-up logs too.")]

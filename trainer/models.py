"""Model builders: ``auto``, ``tabular``, ``mlp``, ``cnn`` and ``package.module:function``, with preprocessing inside.

Every model takes raw converted rows, shape ``(features,)``: the rule of
``preprocess`` (missing values filled, numbers and dates standardised from the
file's stored stats, categories one-hot or embedded) is its first layer, so a
saved model needs nothing else to predict. The head (units, activation), loss
and metrics follow the file's task.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Sequence

import numpy as np

from ._keras import keras
from .errors import ModelError
from .fileinfo import FileInfo
from .preprocess import encoding_layer, unit_factor

NORMALIZE = ("standard", "unit", "none")
DEFAULT_HIDDEN = {"mlp": (50,), "cnn": (50,), "tabular": (128, 64)}  # hidden widths when --hidden is not given
CNN_MIN_SIDE = 4  # the cnn pools height and width twice by 2
TABULAR_DROPOUT = 0.1  # the tabular model's dropout when --dropout is not given: tables of a few hundred rows overfit


def choose_model(kind: str, info: FileInfo) -> str:
    """``auto``: the seed's MLP for image-shaped files (a recorded 2-D or 3-D sample shape), a tabular MLP otherwise.

    Measured (BENCHMARKS.md): on tables the wider, dropout-regularised tabular MLP
    scores higher; on MNIST-shaped files the seed's MLP is as accurate at a third of the work.
    """
    if kind != "auto":
        return kind
    return "mlp" if info.sample_shape is not None and len(info.sample_shape) >= 2 else "tabular"


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What the model's last layer must produce, and how it is trained."""

    task: str  # "classification" or "regression"
    units: int  # classes, or target columns
    activation: str  # softmax or linear
    loss: str
    metrics: tuple[str, ...]
    monitor: str  # what picks best.keras and early stopping: the validation loss (classification), mae (regression)
    monitor_mode: str  # "max" or "min"

    @classmethod
    def for_file(cls, info: FileInfo, *, one_hot: bool = False) -> OutputSpec:
        if info.target is None:
            raise ModelError(f"{info.named} has no /target to train on; convert it with --target COLUMN")
        if info.task == "classification":
            loss = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"
            return cls("classification", len(info.classes), "softmax", loss, ("accuracy",), "loss", "min")
        units = 1 if info.target.ndim == 1 else int(info.target.shape[1])
        return cls("regression", units, "linear", "mse", ("mae",), "mae", "min")


def preprocessing(info: FileInfo, normalize: str, *, missing: str = "mean", keep_width: bool = True) -> keras.layers.Layer | None:
    """A layer turning raw rows into what the body takes, from the file's stored stats.

    ``standard``: the rule of ``preprocess`` (with ``keep_width`` the row keeps its width,
    codes passing as they are, for bodies that reshape it; else categories are one-hot or
    embedded and columns that held NaN get missing indicators). ``unit`` and ``none``
    scale by each column's largest stored magnitude (codes as they are) or not at all, and fill nothing.
    """
    if normalize not in NORMALIZE:
        raise ModelError(f"--normalize {normalize!r} is not one of {', '.join(NORMALIZE)}")
    if normalize == "none":
        return None
    if normalize == "unit":
        return keras.layers.Rescaling(scale=unit_factor(info), name="unit_scale")
    return encoding_layer(info, missing=missing, keep_width=keep_width)


def _dense_head(output: OutputSpec, *, hidden: Sequence[int], dropout: float, activation: str) -> list[keras.layers.Layer]:
    """Hidden Dense layers (each followed by Dropout if asked) and the task's output layer."""
    layers: list[keras.layers.Layer] = []
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(output.units, activation=output.activation))
    return layers


def _mlp(
    sample_shape: tuple[int, ...],
    output: OutputSpec,
    *,
    hidden: Sequence[int],
    dropout: float,
    activation: str,
    name: str = "mlp",
) -> keras.Model:
    layers = [keras.Input(sample_shape), keras.layers.Flatten()]
    return keras.Sequential(layers + _dense_head(output, hidden=hidden, dropout=dropout, activation=activation), name=name)


def _tabular(
    sample_shape: tuple[int, ...], output: OutputSpec, *, hidden: Sequence[int], dropout: float, activation: str
) -> keras.Model:
    """The tabular body, wide and deep: an MLP's logits plus a linear map of the encoded columns.

    The linear ("wide") path holds logistic (or linear) regression as a special
    case, so the model starts from what the linear baseline can learn and the MLP
    adds what it cannot; on small tables the MLP alone fell up to 3 points below
    scikit-learn's ``LogisticRegression`` (BENCHMARKS.md). No weight penalty: Keras
    would count it in the loss ``evaluate`` reports; early stopping and the MLP's
    dropout regularise.
    """
    inputs = keras.Input(sample_shape)
    x = keras.layers.Flatten()(inputs)
    deep = x
    for units in hidden:
        deep = keras.layers.Dense(units, activation=activation)(deep)
        if dropout:
            deep = keras.layers.Dropout(dropout)(deep)
    deep = keras.layers.Dense(output.units, name="deep_logits")(deep)
    wide = keras.layers.Dense(output.units, name="wide_logits")(x)
    logits = keras.layers.Add(name="logits")([deep, wide])
    return keras.Model(inputs, keras.layers.Activation(output.activation, name="output")(logits), name="tabular")


def _cnn(
    sample_shape: tuple[int, ...], output: OutputSpec, *, hidden: Sequence[int], dropout: float, activation: str
) -> keras.Model:
    if len(sample_shape) != 3 or min(sample_shape[:2]) < CNN_MIN_SIDE:
        need = "rows shaped (height, width, channels)" if len(sample_shape) != 3 else "a height and width of 4 or more"
        raise ModelError(f"--model cnn needs {need}, got {sample_shape}; {_cnn_shape_advice(math.prod(sample_shape))}")
    layers: list[keras.layers.Layer] = [keras.Input(sample_shape)]
    for filters in (32, 64):
        layers += [keras.layers.Conv2D(filters, 3, padding="same", activation=activation), keras.layers.MaxPooling2D()]
    layers.append(keras.layers.Flatten())
    return keras.Sequential(layers + _dense_head(output, hidden=hidden, dropout=dropout, activation=activation), name="cnn")


def _cnn_shape_advice(features: int) -> str:
    """A --sample-shape for ``features`` values that the cnn takes (nearest a square, 1 or 3 channels), or why none."""
    shapes = []
    for channels in (1, 3):
        pixels = features // channels if features % channels == 0 else 0
        sides = [h for h in range(CNN_MIN_SIDE, math.isqrt(pixels) + 1) if pixels % h == 0 and pixels // h >= CNN_MIN_SIDE]
        if sides:
            shapes.append(f"{sides[-1]},{pixels // sides[-1]},{channels}")
    if not shapes:
        return f"no such shape holds the {features} features: use --model tabular or mlp"
    return f"pass --sample-shape {shapes[0]} (or convert with --sample-shape)"


BUILDERS: dict[str, Callable[..., keras.Model]] = {"mlp": _mlp, "cnn": _cnn, "tabular": _tabular}


def user_factory(spec: str) -> Callable[[tuple[int, ...], OutputSpec], keras.Model]:
    """Import ``package.module:function``. This runs the user's own code, as any import does."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ModelError(f"--model {spec!r}: expected auto, tabular, mlp, cnn or package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"--model {spec!r}: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise ModelError(f"--model {spec!r}: {module_name} has no function {function_name}")
    return factory


def build_model(
    kind: str,
    info: FileInfo,
    output: OutputSpec,
    *,
    sample_shape: Sequence[int] | None = None,
    normalize: str = "standard",
    hidden: Sequence[int] = (),
    dropout: float | None = None,
    activation: str = "relu",
    missing: str = "mean",
) -> keras.Model:
    """The whole model: raw rows -> preprocessing -> reshape -> body -> head.

    ``kind`` is ``auto`` (see ``choose_model``), ``tabular``, ``mlp``, ``cnn`` or
    ``package.module:function``; a function gets ``(sample_shape, output)`` and returns
    a Keras model from rows of that shape to ``output.units`` values (ending in
    ``output.activation``). ``hidden`` empty and ``dropout`` None take the model's
    defaults. The tabular model one-hots or embeds categories and adds missing
    indicators; the others keep the row's width (codes as they are).
    """
    kind = choose_model(kind, info)
    features = info.num_features
    tabular = kind == "tabular"
    shape = tuple(int(d) for d in sample_shape) if sample_shape else (info.sample_shape or (features,))
    if math.prod(shape) != features:  # checked before a table drops it: a wrong shape given is refused, not ignored
        raise ModelError(f"sample shape {shape} holds {math.prod(shape)} values but {info.named} has {features} features")
    if tabular:
        shape = (features,)  # a table is a row of columns, whatever shape the file records
    hidden = tuple(hidden) or DEFAULT_HIDDEN.get(kind, (50,))
    dropout = (TABULAR_DROPOUT if tabular else 0.0) if dropout is None else dropout
    if not 0.0 <= dropout < 1.0:
        raise ModelError(f"--dropout must be in [0, 1), got {dropout}")
    _check_activation(activation)
    inputs = keras.Input((features,), name="rows")
    x = inputs
    layer = preprocessing(info, normalize, missing=missing, keep_width=not tabular)
    if layer is not None:
        x = layer(x)
    body_shape = (int(x.shape[-1]),) if tabular else shape
    if kind in BUILDERS:
        body = BUILDERS[kind](body_shape, output, hidden=hidden, dropout=dropout, activation=activation)
    else:
        body = user_factory(kind)(shape, output)
        if not isinstance(body, keras.Model):
            raise ModelError(f"--model {kind!r} returned {type(body).__name__}, not a keras.Model")
    _check_body(kind, body, body_shape, output)
    if body_shape != (int(x.shape[-1]),):
        x = keras.layers.Reshape(shape, name="sample_shape")(x)
    outputs = body(x)
    if kind in BUILDERS and output.task == "regression":
        outputs = target_scale(info)(outputs)
    return keras.Model(inputs, outputs, name=f"{body.name}_on_rows")


def target_scale(info: FileInfo) -> keras.layers.Layer:
    """Regression: the body's outputs times the training targets' standard deviation, plus their mean.

    The body then learns values near 0 with a spread near 1 whatever the target's units: prices
    of millions from an output layer that starts near 0 would take Adam (steps of about its
    learning rate) millions of steps to reach, and the model would predict ~0 after any
    sensible training. Predictions, the loss and the metrics stay in the target's own units.
    """
    target = np.asarray(info.target, dtype=np.float64).reshape(len(info.target), -1)
    mean, std = np.zeros(target.shape[1]), np.ones(target.shape[1])
    for j, column in enumerate(target.T):
        column = column[np.isfinite(column)]  # infinite targets are refused before training; NaN has no value
        if column.size:
            mean[j], std[j] = column.mean(), column.std() or 1.0
    return keras.layers.Rescaling(scale=std.astype(np.float32), offset=mean.astype(np.float32), name="target_scale")


def _check_activation(activation: str) -> None:
    try:
        keras.activations.get(activation)
    except ValueError:
        raise ModelError(f"--activation {activation!r} is not a Keras activation (try relu, gelu, tanh)") from None


def _check_body(kind: str, body: keras.Model, shape: tuple[int, ...], output: OutputSpec) -> None:
    try:
        got = body.compute_output_shape((None,) + shape)
    except Exception as exc:  # the user's model cannot take these rows
        raise ModelError(f"--model {kind!r} does not accept rows of shape {shape}: {exc}") from None
    if tuple(got)[-1] != output.units:
        raise ModelError(
            f"--model {kind!r} outputs {tuple(got)[-1]} values per row; this {output.task} file needs {output.units}"
        )


def compile_model(model: keras.Model, output: OutputSpec, *, optimizer: str = "adam", learning_rate: float | None = None) -> None:
    try:
        opt = keras.optimizers.get(optimizer)
    except ValueError:
        raise ModelError(f"--optimizer {optimizer!r} is not a Keras optimizer (try sgd, adam, rmsprop)") from None
    if learning_rate is not None:
        opt.learning_rate = learning_rate
    model.compile(optimizer=opt, loss=output.loss, metrics=list(output.metrics))

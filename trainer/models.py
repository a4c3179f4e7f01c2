"""Model builders: ``mlp``, ``cnn`` and ``package.module:function``, with preprocessing inside.

Every model takes raw converted rows, shape ``(features,)``: normalisation from
the file's stored stats is its first layer, so a saved model needs nothing else
to predict. The head (units, activation), loss and metrics follow the file's
task.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Sequence

import keras
import numpy as np

from .errors import ModelError
from .storage import FileInfo

NORMALIZE = ("standard", "unit", "none")


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    """What the model's last layer must produce, and how it is trained."""

    task: str  # "classification" or "regression"
    units: int  # classes, or target columns
    activation: str  # softmax or linear
    loss: str
    metrics: tuple[str, ...]
    monitor: str  # the validation metric that picks best.keras
    monitor_mode: str  # "max" or "min"

    @classmethod
    def for_file(cls, info: FileInfo, *, one_hot: bool = False) -> OutputSpec:
        if info.target is None:
            raise ModelError(f"{info.path} has no /target to train on; convert it with --target COLUMN")
        if info.task == "classification":
            loss = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"
            return cls("classification", len(info.classes), "softmax", loss, ("accuracy",), "accuracy", "max")
        units = 1 if info.target.ndim == 1 else int(info.target.shape[1])
        return cls("regression", units, "linear", "mse", ("mae",), "mae", "min")


def preprocessing(info: FileInfo, normalize: str) -> keras.layers.Layer | None:
    """A layer turning raw rows into normalised ones, from the file's stored stats."""
    if normalize not in NORMALIZE:
        raise ModelError(f"--normalize {normalize!r} is not one of {', '.join(NORMALIZE)}")
    if normalize == "none":
        return None
    if normalize == "unit":
        top = np.nan_to_num(np.abs(info.stats["max"].astype(np.float64)), nan=1.0)
        return keras.layers.Rescaling(scale=(1.0 / np.where(top == 0, 1.0, top)).astype("float32"), name="unit_scale")
    mean = np.nan_to_num(info.stats["mean"].astype(np.float64))
    variance = np.nan_to_num(info.stats["std"].astype(np.float64), nan=1.0) ** 2
    variance = np.where(variance == 0, 1.0, variance)  # constant columns: centred, not divided by 0
    return keras.layers.Normalization(mean=mean, variance=variance, name="standardize")


def _dense_head(output: OutputSpec, *, hidden: Sequence[int], dropout: float,
                activation: str) -> list[keras.layers.Layer]:
    """Hidden Dense layers (each followed by Dropout if asked) and the task's output layer."""
    layers: list[keras.layers.Layer] = []
    for units in hidden:
        layers.append(keras.layers.Dense(units, activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(output.units, activation=output.activation))
    return layers


def _mlp(sample_shape: tuple[int, ...], output: OutputSpec, *, hidden: Sequence[int], dropout: float,
         activation: str) -> keras.Model:
    layers = [keras.Input(sample_shape), keras.layers.Flatten()]
    return keras.Sequential(layers + _dense_head(output, hidden=hidden, dropout=dropout, activation=activation),
                            name="mlp")


def _cnn(sample_shape: tuple[int, ...], output: OutputSpec, *, hidden: Sequence[int], dropout: float,
         activation: str) -> keras.Model:
    if len(sample_shape) != 3:
        raise ModelError(f"--model cnn needs rows shaped (height, width, channels), got {sample_shape}; "
                         "pass --sample-shape 28,28,1 (or convert with --sample-shape)")
    layers: list[keras.layers.Layer] = [keras.Input(sample_shape)]
    for filters in (32, 64):
        layers += [keras.layers.Conv2D(filters, 3, padding="same", activation=activation),
                   keras.layers.MaxPooling2D()]
    layers.append(keras.layers.Flatten())
    return keras.Sequential(layers + _dense_head(output, hidden=hidden, dropout=dropout, activation=activation),
                            name="cnn")


BUILDERS: dict[str, Callable[..., keras.Model]] = {"mlp": _mlp, "cnn": _cnn}


def user_factory(spec: str) -> Callable[[tuple[int, ...], OutputSpec], keras.Model]:
    """Import ``package.module:function``. This runs the user's own code, as any import does."""
    module_name, _, function_name = spec.partition(":")
    if not module_name or not function_name:
        raise ModelError(f"--model {spec!r}: expected mlp, cnn or package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"--model {spec!r}: cannot import {module_name} ({exc}); is it on PYTHONPATH?") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise ModelError(f"--model {spec!r}: {module_name} has no function {function_name}")
    return factory


def build_model(kind: str, info: FileInfo, output: OutputSpec, *, sample_shape: Sequence[int] | None = None,
                normalize: str = "standard", hidden: Sequence[int] = (50,), dropout: float = 0.0,
                activation: str = "relu") -> keras.Model:
    """The whole model: raw rows -> normalisation -> reshape -> body -> head.

    ``kind`` is ``mlp``, ``cnn`` or ``package.module:function``; a function gets
    ``(sample_shape, output)`` and returns a Keras model from rows of that shape
    to ``output.units`` values (ending in ``output.activation``).
    """
    features = info.num_features
    shape = tuple(int(d) for d in sample_shape) if sample_shape else (info.sample_shape or (features,))
    if math.prod(shape) != features:
        raise ModelError(f"sample shape {shape} holds {math.prod(shape)} values but {info.path} has {features} features")
    if not 0.0 <= dropout < 1.0:
        raise ModelError(f"--dropout must be in [0, 1), got {dropout}")
    if kind in BUILDERS:
        body = BUILDERS[kind](shape, output, hidden=hidden, dropout=dropout, activation=activation)
    else:
        body = user_factory(kind)(shape, output)
        if not isinstance(body, keras.Model):
            raise ModelError(f"--model {kind!r} returned {type(body).__name__}, not a keras.Model")
    _check_body(kind, body, shape, output)
    inputs = keras.Input((features,), name="rows")
    x = inputs
    layer = preprocessing(info, normalize)
    if layer is not None:
        x = layer(x)
    if shape != (features,):
        x = keras.layers.Reshape(shape, name="sample_shape")(x)
    return keras.Model(inputs, body(x), name=f"{body.name}_on_rows")


def _check_body(kind: str, body: keras.Model, shape: tuple[int, ...], output: OutputSpec) -> None:
    try:
        got = body.compute_output_shape((None,) + shape)
    except Exception as exc:  # the user's model cannot take these rows
        raise ModelError(f"--model {kind!r} does not accept rows of shape {shape}: {exc}") from None
    if tuple(got)[-1] != output.units:
        raise ModelError(f"--model {kind!r} outputs {tuple(got)[-1]} values per row; "
                         f"this {output.task} file needs {output.units}")


def compile_model(model: keras.Model, output: OutputSpec, *, optimizer: str = "sgd",
                  learning_rate: float | None = None) -> None:
    try:
        opt = keras.optimizers.get(optimizer)
    except ValueError:
        raise ModelError(f"--optimizer {optimizer!r} is not a Keras optimizer (try sgd, adam, rmsprop)") from None
    if learning_rate is not None:
        opt.learning_rate = learning_rate
    model.compile(optimizer=opt, loss=output.loss, metrics=list(output.metrics))

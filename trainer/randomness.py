"""Every source of randomness in a training run, seeded once and carried across a resume.

- Weights: drawn at build time from the seed (``seed_everything``).
- Data order: a pure function of ``(seed, epoch)`` (``sequence.epoch_order``).
- Dropout and other random layers: each holds a ``keras.random.SeedGenerator``
  whose state advances every step. A ``.keras`` file does not store that state,
  so a resumed run would restart the stream; ``generator_states`` records it
  with each checkpoint and ``restore_generator_states`` puts it back.
- Optimizer state (Adam's moments, SGD's momentum, the step count): inside the
  ``.keras`` checkpoint.
"""

from __future__ import annotations

import random

import numpy as np

from ._keras import keras
from .errors import RunError

_STATE = "seed_generator_state"


def seed_everything(seed: int) -> None:
    """Seed Python, numpy, Keras and the backend; make TensorFlow's kernels deterministic."""
    random.seed(seed)
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _generators(model: keras.Model) -> list[keras.Variable]:
    return [v for v in model.variables if v.path.rsplit("/", 1)[-1] == _STATE]


def generator_states(model: keras.Model) -> list[list[int]]:
    """The state of every random layer's generator, in layer order (JSON-ready)."""
    return [[int(x) for x in np.asarray(v.numpy()).ravel()] for v in _generators(model)]


def restore_generator_states(model: keras.Model, states: list[list[int]]) -> None:
    """Continue every random layer's stream where ``generator_states`` left it.

    Raises:
        RunError: the checkpoint's model has another number of random layers than the record.
    """
    variables = _generators(model)
    if len(variables) != len(states):
        raise RunError(
            f"the checkpoint has {len(variables)} random layers but state.json records "
            f"{len(states)}; the run directory is damaged (start a new run)"
        )
    for variable, state in zip(variables, states):
        variable.assign(np.asarray(state, dtype=variable.dtype))

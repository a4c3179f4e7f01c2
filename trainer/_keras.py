"""Keras for the package's modules: ``from ._keras import keras`` loads it as ``HDF5Sequence`` does.

A module of the package that imported Keras itself would load it on Keras's own
default backend (tensorflow), with TensorFlow's start-up notices on stderr, when it
is the first thing a program imports from the package
(``from csv2h5.trainer.preprocess import encoding_layer``). Through here it loads on
the backend ``backend.library_backend`` chooses, quietly (``import_keras_quietly``);
h5train has chosen its backend before, and that choice stands.
"""

from __future__ import annotations

from .backend import import_keras_quietly

import_keras_quietly()

import keras  # noqa: E402 - after the backend is chosen

__all__ = ["keras"]

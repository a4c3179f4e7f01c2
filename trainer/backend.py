"""The Keras backend: chosen before Keras is imported, recorded with its versions.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so ``h5train``
settles the backend (``--backend auto|jax|tensorflow``, or the one a resumed run
used) before anything imports Keras. Nothing here imports Keras at module level;
the imports it makes go through ``nativelog``'s filter, so that TensorFlow's
start-up notices stay off stderr.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import types
from collections.abc import Mapping

from .errors import DataOptionError
from .nativelog import native_noise_dropped

BACKENDS = ("auto", "jax", "tensorflow")
SUPPORTED = ("jax", "tensorflow")


def choose_backend(requested: str = "auto", *, environ: Mapping[str, str] | None = None) -> str:
    """The backend ``h5train`` will use: ``requested``, or for ``auto`` KERAS_BACKEND, else jax, else tensorflow.

    When Keras is already imported in this process its backend is fixed: ``auto``
    takes it, and asking for another one is an error.

    Raises:
        DataOptionError: an unknown or uninstalled backend, or one Keras cannot switch to now.
    """
    environ = os.environ if environ is None else environ
    if requested not in BACKENDS:
        raise DataOptionError(f"--backend {requested!r} is not one of {', '.join(BACKENDS)}")
    loaded = _loaded_backend()
    if loaded is not None:
        if requested not in ("auto", loaded):
            raise DataOptionError(
                f"Keras is already imported with the {loaded} backend in this process, "
                f"so it cannot switch to {requested}; run h5train in a new process"
            )
        return loaded
    if requested == "auto":
        chosen = environ.get("KERAS_BACKEND") or ("jax" if _installed("jax") else "tensorflow")
        if chosen not in SUPPORTED:
            raise DataOptionError(
                f"KERAS_BACKEND={chosen} is not a backend h5train supports "
                f"({', '.join(SUPPORTED)}); unset it or pass --backend jax"
            )
    else:
        chosen = requested
    if not _installed(chosen):
        raise DataOptionError(
            f"the {chosen} backend is not installed; pip install 'csv2h5[train]' (or choose another with --backend)"
        )
    return chosen


def library_backend(*, environ: Mapping[str, str] | None = None) -> str | None:
    """The backend ``from csv2h5.trainer import HDF5Sequence`` loads Keras with; None leaves the choice to Keras.

    In order: the backend of a Keras this program already imported (it cannot
    change); ``KERAS_BACKEND`` when set (any backend Keras knows: a PyDataset runs
    on all of them); tensorflow when the program already imported TensorFlow (its
    code likely builds TensorFlow models, and the import cost is paid); else
    h5train's own choice: jax when installed, else tensorflow.
    """
    environ = os.environ if environ is None else environ
    loaded = _loaded_backend()
    if loaded is not None:
        return loaded
    if environ.get("KERAS_BACKEND"):
        return environ["KERAS_BACKEND"]
    if "tensorflow" in sys.modules:
        return "tensorflow"
    for name in SUPPORTED:  # jax first, as h5train chooses
        if _installed(name):
            return name
    return None  # neither installed: Keras's own import error says what to install


def import_keras_quietly() -> str:
    """Import Keras on ``library_backend()``, without native start-up noise on stderr; return the backend.

    Sets ``KERAS_BACKEND`` only when it is unset and Keras is not imported yet
    (worker processes then start on the same backend). TensorFlow prints its
    start-up notices (oneDNN, CUDA drivers, CPU features) from C++ while it is
    imported, and a cuInit error when it first looks for devices; both happen
    here, under a filter that is removed afterwards, so anything the program
    writes to stderr later is left alone. Listing the physical devices does not
    initialise them: ``tf.config.experimental.set_memory_growth`` still works.
    """
    if _loaded_backend() is None:
        chosen = library_backend()
        if chosen is not None and not os.environ.get("KERAS_BACKEND"):
            os.environ["KERAS_BACKEND"] = chosen
        with native_noise_dropped():
            import keras

            if keras.backend.backend() == "tensorflow":
                import_tensorflow_quietly()
    return _loaded_backend() or ""


def import_tensorflow_quietly() -> types.ModuleType:
    """Import TensorFlow and look for its devices, without the native notices both print on stderr.

    Raises:
        ImportError: TensorFlow is not installed.
    """
    with native_noise_dropped():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf


def use_backend(name: str) -> None:
    """Make ``name`` the backend Keras loads with (a no-op when Keras already runs on it)."""
    if _loaded_backend() is None:
        os.environ["KERAS_BACKEND"] = name


def _loaded_backend() -> str | None:
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    return keras.backend.backend()


def _installed(name: str) -> bool:
    return name in sys.modules or importlib.util.find_spec(name) is not None


def versions() -> dict[str, str]:
    """Versions of everything that decides a run's numbers (call once Keras is imported)."""
    import h5py
    import keras
    import numpy as np

    from csv2h5._version import __version__

    backend = keras.backend.backend()
    found = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        "keras_backend": backend,
        "h5py": h5py.__version__,
        "csv2h5": __version__,
    }
    if backend == "jax":
        import jax
        import jaxlib

        found.update(jax=jax.__version__, jaxlib=jaxlib.__version__)
    elif backend == "tensorflow":
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    return found

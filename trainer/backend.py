"""The Keras backend: chosen before Keras is imported, recorded with its versions, and kept quiet.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so ``h5train``
settles the backend (``--backend auto|jax|tensorflow``, or the one a resumed run
used) before anything imports Keras. Nothing here imports Keras at module level.

TensorFlow, XLA and absl write start-up notices straight to file descriptor 2
from C++ (oneDNN, "Could not find cuda drivers", cuInit errors, CPU feature
guards), before any Python logging setting can apply. ``quiet_native_logs``
filters those lines out of the process's stderr while a command runs; Python
errors, warnings and h5train's own lines pass through.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import platform
import re
import sys
import threading
import types
from collections.abc import Iterator, Mapping

from .errors import DataOptionError

BACKENDS = ("auto", "jax", "tensorflow")
SUPPORTED = ("jax", "tensorflow")

# Native log lines: absl/glog "I0000 00:00:1795558089.441470   17267 port.cc:153] ...", their
# pre-initialisation banner, TensorFlow's CPU-feature notice, gloo's connection notices.
# Fatal ("F...") lines and check failures are kept: they explain a crash.
_NOISE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
    rb"|\[Gloo\] Rank \d+ is connected to)")
# Lines that continue a native message: indented, blank, or a Python traceback it quotes.
_CONTINUATION = re.compile(rb"^(?:\s|$|Traceback \(most recent call last\)|[A-Za-z_][\w.]*(?:Error|Exception): )")
_NOISY_LOGGERS = ("absl", "jax", "jax._src.xla_bridge", "tensorflow")


def is_native_noise(line: bytes) -> bool:
    """Whether a line of stderr is TensorFlow/XLA/absl start-up noise."""
    return _NOISE.match(line) is not None


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
            raise DataOptionError(f"Keras is already imported with the {loaded} backend in this process, "
                                  f"so it cannot switch to {requested}; run h5train in a new process")
        return loaded
    if requested == "auto":
        chosen = environ.get("KERAS_BACKEND") or ("jax" if _installed("jax") else "tensorflow")
        if chosen not in SUPPORTED:
            raise DataOptionError(f"KERAS_BACKEND={chosen} is not a backend h5train supports "
                                  f"({', '.join(SUPPORTED)}); unset it or pass --backend jax")
    else:
        chosen = requested
    if not _installed(chosen):
        raise DataOptionError(f"the {chosen} backend is not installed; pip install 'csv2h5[train]' "
                              f"(or choose another with --backend)")
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
        with _native_noise_dropped():
            import keras

            if keras.backend.backend() == "tensorflow":
                import_tensorflow_quietly()
    return _loaded_backend() or ""


def import_tensorflow_quietly() -> types.ModuleType:
    """Import TensorFlow and look for its devices, without the native notices both print on stderr.

    Raises:
        ImportError: TensorFlow is not installed.
    """
    with _native_noise_dropped():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf


@contextlib.contextmanager
def _native_noise_dropped() -> Iterator[None]:
    if _active:  # h5train's filter already runs for the whole command
        yield
        return
    with _filtering():
        yield


@contextlib.contextmanager
def _filtering() -> Iterator[None]:
    """Run one native log filter on stderr while the block runs."""
    native = _NativeLogFilter()
    native.start()
    _active.append(native)
    try:
        yield
    finally:
        _active.remove(native)
        native.stop()


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
    found = {"python": platform.python_version(), "numpy": np.__version__, "keras": keras.__version__,
             "keras_backend": backend, "h5py": h5py.__version__, "csv2h5": __version__}
    if backend == "jax":
        import jax
        import jaxlib

        found.update(jax=jax.__version__, jaxlib=jaxlib.__version__)
    elif backend == "tensorflow":
        import tensorflow as tf

        found["tensorflow"] = tf.__version__
    return found


class _NativeLogFilter:
    """Routes file descriptor 2 through a pipe that drops native log messages.

    Python's own ``sys.stderr`` (h5train's lines, warnings, tracebacks) is pointed
    at the real stderr directly, so only what native code and child processes
    write to fd 2 passes the filter: a native message is dropped with its
    continuation lines (TensorFlow logs a Python traceback inside one).
    """

    def __init__(self) -> None:
        self._saved: int | None = None
        self._thread: threading.Thread | None = None
        self._python_stderr: object | None = None

    def start(self) -> None:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable stderr (a daemon): nothing to filter
            return
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._saved = saved
        if _writes_to_fd2(sys.stderr):  # not when a test runner has put its own stream there
            self._python_stderr = sys.stderr
            sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding=sys.stderr.encoding,
                                          errors="backslashreplace", line_buffering=True)
        self._thread = threading.Thread(target=self._pump, args=(read_end, os.dup(saved)), daemon=True,
                                        name="h5train-stderr-filter")
        self._thread.start()

    @staticmethod
    def _pump(read_end: int, out_fd: int) -> None:
        dropping = False
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(out_fd, "wb", buffering=0) as out:
            for line in pipe:
                if is_native_noise(line):
                    dropping = True
                elif not (dropping and _CONTINUATION.match(line)):
                    dropping = False
                    out.write(line)

    def stop(self) -> None:
        """Give fd 2 back; lines still in the pipe are written within a second."""
        if self._saved is None:
            return
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
        if self._python_stderr is not None:
            sys.stderr.close()  # its own duplicate of the real stderr
            sys.stderr = self._python_stderr
            self._python_stderr = None
        os.dup2(self._saved, 2)  # closes this process's write end of the pipe: the pump sees EOF
        os.close(self._saved)
        self._saved = None
        if self._thread is not None:
            self._thread.join(timeout=1.0)  # forked workers may still hold the pipe open


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


_active: list[_NativeLogFilter] = []


@contextlib.contextmanager
def quiet_native_logs(enabled: bool = True) -> Iterator[None]:
    """While the block runs, drop TensorFlow/XLA/absl start-up noise from stderr (``enabled=False``: keep it)."""
    if not enabled:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's own C++ info and warnings, where it honours it
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with _filtering():
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null while the block runs (gloo announces its connections there)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def restore_stderr() -> None:
    """Stop filtering now (before a hard exit, so that the last message gets out)."""
    while _active:
        _active.pop().stop()

"""Native log lines kept off stderr: TensorFlow, XLA and absl start-up notices.

TensorFlow, XLA and absl write start-up notices straight to file descriptor 2
from C++ (oneDNN, "Could not find cuda drivers", cuInit errors, CPU feature
guards), before any Python logging setting can apply. ``quiet_native_logs``
filters those lines out of the process's stderr while a command runs (a thread
reads fd 2 through a pipe); Python errors, warnings and h5train's own lines
pass through. Nothing here imports Keras.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

# Native log lines: absl/glog "I0000 00:00:1795558089.441470   17267 port.cc:153] ...", their
# pre-initialisation banner, TensorFlow's CPU-feature notice, gloo's connection notices.
# Fatal ("F...") lines and check failures are kept: they explain a crash.
_NOISE = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
    rb"|\[Gloo\] Rank \d+ is connected to)"
)
# Lines that continue a native message: indented, blank, or a Python traceback it quotes.
_CONTINUATION = re.compile(rb"^(?:\s|$|Traceback \(most recent call last\)|[A-Za-z_][\w.]*(?:Error|Exception): )")
_NOISY_LOGGERS = ("absl", "jax", "jax._src.xla_bridge", "tensorflow")


def is_native_noise(line: bytes) -> bool:
    """Whether a line of stderr is TensorFlow/XLA/absl start-up noise."""
    return _NOISE.match(line) is not None


@contextlib.contextmanager
def native_noise_dropped() -> Iterator[None]:
    """Drop native log lines while the block runs (unless a filter already runs for the whole command)."""
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
            sys.stderr = io.TextIOWrapper(
                os.fdopen(os.dup(saved), "wb", buffering=0),
                encoding=sys.stderr.encoding,
                errors="backslashreplace",
                line_buffering=True,
            )
        self._thread = threading.Thread(
            target=self._pump, args=(read_end, os.dup(saved)), daemon=True, name="h5train-stderr-filter"
        )
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

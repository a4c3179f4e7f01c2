"""Run test code under either Keras backend.

Keras fixes its backend when it is first imported, so the test process runs one
(``KERAS_BACKEND``, tensorflow unless set; see tests/conftest.py) and code for
the other runs in one helper process per backend, started once per session and
reused: a call is ``on_backend(backend, "module:function", *args)``, the result
comes back pickled. Tests in tests/trainer and the helpers here are importable
in the helper process (tests/trainer and scripts/ are put on its path).

    python backends.py       # the helper process itself: requests on fd 3, results on fd 4
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
BACKENDS = ("jax", "tensorflow")


class _Helper:
    """A process running Keras on one backend, taking calls over two pipes."""

    def __init__(self, backend: str, log: Path) -> None:
        to_child, self._requests = os.pipe()
        self._results, from_child = os.pipe()
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__)), str(to_child), str(from_child)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(to_child, from_child),
                cwd=HERE,
            )
        os.close(to_child)
        os.close(from_child)
        self.log = log
        self._send = os.fdopen(self._requests, "wb")
        self._receive = os.fdopen(self._results, "rb")

    def call(self, target: str, args: tuple, kwargs: dict, path: list[str]) -> object:
        pickle.dump((target, args, kwargs, path), self._send)
        self._send.flush()
        try:
            status, value = pickle.load(self._receive)
        except EOFError:
            raise RuntimeError(f"the {target} helper process died; its output: {self.log}") from None
        if status == "error":
            raise RuntimeError(f"{target} failed in the helper process:\n{value}")
        return value

    def close(self) -> None:
        # Say so rather than rely on end-of-file: processes forked from this one hold the pipe open.
        pickle.dump(None, self._send)
        self._send.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._receive.close()


_helpers: dict[str, _Helper] = {}


def in_process_backend() -> str:
    import keras

    return keras.backend.backend()


def on_backend(backend: str, target: str, *args: object, **kwargs: object) -> object:
    """Call ``module:function`` (importable from tests/trainer) under ``backend``, here or in its helper."""
    if backend == in_process_backend():
        return _resolve(target)(*args, **kwargs)
    helper = _helpers.get(backend)
    if helper is None or helper.process.poll() is not None:
        helper = _helpers[backend] = _Helper(backend, Path(tempfile.gettempdir()) / f"csv2h5-tests-{backend}-helper.log")
    return helper.call(target, args, kwargs, [p for p in sys.path if p])


def close_helpers() -> None:
    while _helpers:
        _helpers.popitem()[1].close()


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def h5train(*args: object) -> tuple[int, str, str]:
    """``h5train ARGS`` through typer's test runner: (exit code, stdout, stderr); bugs are raised."""
    from csv2h5.trainer.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _serve(requests_fd: int, results_fd: int) -> None:
    sys.path[:0] = [str(HERE), str(HERE.parents[1] / "scripts")]
    with os.fdopen(requests_fd, "rb") as requests, os.fdopen(results_fd, "wb") as results:
        while True:
            try:
                request = pickle.load(requests)
            except EOFError:
                request = None
            if request is None:  # the session is over; leave without waiting on native threads at exit
                sys.stdout.flush()
                os._exit(0)
            target, args, kwargs, path = request
            sys.path.extend(p for p in path if p not in sys.path)  # e.g. a test's own model module
            importlib.invalidate_caches()
            try:
                reply = ("ok", _resolve(target)(*args, **kwargs))
            except BaseException:  # noqa: BLE001 - everything goes back to the test, which raises it
                reply = ("error", traceback.format_exc())
            pickle.dump(reply, results)
            results.flush()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))

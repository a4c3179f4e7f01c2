"""Ctrl-C and SIGTERM during training: held while files are written, made sure to stop training.

Only the main thread can handle signals; elsewhere both contexts do nothing.
"""

from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM while the block writes files, then act on them as usual.

    A checkpoint is written whole or not at all, and the interruption cannot be
    lost: Keras's ``model.save`` swallows a KeyboardInterrupt raised at some
    points inside it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        signal.raise_signal(caught[0])  # the handler it would have met: KeyboardInterrupt, or the default


_caught: list[int] = []  # the Ctrl-C and SIGTERM seen inside the outermost ``signals_interrupt``


def _stop(signum: int, frame: object) -> None:
    _caught.append(signum)
    raise KeyboardInterrupt


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the block runs, Ctrl-C and SIGTERM are recorded, then raise KeyboardInterrupt.

    The record outlives the exception: a library that swallows it (Keras's step
    logs under a bare ``except``; JAX's garbage-collection callback, where Python
    only prints "Exception ignored") cannot lose the interruption, for
    ``stop_if_interrupted`` raises it again at the next safe point. The record
    starts empty with the outermost block (a command's whole run, or one ``fit``).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outermost = signal.getsignal(signal.SIGINT) is not _stop
    if outermost:
        _caught.clear()
    previous = {sig: signal.signal(sig, _stop) for sig in HANDLED}
    hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_unraisable, hook)
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if outermost:
            _caught.clear()


def _unraisable(hook: Callable[[object], None], unraisable: object) -> None:
    """Python's report of an exception it had to ignore, but for the recorded interruption: it is not lost."""
    if not (_caught and isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt)):
        hook(unraisable)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C or SIGTERM came (inside ``signals_interrupt``), swallowed or not."""
    if _caught:
        raise KeyboardInterrupt

"""Ctrl-C and SIGTERM during training: held while files are written, made sure to stop training.

Only the main thread can handle signals; elsewhere both contexts do nothing.
"""

from __future__ import annotations

import contextlib
import signal
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


@contextlib.contextmanager
def signals_interrupt(noted: Callable[[int], None]) -> Iterator[None]:
    """While the block runs, Ctrl-C and SIGTERM call ``noted(signum)`` and raise KeyboardInterrupt.

    ``noted`` lets the caller raise it again where a library swallowed it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        noted(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, stop) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Parser processes reached through one pipe each: tasks sent and results read by the main thread itself.

``ProcessPoolExecutor`` passes every task and result through two threads of
the main process (its manager and its queue feeder): about 1 ms of the main
process's CPU a task, a quarter of its whole share on 4 MiB blocks. Here the
main thread pickles a task straight into a worker's pipe and reads the result
from it when it is wanted (:meth:`Task.result`); a worker's results come back
in the order its tasks went, so each pipe is read in order.

Neither side can block the other: in each worker a thread reads every task as
it comes (the pipe never fills while the worker parses), and the main thread
reads a worker's pipe whenever it waits for one of its results.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import queue
import select
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

from .errors import Csv2H5Error

_STOP = "stop"  # the worker ends after the task it is running; tasks not begun are dropped


class WorkerDied(Csv2H5Error, RuntimeError):
    """A parser process ended without answering (killed, out of memory, a crash in native code)."""


class Task:
    """One task sent to a worker: its result, read from the worker's pipe when asked for (a future's methods)."""

    __slots__ = ("_worker", "_done", "_value", "_error")

    def __init__(self, worker: _Worker) -> None:
        self._worker = worker
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def _set(self, ok: bool, value: Any) -> None:
        self._done = True
        if ok:
            self._value = value
        else:
            self._error = value

    def done(self) -> bool:
        if not self._done:
            self._worker.read_ready()
        return self._done

    def result(self) -> Any:
        while not self._done:
            self._worker.read_one()
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self) -> BaseException | None:
        while not self._done:
            self._worker.read_one()
        return self._error

    def cancel(self) -> bool:
        """A task sent cannot be taken back (as a running future's): False; its result is still read."""
        return False

    def cancelled(self) -> bool:
        return False


class _Worker:
    """One process, its pipe, and its tasks not yet answered (oldest first)."""

    def __init__(self, context: Any, initializer: Callable[..., None], initargs: tuple) -> None:
        self.conn, child = multiprocessing.Pipe(duplex=True)
        self.process = context.Process(target=_serve, args=(child, initializer, initargs), daemon=True)
        self.process.start()
        child.close()
        # Whether an answer is there, asked before every task sent: ``Connection.poll(0)`` builds a
        # selector each time (~80 us); a poll object made once answers in a few us.
        self._ready = select.poll()
        self._ready.register(self.conn.fileno(), select.POLLIN)
        self.waiting: collections.deque[Task] = collections.deque()
        self.kept: object = None  # the argument last sent in the ``kept`` place (see ``send``)

    def send(self, fn: Callable[..., Any], args: tuple, kept: int | None = None) -> Task:
        """Send ``fn(*args)``; ``args[kept]`` goes only if it is not the object this worker was sent there last."""
        same = kept is not None and args[kept] is self.kept
        if same:
            args = args[:kept] + (None,) + args[kept + 1 :]
        payload = ForkingPickler.dumps((fn, args, kept, same))  # before the task is counted: a pickling error sends nothing
        if kept is not None and not same:
            self.kept = args[kept]
        task = Task(self)
        self.waiting.append(task)
        try:
            self.conn.send_bytes(payload)
        except OSError:  # its end of the pipe is closed: it died
            self._died()
        return task

    def read_one(self) -> None:
        """Read the next answer (waiting for it) and give it to the oldest task."""
        try:
            ok, value = self.conn.recv()
        except (EOFError, OSError):
            self._died()
        self.waiting.popleft()._set(ok, value)

    def read_ready(self) -> None:
        while self.waiting and self._ready.poll(0):  # readable, or closed (read_one then says it died)
            self.read_one()

    def _died(self) -> None:
        error = WorkerDied(f"a parser process (pid {self.process.pid}) ended without answering; was it killed, or out of memory?")
        while self.waiting:
            self.waiting.popleft()._set(False, error)
        raise error

    def stop(self) -> None:
        """Drop its tasks not begun, let it end, and read what it still sends until it has."""
        try:
            self.conn.send(_STOP)
            while self.conn.recv() is not None:
                pass
        except (EOFError, OSError):
            pass
        self.conn.close()
        self.process.join()


class ParserProcesses:
    """``count`` worker processes, each with its own pipe; :meth:`submit` as an executor's."""

    def __init__(self, count: int, context: Any, initializer: Callable[..., None], initargs: tuple = ()) -> None:
        self._workers: list[_Worker] = []
        try:
            for _ in range(count):
                self._workers.append(_Worker(context, initializer, initargs))
        except BaseException:  # one would not start: end those that did
            self.shutdown()
            raise
        self._turn = itertools.cycle(range(count))

    def submit(self, fn: Callable[..., Any], *args: Any, kept: int | None = None) -> Task:
        """Run ``fn(*args)`` in the worker with the fewest tasks waiting (in turn among equals).

        ``kept``: the position of an argument that stays the same object over many
        tasks (a parse plan): pickled and sent to a worker only when it changes.
        """
        for worker in self._workers:  # answers already there (read in order later) do not count as work waiting
            worker.read_ready()
        first = next(self._turn)
        order = self._workers[first:] + self._workers[:first]
        worker = min(order, key=lambda w: len(w.waiting))
        return worker.send(fn, args, kept)

    def shutdown(self) -> None:
        """Stop every worker (tasks not begun are dropped) and wait until they have ended."""
        for worker in self._workers:
            worker.stop()


def _serve(conn: Connection, initializer: Callable[..., None], initargs: tuple) -> None:
    """A worker's life: tasks read by a thread as they come, run in order here, answered in order."""
    initializer(*initargs)
    tasks: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_read_tasks, args=(conn, tasks), daemon=True).start()
    kept: object = None  # the argument sent last in a ``kept`` place, for the tasks sent without it
    while True:
        task = tasks.get()
        if task == _STOP or task is None:
            break
        fn, args, place, same = task
        if same:
            args = args[:place] + (kept,) + args[place + 1 :]
        elif place is not None:
            kept = args[place]
        try:
            answer = (True, fn(*args))
        except BaseException as exc:  # sent back to be raised where the result is wanted
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:  # an answer that cannot be pickled: say so instead
            conn.send((False, RuntimeError(f"a parser process's answer could not be sent: {exc!r}")))
    try:
        conn.send(None)  # the last answer: the main process reads until it
        conn.close()
    except OSError:  # the main process is gone
        pass


def _read_tasks(conn: Connection, tasks: queue.SimpleQueue) -> None:
    """Move tasks from the pipe to the queue at once (so the main process never waits to send one)."""
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the main process is gone
            tasks.put(None)
            return
        if task == _STOP:
            # Tasks not begun are dropped: the worker stops after the one it is running.
            while True:
                try:
                    tasks.get_nowait()
                except queue.Empty:
                    break
            tasks.put(_STOP)
            return
        tasks.put(task)

"""Multi-worker processes: where this one sits (``WorkerSpec``), and a watcher around it.

No Keras here: the command line checks the flags and starts the watcher before
any backend loads.

Why a watcher. JAX's distributed client ends a process with a native abort (a
page of C++ log and a stack dump, exit status 134) the moment it loses the
coordinator or the coordinator declares a worker dead, and it takes no Python
callback for that. So ``h5train fit --strategy multi-worker`` runs the training
in a child process and watches it: the child's own messages pass through, a
native abort becomes one line ``error: ...`` and exit status 2, and files the
child was writing are not left half-written. The child ends itself if its
watcher dies (a worker killed outright stops training at once, so the others
notice within a step instead of waiting for a heartbeat timeout).
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from .errors import DataOptionError, TrainerError
from .nativelog import is_native_noise

STRATEGIES = ("default", "mirrored", "multi-worker")
DEFAULT_JOIN_SECONDS = 300  # how long workers wait for each other to start
SUPERVISED = "H5TRAIN_SUPERVISED"  # set in the child: it runs the training itself
_LOST = re.compile(
    rb"Terminating process because the JAX distributed service detected fatal errors"
    rb"|Failed to send RPC to coordination service|heartbeat timeout|CoordinationServiceError"
)
_STACK = re.compile(rb"^(?:\*\*\* Check failure stack trace|    @ |\s*$|Additional GRPC error|:UNKNOWN:|RPC: /xla)")


class WorkerLostError(TrainerError):
    """Another worker of a multi-worker run stopped (killed, interrupted, or unreachable)."""


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """Where this process sits in a multi-worker run."""

    coordinator: str  # HOST:PORT of worker 0's coordinator
    num_workers: int
    index: int

    @classmethod
    def resolve(
        cls, coordinator: str | None, num_workers: int | None, index: int | None, environ: Mapping[str, str] | None = None
    ) -> WorkerSpec:
        """From the flags, or else Keras's ``KERAS_DISTRIBUTION_*`` variables.

        Raises:
            DataOptionError: something missing or inconsistent, saying which flag to pass.
        """
        environ = os.environ if environ is None else environ
        if coordinator is None and environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"):
            coordinator = environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"].split(",")[0]
        num_workers = num_workers if num_workers is not None else _env_int(environ, "KERAS_DISTRIBUTION_NUM_PROCESSES")
        index = index if index is not None else _env_int(environ, "KERAS_DISTRIBUTION_PROCESS_ID")
        missing = [
            flag
            for flag, value in (
                ("--coordinator HOST:PORT", coordinator),
                ("--num-workers N", num_workers),
                ("--worker-index I", index),
            )
            if value is None
        ]
        if missing:
            raise DataOptionError(
                f"--strategy multi-worker needs {', '.join(missing)} "
                "(or KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES, _PROCESS_ID)"
            )
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise DataOptionError(f"--coordinator takes HOST:PORT (worker 0's address), got {coordinator!r}")
        if num_workers < 1 or not 0 <= index < num_workers:
            raise DataOptionError(f"--worker-index must be in 0..{num_workers - 1} for --num-workers {num_workers}, got {index}")
        return cls(coordinator, num_workers, index)


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    text = environ.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise DataOptionError(f"{name}={text!r} is not an integer") from None


WRITE_LOCK = threading.Lock()  # held while the chief writes the run directory; an exit waits for it


def watch_parent(poll_seconds: float = 0.5, parent: int | None = None) -> None:
    """End this process if its parent (``parent``: that process id, when known before this one started)
    goes away: a supervised worker, or a reading process.

    A worker killed outright must stop training at once, so that the others
    notice within a step; a file being written is finished first. A reading
    process whose training process was killed has no one left to read for; it
    may learn so only after its slow start (a parent that died meanwhile left it
    to init, which ``getppid`` would then name as its parent).
    """
    parent = os.getppid() if parent is None else parent

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        WRITE_LOCK.acquire(timeout=60)
        os._exit(2)

    threading.Thread(target=watch, daemon=True, name="h5train-parent-watch").start()


def supervise(
    argv: Sequence[str],
    *,
    worker: WorkerSpec,
    verbose: bool,
    join_seconds: float = DEFAULT_JOIN_SECONDS,
    stderr: BinaryIO | None = None,
) -> int:
    """Run ``h5train ARGV`` as this worker's training process and watch it; return the exit status to report.

    The child runs in its own session, so Ctrl-C (and SIGTERM, SIGHUP) reach only
    the watcher, which stops the child at once: stopping one worker mid-step
    could leave the others waiting in a collective it never joins. Finished
    epochs are on disk (files are renamed into place, state.json last), and a
    write cut short leaves only a temporary file, removed here.
    """
    out = stderr if stderr is not None else sys.stderr.buffer
    child = subprocess.Popen(
        [sys.executable, "-m", "csv2h5.trainer", *argv],
        stderr=subprocess.PIPE,
        env={**os.environ, SUPERVISED: "1"},
        start_new_session=True,
    )
    stopped_by: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopped_by.append(signum)
        child.kill()

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, stop) for sig in handled}
    relay = _Relay(child.stderr, out, verbose=verbose)
    relay.start()
    try:
        status = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    relay.join(timeout=2.0)  # worker processes of the child may hold the pipe open a little longer
    if status != 0 and relay.run_dir is not None:
        for stale in relay.run_dir.rglob("*.tmp*"):  # a write cut short
            stale.unlink(missing_ok=True)
    if stopped_by:
        where = "worker 0's run directory" if relay.run_dir is None else str(relay.run_dir)
        message = (
            f"interrupted; {where} holds the last finished epoch; continue with: h5train fit --resume "
            f"{relay.run_dir or 'RUN_DIR'} (and the same --coordinator/--num-workers/--worker-index) on every worker"
        )
        return _report(out, message, 130)
    if relay.reported:
        return status if status > 0 else 2  # the child said what went wrong
    if relay.lost:
        report = b"".join(relay.lost)
        if b"RegisterTask" in report:  # the workers never all got in
            return _report(out, _not_joined(worker, join_seconds), 2)
        return _report(
            out,
            f"worker {worker.index} lost contact with the other workers ({_reason(report)}); "
            "restart every worker with --resume RUN_DIR",
            2,
        )
    if status < 0:
        name = signal.Signals(-status).name if -status in {s.value for s in signal.Signals} else str(-status)
        return _report(
            out,
            f"worker {worker.index}'s training process was killed by {name} (out of memory?); "
            "the other workers stop too; restart every worker with --resume RUN_DIR",
            2,
        )
    return status


def _not_joined(worker: WorkerSpec, join_seconds: float) -> str:
    if worker.index == 0:
        return (
            f"worker 0 waited {join_seconds:.0f} s at {worker.coordinator}, but not all {worker.num_workers} "
            f"workers joined; start each with --coordinator {worker.coordinator} --num-workers "
            f"{worker.num_workers} and its own --worker-index, and check that they can reach this port"
        )
    return (
        f"worker {worker.index} could not join the {worker.num_workers} workers at {worker.coordinator} within "
        f"{join_seconds:.0f} s; start worker 0 there with the same --coordinator and --num-workers, and check "
        "that its port is reachable from here"
    )


def _report(out: BinaryIO, message: str, code: int) -> int:
    out.write(f"error: {message}\n".encode())
    out.flush()
    return code


class _Relay(threading.Thread):
    """Copies the child's stderr through, minus native noise; notes what a watcher needs to know."""

    def __init__(self, source: BinaryIO | None, out: BinaryIO, *, verbose: bool) -> None:
        super().__init__(daemon=True, name="h5train-worker-relay")
        self.source = source
        self.out = out
        self.verbose = verbose
        self.run_dir: Path | None = None
        self.lost: list[bytes] = []  # the native report of the coordinator giving up, line by line
        self.reported = False  # the child printed its own "error: ..." line

    def run(self) -> None:
        in_native_report = False
        for line in self.source or ():
            if line.startswith(b"run directory: "):
                self.run_dir = Path(line.split(b": ", 1)[1].strip().decode(errors="replace"))
            self.reported = self.reported or line.startswith(b"error: ")
            if _LOST.search(line):
                in_native_report = True
            elif not (in_native_report and _STACK.match(line)):
                in_native_report = False
            if in_native_report:
                self.lost.append(line)
            if self.verbose or not (in_native_report or is_native_noise(line)):
                self.out.write(line)
                self.out.flush()


def _reason(report: bytes) -> str:
    text = report.decode(errors="replace")
    if "heartbeat timeout" in text:
        return "a worker stopped answering"
    if "coordination service" in text or "Failed to send RPC" in text:
        return "the coordinator, worker 0, is gone"
    return "the coordinator reported a failed worker"

"""How one training process takes part in training: ``--strategy default|mirrored|multi-worker``.

- ``default``: Keras's own device placement.
- ``mirrored``: every local device. TensorFlow's MirroredStrategy, or on JAX a
  ``keras.distribution.DataParallel`` over the local devices.
- ``multi-worker`` (JAX only): N processes, on one machine or many, train one
  model data-parallel through JAX's distributed runtime and
  ``keras.distribution.DataParallel``. ``--batch-size`` is the global batch;
  worker I reads slice I of N of every global batch (``HDF5Sequence(batch_slice=)``)
  and JAX assembles the global batch, so N workers compute what one process
  would with the same seed and batch. Worker 0 is the chief: it hosts the
  coordinator and alone writes the run directory.

Under TensorFlow, Keras 3's ``fit`` fails with MultiWorkerMirroredStrategy
(tensorflow/tensorflow#72388), so ``multi-worker`` is refused there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
from collections.abc import Iterator, Mapping

import numpy as np

from ._keras import keras
from .errors import DataOptionError
from .nativelog import native_stdout_silenced
from .workers import DEFAULT_JOIN_SECONDS, STRATEGIES, WRITE_LOCK, WorkerLostError, WorkerSpec

HEARTBEAT_SECONDS = 60  # a worker silent this long is taken for dead by JAX's coordinator


@dataclasses.dataclass(frozen=True)
class Plan:
    """This process's part in training."""

    name: str
    strategy: object | None = None  # a tf.distribute.Strategy (TensorFlow mirrored), else None
    worker: WorkerSpec | None = None  # set in multi-worker training
    devices: int = 1  # devices the batch is split over (all processes)

    @property
    def chief(self) -> bool:
        """Whether this process writes the run directory."""
        return self.worker is None or self.worker.index == 0

    @property
    def batch_slice(self) -> tuple[int, int] | None:
        """This worker's slice of each global batch, for ``HDF5Sequence(batch_slice=)``."""
        return None if self.worker is None else (self.worker.index, self.worker.num_workers)

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and compile models in here."""
        if self.strategy is None:
            yield
        else:
            with self.strategy.scope():
                yield

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        """Save models in here: a multi-worker chief saves outside the distribution.

        Saving makes a throwaway optimizer; under the distribution its variables
        would be placed on every worker's devices, a collective the other workers
        never join.
        """
        if self.worker is None:
            yield
            return
        current = keras.distribution.distribution()
        with WRITE_LOCK:  # a watcher's exit waits for the file
            keras.distribution.set_distribution(None)
            try:
                yield
            finally:
                keras.distribution.set_distribution(current)


def plan(name: str, *, batch_size: int, worker: WorkerSpec | None = None, join_seconds: float = DEFAULT_JOIN_SECONDS) -> Plan:
    """Set this process up for strategy ``name`` (call before any model is built).

    Raises:
        DataOptionError: an unknown strategy, multi-worker on TensorFlow, or a batch that does not split.
        WorkerLostError: the other workers did not join in time.
    """
    backend = keras.backend.backend()
    if name not in STRATEGIES:
        raise DataOptionError(f"--strategy {name!r} is not one of {', '.join(STRATEGIES)}")
    if name == "default":
        return Plan(name)
    if name == "multi-worker":
        if backend != "jax":
            raise DataOptionError(
                "--strategy multi-worker runs on the JAX backend: pass --backend jax "
                "(Keras 3's fit fails under TensorFlow's MultiWorkerMirroredStrategy, "
                "tensorflow/tensorflow#72388)"
            )
        if worker is None:
            raise DataOptionError("--strategy multi-worker needs --coordinator, --num-workers and --worker-index")
        _join(worker, join_seconds)
    elif backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        return Plan(name, strategy=strategy, devices=strategy.num_replicas_in_sync)
    devices = keras.distribution.list_devices()
    if batch_size % len(devices):
        raise DataOptionError(
            f"--batch-size {batch_size} does not split over {len(devices)} devices; use a multiple of {len(devices)}"
        )
    mesh = keras.distribution.DeviceMesh((len(devices),), ["batch"], devices)
    # auto_shard_dataset=False: each worker already feeds only its own slice of the global batch.
    keras.distribution.set_distribution(keras.distribution.DataParallel(device_mesh=mesh, auto_shard_dataset=worker is None))
    return Plan(name, worker=worker, devices=len(devices))


def _join(worker: WorkerSpec, join_seconds: float) -> None:
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # collectives between CPU processes
    timeouts = {"initialization_timeout": int(join_seconds)}
    if "heartbeat_timeout_seconds" in inspect.signature(jax.distributed.initialize).parameters:  # newer JAX
        timeouts["heartbeat_timeout_seconds"] = HEARTBEAT_SECONDS
    try:
        jax.distributed.initialize(
            coordinator_address=worker.coordinator, num_processes=worker.num_workers, process_id=worker.index, **timeouts
        )
    except Exception as exc:  # a timeout, an unreachable or busy address: JAX says which in its first line
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise WorkerLostError(
            f"worker {worker.index} could not join the {worker.num_workers} workers at {worker.coordinator} "
            f"within {join_seconds:.0f} s ({first}); start every worker with the same --coordinator and "
            "--num-workers, and worker 0 first or soon after"
        ) from None
    from jax.experimental import multihost_utils

    with native_stdout_silenced():  # the first collective connects the workers; gloo says so on stdout
        multihost_utils.sync_global_devices("h5train joined")


def agree(plan: Plan, facts: Mapping[str, object]) -> None:
    """Check that every worker runs with the same ``facts`` (options, data, checkpoint).

    Raises:
        DataOptionError: naming the first fact where a worker differs from worker 0.
    """
    if plan.worker is None or plan.worker.num_workers == 1:
        return
    from jax.experimental import multihost_utils

    names = sorted(facts)
    mine = np.stack([np.frombuffer(hashlib.sha256(repr(facts[n]).encode()).digest(), np.uint8) for n in names])
    everyone = np.asarray(multihost_utils.process_allgather(mine))  # (workers, facts, 32)
    for k, theirs in enumerate(everyone):
        differ = [name for n, name in enumerate(names) if not np.array_equal(theirs[n], everyone[0][n])]
        # Other differences explain a different data order too (another file, another --shuffle): name them first.
        causes = [name for name in differ if name not in _FIXES] or differ
        if causes:
            raise DataOptionError(
                f"worker {k}'s {causes[0]} differs from worker 0's; "
                + _FIXES.get(
                    causes[0], "start every worker with the same options and the same data file (a copy must be identical)"
                )
            )


# What to do when a fact differs though the options and the data are the same.
_FIXES = {
    "data order": "the order of the rows comes from the memory each worker found (it picks global or blocks and "
    "the pool of blocks, shared by its reading processes with --processes); pass every worker the same "
    "--memory-budget, e.g. --memory-budget 8GB, and the same --processes and --loaders"
}


def finish(plan: Plan) -> None:
    """Wait until every worker is done (the chief has written the run directory), then leave."""
    if plan.worker is None:
        return
    import jax
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices("h5train finished")
    jax.distributed.shutdown()


_PEER_SIGNS = (
    "Connection reset by peer",
    "Connection closed by peer",
    "Gloo",
    "coordination service",
    "heartbeat",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
)


def peer_failure(exc: BaseException) -> str | None:
    """If an exception from a training step means another worker went away, a short reason; else None."""
    text = str(exc)
    for sign in _PEER_SIGNS:
        if sign in text:
            return sign if sign.startswith("Connection") else f"{sign} error in a collective"
    return None


def weights_digest(model: keras.Model) -> str:
    """A short hash of the weights, to compare models without moving them."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]

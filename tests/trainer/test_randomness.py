"""Exact resume of every source of randomness: random layers' streams and the optimizer's state."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from backends import on_backend
from csv2h5.trainer.errors import RunError
from csv2h5.trainer.modelfile import load
from csv2h5.trainer.randomness import generator_states, restore_generator_states


def _model(optimizer: str) -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.GaussianNoise(0.2),
            keras.layers.Dense(12, activation="relu"),
            keras.layers.Dropout(0.4),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    chosen = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9) if optimizer == "sgd" else keras.optimizers.Adam()
    model.compile(optimizer=chosen, loss="sparse_categorical_crossentropy")
    return model


def straight_and_resumed(folder: str, optimizer: str, restore: bool = True) -> tuple[list, list, list]:
    """Weights after 3 epochs straight, and after 1 epoch, a save, a load (and the states restored), then 2 more."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    y = rng.integers(0, 3, 256)
    straight = _model(optimizer)
    straight.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
    first = _model(optimizer)
    first.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    first.save(f"{folder}/epoch1.keras")
    states = generator_states(first)
    keras.utils.set_random_seed(1)  # as a resumed h5train does: the seed again, then the saved streams
    resumed = load(f"{folder}/epoch1.keras")
    if restore:
        restore_generator_states(resumed, states)
    resumed.fit(x, y, batch_size=32, epochs=3, initial_epoch=1, shuffle=False, verbose=0)
    return straight.get_weights(), resumed.get_weights(), states


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resume_continues_random_layers_and_optimizer_bit_for_bit(backend, tmp_path, optimizer):
    straight, resumed, states = on_backend(backend, "test_randomness:straight_and_resumed", str(tmp_path), optimizer)
    assert len(states) == 2 and all(state[1] == 8 for state in states)  # two random layers, 8 steps each
    for a, b in zip(straight, resumed, strict=True):
        assert np.array_equal(a, b)


def test_without_the_saved_streams_a_resume_would_differ(tmp_path):
    """The check above can fail: the same resume without restoring the states ends elsewhere."""
    straight, resumed, _ = straight_and_resumed(str(tmp_path), "adam", restore=False)
    assert not all(np.array_equal(a, b) for a, b in zip(straight, resumed, strict=True))


def test_a_record_that_does_not_fit_the_model_is_refused(tmp_path):
    model = _model("adam")
    with pytest.raises(RunError, match="the checkpoint has 2 random layers but state.json records 1"):
        restore_generator_states(model, [[1, 2]])

"""One seed: nablanet.seed covers what is drawn without an explicit rng; NumPy's global state is never touched."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import nablanet
from nablanet import nn
from nablanet.datasets import make_polynomial
from nablanet.optim import Adam
from nablanet.preprocessing import train_val_test_split

# A whole run with no rng= and no seed= anywhere: layers (Conv2d, Dense, an RNN, Dropout) built without
# rng=, fit without seed= (shuffled, with a validation split), data drawn without rng=. Printed as JSON:
# every weight and buffer after training, and the History.
_RUN = """
import json, sys
import numpy as np
import nablanet
from nablanet import nn
from nablanet.datasets import make_polynomial
from nablanet.optim import Adam

def run():
    X, y = make_polynomial(48, noise=0.1)
    X = X.astype(np.float32)
    images = np.repeat(X[:, None, :, None], 4, axis=3) * np.ones((1, 1, 1, 1), np.float32)
    model = nn.Sequential(nn.Conv2d(1, 2, (2, 2), activation="relu"), nn.Flatten(), nn.Dense(6, 8, activation="tanh"),
                          nn.BatchNorm(8), nn.Dropout(0.3), nn.Dense(8, 1))
    history = nablanet.fit(model, images, y.astype(np.float32), loss="mse", optimizer=Adam(model.parameters(), lr=1e-2),
                           epochs=3, batch_size=8, validation_split=0.25, progress=False)
    recurrent = nn.GRU(2, 3)
    return {"weights": {name: array.tolist() for name, array in model.state_dict().items()},
            "gru": [p.data.tolist() for p in recurrent.parameters()], "history": history.history}
"""


def _run_in_process() -> dict:
    namespace = {}
    exec(_RUN, namespace)
    return namespace["run"]()


def _run_in_subprocess(seed: int) -> str:
    source_root = str(pathlib.Path(nablanet.__file__).resolve().parents[1])
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")]))
    script = _RUN + f"\nnablanet.seed({seed})\nprint(json.dumps(run()))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_same_script_run_twice_gives_bit_identical_weights_and_history():
    first, second = _run_in_subprocess(0), _run_in_subprocess(0)
    assert first == second  # JSON of float64 values: repr round-trips, so equal text is equal bits
    assert _run_in_subprocess(1) != first


def test_nablanet_seed_in_one_process_repeats_the_run_bit_for_bit():
    nablanet.seed(3)
    first = _run_in_process()
    unseeded = _run_in_process()
    nablanet.seed(3)
    second = _run_in_process()
    assert json.dumps(first) == json.dumps(second)
    assert first["weights"] != unseeded["weights"] and first["history"] != unseeded["history"]


def _fixed_model_run(seed):
    model = nn.Sequential(nn.Dense(2, 8, activation="relu", rng=1), nn.Dropout(0.2, rng=2), nn.Dense(8, 1, rng=3))
    X, y = make_polynomial(40, rng=0)
    history = nablanet.fit(model, X.astype(np.float32), y.astype(np.float32), loss="mse",
                           optimizer=Adam(model.parameters(), lr=1e-2), epochs=2, batch_size=8, validation_split=0.25,
                           seed=seed, progress=False)
    return history.history


def test_fit_seed_alone_fixes_the_batches_and_split_whatever_the_library_seed():
    nablanet.seed(0)
    first = _fixed_model_run(seed=5)
    nablanet.seed(1)
    assert _fixed_model_run(seed=5) == first
    assert _fixed_model_run(seed=6) != first


def test_the_library_seed_gives_each_layer_its_own_draws():
    nablanet.seed(0)
    first, second = nn.Dense(4, 4), nn.Dense(4, 4)
    assert not np.array_equal(first.W.data, second.W.data)
    nablanet.seed(0)
    np.testing.assert_array_equal(nn.Dense(4, 4).W.data, first.W.data)
    # An explicit rng= is used instead, and does not consume the library's seed.
    nablanet.seed(0)
    np.testing.assert_array_equal(nn.Dense(4, 4, rng=9).W.data, nn.Dense(4, 4, rng=9).W.data)
    np.testing.assert_array_equal(nn.Dense(4, 4).W.data, first.W.data)


def test_numpys_global_random_state_is_neither_read_nor_changed():
    def everything_unseeded():
        nablanet.seed(0)
        model = nn.Sequential(nn.Dense(2, 4, activation="relu"), nn.Dropout(0.5), nn.Dense(4, 1))
        X, y = make_polynomial(30)
        X, y = X.astype(np.float32), y.astype(np.float32)
        nablanet.fit(model, X, y, loss="mse", optimizer=Adam(model.parameters()), epochs=2, batch_size=8,
                     validation_split=0.2, progress=False)
        parts = train_val_test_split(X, y)
        return [p.data.copy() for p in model.parameters()], nablanet.predict(model, X), parts

    np.random.seed(11)
    before = np.random.get_state()
    weights, outputs, parts = everything_unseeded()
    after = np.random.get_state()
    assert before[0] == after[0] and np.array_equal(before[1], after[1]) and before[2:] == after[2:]
    np.random.seed(12)  # another global state: the same numbers, since it is not read either
    weights_again, outputs_again, parts_again = everything_unseeded()
    for a, b in zip(weights + [outputs] + list(parts), weights_again + [outputs_again] + list(parts_again)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_a_bad_seed_is_refused_in_our_words(bad):
    with pytest.raises(ValueError, match="nablanet.seed: the seed must be a non-negative integer or None"):
        nablanet.seed(bad)

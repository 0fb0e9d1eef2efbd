"""fit(..., compile=True) trains as eager fit does: the same losses and weights, the last partial batch
traced once more, and steps that cannot compile (an L2 penalty) run eagerly."""

import numpy
import pytest

import nablanet
import nablanet.nn as nn
from nablanet import optim
from nablanet.train.compiled import CompiledStep


def _fit(compile, **options):
    rng = numpy.random.default_rng(0)
    X = rng.standard_normal((90, 5)).astype(numpy.float32)
    y = rng.integers(0, 3, 90)
    model = nn.Sequential(nn.Dense(5, 8, activation="relu", rng=0), nn.Dropout(0.2, rng=2), nn.Dense(8, 3, rng=1))
    history = nablanet.fit(model, X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e-2),
                           epochs=3, batch_size=32, seed=0, progress=False, compile=compile, **options)
    return history, model


@pytest.mark.parametrize("options", [{}, {"l2": 1e-3}])
def test_compiled_fit_equals_eager_fit(options, monkeypatch):
    programs = []
    original = CompiledStep.__init__

    def recording(self, step):
        original(self, step)
        programs.append(self._program)

    monkeypatch.setattr(CompiledStep, "__init__", recording)
    eager_history, eager_model = _fit(False, **options)
    history, model = _fit(True, **options)
    numpy.testing.assert_allclose(history["loss"], eager_history["loss"], rtol=1e-6)
    for (name, ours), theirs in zip(model.state_dict().items(), eager_model.state_dict().values()):
        numpy.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6, err_msg=name)
    # Batches of 32 rows and the last one of 26: two traces; with a penalty the step stays eager.
    assert programs[0].traces == (0 if options else 2)


def test_a_diverging_compiled_fit_stops_where_eager_fit_does():
    from nablanet.train.divergence import TrainingDivergedError

    rng = numpy.random.default_rng(1)
    X, y = rng.standard_normal((64, 3)) * 10, rng.standard_normal(64) * 10
    outcomes = []
    for compile in (False, True):
        model = nn.Sequential(nn.Dense(3, 8, activation="relu", rng=0, dtype=numpy.float64),
                              nn.Dense(8, 1, rng=1, dtype=numpy.float64))
        with pytest.raises(TrainingDivergedError) as caught:
            nablanet.fit(model, X, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=0.5), epochs=20,
                         batch_size=16, shuffle=False, progress=False, compile=compile)
        outcomes.append(((caught.value.epoch, caught.value.batch), [p.data.copy() for p in model.parameters()]))
    assert outcomes[0][0] == outcomes[1][0]
    for ours, theirs in zip(outcomes[1][1], outcomes[0][1]):
        numpy.testing.assert_array_equal(ours, theirs)

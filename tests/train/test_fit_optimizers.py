"""fit's model and optimizer: what is refused (not a model, no optimizer, another model's parameters)."""

import numpy as np
import pytest

import nablanet.nn as nn
from nablanet.optim import SGD, Adam
from nablanet.train import evaluate, fit, predict

X_LINE = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [-2.0, 1.0]])
Y_LINE = np.array([1.0, 0.0, 2.0, -1.0])


def _line_model(rng=0):
    return nn.Sequential(nn.Dense(2, 1, rng=rng, dtype=np.float64))


# --- what fit refuses ----------------------------------------------------------------------------------

def test_an_optimizer_over_another_models_parameters_is_refused_and_a_subset_of_the_models_is_not():
    model, other = _line_model(0), _line_model(1)
    with pytest.raises(ValueError, match=r"2 of the 2 parameters the optimizer SGD updates are not the model's "
                                         r"\(params\[0\] of shape \(2, 1\), params\[1\] of shape \(1,\)\)"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=SGD(other.parameters(), lr=0.1), epochs=3, progress=False)
    mixed = SGD(model.parameters() + other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"2 of the 4 parameters .* \(params\[2\] of shape \(2, 1\), params\[3\]"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=mixed, epochs=3, progress=False)
    # Part of the model's own parameters is fine: the others stay frozen.
    two_layers = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=np.float64), nn.Dense(3, 1, rng=1, dtype=np.float64))
    frozen = {name: value for name, value in two_layers.state_dict().items() if name.startswith("layers.1")}
    fit(two_layers, X_LINE, Y_LINE, loss="mse", optimizer=SGD(two_layers[0].parameters(), lr=0.1), epochs=3,
        progress=False)
    for name, value in frozen.items():
        np.testing.assert_array_equal(two_layers.state_dict()[name], value)
    assert not np.array_equal(two_layers.state_dict()["layers.0.W"], _line_model().state_dict()["layers.0.W"])


@pytest.mark.parametrize("optimizer, message", [
    (None, "got None"),
    ("adam", "got an object of type str"),
])
def test_something_other_than_an_optimizer_is_a_type_error_naming_it(optimizer, message):
    model = _line_model()
    with pytest.raises(TypeError, match=rf"optimizer must be an optimizer over the model's parameters, e\.g\. "
                                        rf"optimizer=nablanet\.optim\.Adam\(model\.parameters\(\), lr=1e-3\); {message}"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=optimizer, epochs=1, progress=False)


def test_an_optimizer_built_without_parameters_is_refused():
    model = _line_model()
    with pytest.raises(ValueError, match=r"Adam was built without parameters .* Adam\(model\.parameters\(\), \.\.\.\)"):
        fit(model, X_LINE, Y_LINE, loss="mse", optimizer=Adam(lr=0.1), epochs=1, progress=False)


def test_a_plain_function_as_the_model_is_a_type_error_naming_it():
    model = _line_model()

    def linear(X):
        return X @ np.ones((2, 1))

    expected = r"model must be a nablanet\.nn\.Module .* got the function .*linear: a plain function has no parameters"
    with pytest.raises(TypeError, match=expected):
        fit(linear, X_LINE, Y_LINE, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)
    with pytest.raises(TypeError, match=expected):
        predict(linear, X_LINE)
    with pytest.raises(TypeError, match=expected):
        evaluate(linear, X_LINE, Y_LINE, "mse")
    with pytest.raises(TypeError, match="model must be a nablanet.nn.Module .* got an object of type int$"):
        fit(3, X_LINE, Y_LINE, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1, progress=False)

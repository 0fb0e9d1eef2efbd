"""What fit leaves behind: each module's mode."""

import numpy as np
import pytest

import nablanet
from nablanet import nn, optim
from nablanet.train import LambdaCallback


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _network():
    return nn.Sequential(nn.Dense(3, 8, rng=0), nn.BatchNorm(8), nn.Activation("relu"), nn.Dropout(0.5, rng=1),
                         nn.Dense(8, 2, rng=2))


def _fit(model, **options):
    X, y = _data()
    return nablanet.fit(model, X, y, loss="cross_entropy", optimizer=optim.Adam(model.parameters(), lr=1e-2),
                        epochs=2, batch_size=8, validation_split=0.25, seed=0, progress=False, **options)


# --- modes -----------------------------------------------------------------------------------------

def test_a_model_in_eval_mode_is_in_eval_mode_after_fit():
    model = _network().eval()
    _fit(model)
    assert not any(module.training for module in model.modules())
    X, _ = _data()
    # Dropout is off and BatchNorm uses its running statistics: calling the model is predicting.
    np.testing.assert_array_equal(model(X).data, nablanet.predict(model, X))


def test_a_model_in_training_mode_stays_in_training_mode_as_in_pytorch():
    model = _network()
    _fit(model)
    assert all(module.training for module in model.modules())
    X, _ = _data()
    assert not np.array_equal(model(X).data, model(X).data)  # dropout draws new masks


def test_each_module_gets_its_own_mode_back_even_when_fit_raises():
    model = _network().train()
    model[1].eval()  # a frozen BatchNorm, as when fine-tuning
    before = [module.training for module in model.modules()]
    seen_while_training = []

    def fail(run, epoch, logs):
        seen_while_training.append([module.training for module in model.modules()])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _fit(model, callbacks=[LambdaCallback(on_epoch_end=fail)])
    assert [module.training for module in model.modules()] == before
    _fit(model)
    assert [module.training for module in model.modules()] == before
    assert seen_while_training == [[True] * len(before)]  # fit trains in training mode throughout

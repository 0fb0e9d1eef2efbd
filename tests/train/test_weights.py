"""fit and evaluate with per-sample weights (sample_weight, class_weight) and with sparse inputs.

The weighted cost of a batch is C = sum_i w_i l_i / sum_i w_i (+ the penalty, divided by sum_i w_i when
divide_penalty_by_batch_size): steps worked by hand, integer weights against repeated rows, and
scikit-learn's compute_sample_weight as the oracle of class_weight.
"""

import numpy as np
import pytest
from scipy import sparse

import nablanet.nn as nn
from nablanet.optim import SGD
from nablanet.train import data as train_data
from nablanet.train import evaluate, fit, predict
from nablanet.train.data import validation_rows
from nablanet.train.weights import class_sample_weights

sklearn_class_weight = pytest.importorskip("sklearn.utils.class_weight")


def _hand_model():
    """Dense(2, 1) without activation, W = [0.5, -1.0]^T, b = 0.25 (as test_fit's)."""
    layer = nn.Dense(2, 1, rng=0, dtype=np.float64)
    layer.W.data[...] = [[0.5], [-1.0]]
    layer.b.data[...] = [0.25]
    return nn.Sequential(layer), layer


X_HAND = np.array([[1.0, 2.0], [3.0, -1.0]])
Y_HAND = np.array([1.0, 0.0])
W_HAND = np.array([3.0, 1.0])


def _classifier(n_in=4, n_classes=3, seed=0):
    return nn.Sequential(nn.Dense(n_in, 8, activation="tanh", rng=seed, dtype=np.float64),
                         nn.Dense(8, n_classes, rng=seed + 1, dtype=np.float64))


def _problem(n=24, n_in=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    y = np.argmax(X[:, :n_classes] + 0.3 * rng.standard_normal((n, n_classes)), axis=1)
    return X, y


def _train(X, y, epochs=5, model_seed=0, **settings):
    model = _classifier(X.shape[1], 3, model_seed)
    settings = {"batch_size": None, "loss": "cross_entropy", "metrics": (), "progress": False, **settings}
    history = fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.2), epochs=epochs, **settings)
    return model, history


def _parameters(model):
    return [p.data.copy() for p in model.parameters()]


# --- steps worked by hand --------------------------------------------------------------------------

def test_one_weighted_step_by_hand():
    model, layer = _hand_model()
    history = fit(model, X_HAND, Y_HAND, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                  batch_size=None, sample_weight=W_HAND, metrics=(), progress=False)
    # z = [-1.25, 2.75], r = z - y = [-2.25, 2.75], w = [3, 1], sum w = 4
    # C = (3 (2.25^2) + 1 (2.75^2)) / 4 = (15.1875 + 7.5625) / 4 = 5.6875
    # dC/dz = 2 w r / 4 = [-3.375, 1.375]
    # dC/dW = X^T dC/dz = [1(-3.375) + 3(1.375), 2(-3.375) + (-1)(1.375)] = [0.75, -8.125];  dC/db = -2.0
    # W <- W - 0.1 dC/dW = [0.425, -0.1875];   b <- 0.25 + 0.2 = 0.45
    assert history["loss"] == [pytest.approx(5.6875, rel=1e-12)]
    np.testing.assert_allclose(layer.W.data, [[0.425], [-0.1875]], rtol=1e-12)
    np.testing.assert_allclose(layer.b.data, [0.45], rtol=1e-12)


def test_the_penalty_is_divided_by_the_batchs_total_weight_by_hand():
    model, layer = _hand_model()
    history = fit(model, X_HAND, Y_HAND, loss="mse", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
                  batch_size=None, sample_weight=W_HAND, l2=0.5, divide_penalty_by_batch_size=True, metrics=(),
                  progress=False)
    # scikit-learn's sw_sum: penalty 0.5 (0.5^2 + 1^2) / 4 = 0.15625, gradient 2 (0.5) W / 4 = [0.125, -0.25]
    # W <- W - 0.1 ([0.75, -8.125] + [0.125, -0.25]) = [0.5 - 0.0875, -1 + 0.8375] = [0.4125, -0.1625]
    assert history["penalty"] == [pytest.approx(0.15625, rel=1e-12)]
    np.testing.assert_allclose(layer.W.data, [[0.4125], [-0.1625]], rtol=1e-12)


def test_integer_weights_are_repeated_rows():
    X, y = _problem()
    counts = np.random.default_rng(1).integers(0, 4, X.shape[0])
    weighted, _ = _train(X, y, sample_weight=counts.astype(float))
    repeated, _ = _train(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    for mine, expected in zip(_parameters(weighted), _parameters(repeated)):
        np.testing.assert_allclose(mine, expected, rtol=1e-12, atol=1e-14)


def test_a_batch_whose_weights_are_all_zero_takes_no_step():
    X, y = _problem(n=8)
    weights = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 1.0, 1.0])
    skipped, history = _train(X, y, epochs=1, batch_size=4, shuffle=False, sample_weight=weights,
                              metrics=("accuracy",))
    # The same as one step on the second batch alone, and the same figures.
    alone, alone_history = _train(X[4:], y[4:], epochs=1, sample_weight=weights[4:], metrics=("accuracy",))
    for mine, expected in zip(_parameters(skipped), _parameters(alone)):
        np.testing.assert_array_equal(mine, expected)
    assert history.history == alone_history.history


# --- validation ------------------------------------------------------------------------------------

def test_validation_split_cuts_the_weights_with_the_rows():
    X, y = _problem(n=40)
    weights = np.random.default_rng(2).uniform(0.2, 3.0, 40)
    model, history = _train(X, y, epochs=2, shuffle=True, seed=7, validation_split=0.25, sample_weight=weights,
                            metrics=("accuracy",))
    _, held_out = validation_rows(40, 0.25, rng=np.random.default_rng(7))
    expected = evaluate(model, X[held_out], y[held_out], "cross_entropy", sample_weight=weights[held_out])
    assert history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-12)
    assert history["val_accuracy"][-1] == pytest.approx(expected["accuracy"], rel=1e-12)
    unweighted = evaluate(model, X[held_out], y[held_out], "cross_entropy")
    assert unweighted["loss"] != pytest.approx(expected["loss"], rel=1e-6)


def test_validation_data_may_carry_its_own_weights():
    X, y = _problem(n=30)
    weights = np.linspace(0.5, 2.0, 10)
    model, history = _train(X[:20], y[:20], epochs=2, validation_data=(X[20:], y[20:], weights))
    expected = evaluate(model, X[20:], y[20:], "cross_entropy", sample_weight=weights)
    assert history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-12)
    with pytest.raises(ValueError, match=r"a pair \(X_val, y_val\) or a triple"):
        _train(X[:20], y[:20], validation_data=(X[20:], y[20:], weights, weights))


def test_evaluate_weighs_the_loss_and_the_metrics():
    X, y = _problem(n=30)
    model = _classifier()
    weights = np.random.default_rng(3).uniform(0.0, 2.0, 30)
    scores = evaluate(model, X, y, "cross_entropy", sample_weight=weights)
    logits = predict(model, X)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    per_sample = -log_p[np.arange(30), y]
    assert scores["loss"] == pytest.approx(np.sum(weights * per_sample) / np.sum(weights), rel=1e-12)
    assert scores["accuracy"] == pytest.approx(np.average(logits.argmax(axis=1) == y, weights=weights), rel=1e-12)


# --- class_weight ------------------------------------------------------------------------------------

def test_balanced_class_weights_are_scikit_learns():
    labels = np.array([0, 0, 0, 1, 2, 2, 0, 1])
    expected = sklearn_class_weight.compute_sample_weight("balanced", labels)
    np.testing.assert_allclose(class_sample_weights("balanced", labels, (8, 3)), expected, rtol=1e-15)
    np.testing.assert_allclose(class_sample_weights("balanced", np.eye(3)[labels], (8, 3)), expected, rtol=1e-15)
    binary = (labels > 0).astype(float)[:, None]
    np.testing.assert_allclose(class_sample_weights("balanced", binary, (8, 1)),
                               sklearn_class_weight.compute_sample_weight("balanced", binary[:, 0]), rtol=1e-15)
    np.testing.assert_allclose(class_sample_weights({0: 0.5, 2: 3.0}, labels, (8, 3)),
                               sklearn_class_weight.compute_sample_weight({0: 0.5, 1: 1.0, 2: 3.0}, labels), rtol=1e-15)


def test_class_weight_in_fit_multiplies_the_sample_weights():
    X, y = _problem()
    weights = np.random.default_rng(4).uniform(0.5, 1.5, X.shape[0])
    by_class, _ = _train(X, y, class_weight="balanced", sample_weight=weights)
    by_hand, _ = _train(X, y, sample_weight=weights * sklearn_class_weight.compute_sample_weight("balanced", y))
    for mine, expected in zip(_parameters(by_class), _parameters(by_hand)):
        np.testing.assert_allclose(mine, expected, rtol=1e-13, atol=1e-15)
    plain, _ = _train(X, y)
    assert not np.allclose(_parameters(plain)[0], _parameters(by_class)[0])


@pytest.mark.parametrize("loss, targets, outputs, class_weight, message", [
    ("mse", np.zeros((4, 1)), 1, "balanced", "class_weight needs a classification loss; mse is a regression loss"),
    ("cross_entropy", np.array([0, 1, 2, 0]), 3, {3: 2.0}, r"names class 3, but the model's classes are \[0, 1, 2\]"),
    ("cross_entropy", np.array([0, 1, 2, 0]), 3, {"a": 2.0}, "keys are classes, whole numbers"),
    ("cross_entropy", np.array([0, 1, 2, 0]), 3, {1: -1.0}, r"class_weight\[1\] must be a non-negative number"),
    ("cross_entropy", np.array([0, 1, 2, 0]), 3, "uniform", "class_weight must be 'balanced' or a dict"),
    ("binary_cross_entropy_with_logits", np.array([[0.0, 1.0]] * 4), 2, "balanced", "multi-label"),
    ("binary_cross_entropy_with_logits", np.array([0.0, 1.0, 0.0, 1.0]), 1, {2: 1.0},
     r"names class 2, but the model's classes are \[0, 1\]"),
])
def test_class_weight_mistakes_are_clear_errors(loss, targets, outputs, class_weight, message):
    model = nn.Sequential(nn.Dense(2, outputs, rng=0, dtype=np.float64))
    with pytest.raises(ValueError, match=message):
        fit(model, np.zeros((4, 2)), targets, loss=loss, optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
            class_weight=class_weight, progress=False)


# --- weights that cannot be used ---------------------------------------------------------------------

def test_weights_that_count_nothing_or_do_not_fit_are_refused():
    X, y = _problem(n=8)
    with pytest.raises(ValueError, match="sample_weight: the weights sum to zero"):
        _train(X, y, sample_weight=np.zeros(8))
    with pytest.raises(ValueError, match=r"sample_weight must be a vector of one weight per sample, shape \(8,\)"):
        _train(X, y, sample_weight=np.ones(7))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        _train(X, y, sample_weight=-np.ones(8))
    with pytest.raises(ValueError, match="the validation samples' weights: the weights sum to zero"):
        _train(X, y, validation_split=0.25, shuffle=False, sample_weight=np.r_[np.ones(6), np.zeros(2)])


def test_a_loss_or_metric_that_cannot_weigh_is_refused_before_training():
    X, y = _problem(n=8)

    def unweighted_loss(predictions, targets):
        return nn.functional.cross_entropy(predictions, targets)

    def unweighted_metric(predictions, targets):
        return 0.0

    with pytest.raises(ValueError, match="the loss unweighted_loss takes no sample_weight"):
        _train(X, y, loss=unweighted_loss, sample_weight=np.ones(8))
    with pytest.raises(ValueError, match="the metric unweighted_metric takes no sample_weight"):
        _train(X, y, metrics=(unweighted_metric,), class_weight="balanced")
    with pytest.raises(ValueError, match="the metric unweighted_metric takes no sample_weight"):
        evaluate(_classifier(), X, y, "cross_entropy", metrics=(unweighted_metric,), sample_weight=np.ones(8))
    # Without weights, they are fine.
    _train(X, y, loss=unweighted_loss, metrics=(unweighted_metric,))


# --- sparse inputs -------------------------------------------------------------------------------------

class _Inputs(nn.Module):
    """Passes its input on, recording what it was given: the layers' view of a sparse X."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append((type(x), x.shape[0]))
        return x


@pytest.mark.parametrize("layout", [sparse.csr_matrix, sparse.csc_array])
def test_sparse_inputs_train_as_the_dense_ones(layout):
    X, y = _problem(n=30)
    X[np.abs(X) < 0.8] = 0.0
    dense, dense_history = _train(X, y, epochs=3, batch_size=8, seed=0, validation_split=0.2)
    from_sparse, sparse_history = _train(layout(X), y, epochs=3, batch_size=8, seed=0, validation_split=0.2)
    for mine, expected in zip(_parameters(from_sparse), _parameters(dense)):
        np.testing.assert_array_equal(mine, expected)
    assert sparse_history.history == dense_history.history
    np.testing.assert_array_equal(predict(from_sparse, layout(X)), predict(dense, X))
    assert evaluate(from_sparse, layout(X), y, "cross_entropy") == evaluate(dense, X, y, "cross_entropy")


def test_a_sparse_x_is_densified_one_batch_at_a_time(monkeypatch):
    X, y = _problem(n=30)
    recorder = _Inputs()
    model = nn.Sequential(recorder, _classifier())
    fit(model, sparse.csr_array(X), y, loss="cross_entropy", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
        batch_size=8, progress=False)
    assert {kind for kind, _ in recorder.seen} == {np.ndarray}
    assert max(rows for _, rows in recorder.seen) == 8
    # predict without a batch size cuts a sparse X into pieces of about 2^20 entries: here 2 * 4 = 8 entries.
    monkeypatch.setattr(train_data, "_DENSE_ENTRIES", 8)
    recorder.seen.clear()
    np.testing.assert_allclose(predict(model, sparse.csr_array(X)), predict(model, X), rtol=1e-15)
    assert [rows for _, rows in recorder.seen[:-1]] == [2] * 15 and recorder.seen[-1] == (np.ndarray, 30)


def test_non_finite_entries_of_a_sparse_x_are_refused():
    X, y = _problem(n=12)
    X[5, 1] = np.nan
    X[7, 0] = X[7, 2] = np.inf
    with pytest.raises(ValueError, match=r"X contains 1 NaN and 2 infinite values, in 2 of its 12 rows \(rows 5, 7\)"):
        _train(sparse.csr_matrix(X), y)


def test_weights_are_refused_across_mpi_ranks(monkeypatch):
    # A weighted batch's mean needs the total weight over every rank's shard, which the all-reduce lacks.
    from nablanet.train import loop

    class Collective:
        collective = True

    monkeypatch.setattr(loop, "parallel_training", lambda *arguments: Collective())
    X, y = _problem(n=8)
    for weights in (dict(sample_weight=np.ones(8)), dict(class_weight="balanced")):
        with pytest.raises(ValueError, match="distributed='mpi' does not take sample_weight or class_weight"):
            _train(X, y, distributed="mpi", **weights)


def test_lbfgs_through_fit_weighs_its_closure():
    from nablanet.optim import LBFGS

    X, y = _problem()
    counts = np.random.default_rng(9).integers(0, 4, X.shape[0])

    def lbfgs_fit(X, y, **weights):
        model = _classifier()
        fit(model, X, y, loss="cross_entropy", optimizer=LBFGS(model.parameters(), max_iter=15), epochs=2,
            batch_size=None, l2=1e-3, divide_penalty_by_batch_size=True, metrics=(), progress=False, **weights)
        return model

    weighted = lbfgs_fit(X, y, sample_weight=counts.astype(float))
    repeated = lbfgs_fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    for mine, expected in zip(_parameters(weighted), _parameters(repeated)):
        np.testing.assert_allclose(mine, expected, rtol=1e-7, atol=1e-9)


# --- sparse inputs with weights, several inputs and Datasets ------------------------------------------------

def test_a_sparse_x_with_weights_and_a_validation_split_trains_as_the_dense_one():
    X, y = _problem(n=30)
    X[np.abs(X) < 0.8] = 0.0
    weights = np.random.default_rng(11).uniform(0.0, 2.0, 30)
    settings = dict(epochs=3, batch_size=8, seed=0, validation_split=0.2, sample_weight=weights,
                    class_weight={1: 2.0}, metrics=("accuracy",))
    dense, dense_history = _train(X, y, **settings)
    from_sparse, sparse_history = _train(sparse.csr_matrix(X), y, **settings)
    for mine, expected in zip(_parameters(from_sparse), _parameters(dense)):
        np.testing.assert_array_equal(mine, expected)
    assert sparse_history.history == dense_history.history
    assert evaluate(from_sparse, sparse.csc_array(X), y, "cross_entropy", sample_weight=weights) == evaluate(
        dense, X, y, "cross_entropy", sample_weight=weights)


class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.words, self.numbers = _classifier(4, 3, 0), _classifier(2, 3, 2)

    def forward(self, words, numbers):
        return self.words(words) + self.numbers(numbers)


def test_a_sparse_input_among_several_is_densified_a_batch_at_a_time(monkeypatch):
    X, y = _problem(n=30)
    X[np.abs(X) < 0.8] = 0.0
    numbers = np.random.default_rng(12).standard_normal((30, 2))
    runs = []
    for words in (X, sparse.csr_array(X)):
        model = _TwoInputs()
        history = fit(model, {"words": words, "numbers": numbers}, y, loss="cross_entropy",
                      optimizer=SGD(model.parameters(), lr=0.2), epochs=2, batch_size=8, seed=1, progress=False)
        runs.append((model, history))
    (dense, dense_history), (from_sparse, sparse_history) = runs
    assert sparse_history.history == dense_history.history
    monkeypatch.setattr(train_data, "_DENSE_ENTRIES", 8)  # predict in pieces of 2 rows of the 4-column sparse input
    np.testing.assert_array_equal(predict(from_sparse, {"words": sparse.csr_array(X), "numbers": numbers}),
                                  predict(dense, {"words": X, "numbers": numbers}))


def test_a_dataset_of_sparse_batches_with_weights_trains_as_the_arrays():
    X, y = _problem(n=30)
    X[np.abs(X) < 0.8] = 0.0
    weights = np.random.default_rng(13).uniform(0.5, 2.0, 30)

    class SparseRows:
        shape = X.shape  # for _train's network

        def __init__(self):
            self.X = sparse.csr_matrix(X)

        def __len__(self):
            return 30

        def __getitem__(self, indices):
            return self.X[indices], y[indices], weights[indices]

    dense, expected = _train(X, y, epochs=2, batch_size=8, seed=3, sample_weight=weights)
    from_dataset, history = _train(SparseRows(), None, epochs=2, batch_size=8, seed=3)
    for mine, theirs in zip(_parameters(from_dataset), _parameters(dense)):
        np.testing.assert_array_equal(mine, theirs)
    assert history.history == expected.history

"""What fit, predict, evaluate and the estimators leave behind: each module's mode, and the BLAS thread pools."""

import numpy as np
import pytest

import nablanet
from nablanet import nn, optim, runtime
from nablanet.train import LambdaCallback

threadpoolctl = pytest.importorskip("threadpoolctl")

# The pools' size the tests set for the process around each call: neither OpenBLAS's default on any
# machine (one per core) nor a count the calls are given, so that a call's own limit shows.
PROCESS_THREADS = 3


def blas_sizes() -> list:
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def process_threads():
    """The BLAS pools at PROCESS_THREADS around the test (as a user's own setting would have them)."""
    if not blas_sizes():
        pytest.skip("no BLAS pool that threadpoolctl can see")
    with threadpoolctl.threadpool_limits(limits=PROCESS_THREADS, user_api="blas"):
        assert set(blas_sizes()) == {PROCESS_THREADS}
        yield


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


# --- BLAS threads ----------------------------------------------------------------------------------

def _sizes_while_fitting(**options) -> set:
    seen = []
    record = LambdaCallback(on_batch_end=lambda run, batch, logs: seen.append(tuple(blas_sizes())))
    _fit(_network(), callbacks=[record], **options)
    return {size for sizes in seen for size in sizes}


@pytest.mark.parametrize("threads, during", [(1, 1), (2, 2), (None, runtime.DEFAULT_THREADS), (0, PROCESS_THREADS)])
def test_fit_limits_the_blas_threads_while_it_runs_and_gives_them_back(process_threads, threads, during):
    assert _sizes_while_fitting(threads=threads) == {during}
    assert set(blas_sizes()) == {PROCESS_THREADS}


def test_a_default_fit_leaves_the_pools_of_a_fresh_process_as_they_were():
    before = blas_sizes()
    _sizes_while_fitting()
    assert blas_sizes() == before


def test_threads_none_follows_an_enclosing_blas_threads_block(process_threads):
    with runtime.blas_threads(2):
        assert _sizes_while_fitting() == {2}
        assert set(blas_sizes()) == {2}
    assert set(blas_sizes()) == {PROCESS_THREADS}


def _hooked(model, seen):
    model[0].register_forward_hook(lambda module, inputs, output: seen.append(tuple(blas_sizes())))
    return model


@pytest.mark.parametrize("threads, during", [(1, 1), (2, 2), (None, runtime.DEFAULT_THREADS)])
def test_predict_and_evaluate_limit_the_threads_during_the_call_only(process_threads, threads, during):
    X, y = _data()
    seen = []
    model = _hooked(_network(), seen)
    nablanet.predict(model, X, threads=threads)
    assert set(seen) == {(during,) * len(blas_sizes())} and set(blas_sizes()) == {PROCESS_THREADS}
    seen.clear()
    nablanet.evaluate(model, X, y, "cross_entropy", threads=threads)
    assert set(seen) == {(during,) * len(blas_sizes())} and set(blas_sizes()) == {PROCESS_THREADS}


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
def test_a_bad_threads_is_refused_in_our_words(bad):
    with pytest.raises(ValueError, match="threads must be a non-negative integer"):
        _fit(_network(), threads=bad)
    with pytest.raises(ValueError, match="threads must be a non-negative integer"):
        nablanet.predict(_network(), _data()[0], threads=bad)


# --- the estimators --------------------------------------------------------------------------------

class _RecordingSGD(optim.SGD):
    """SGD that notes the BLAS pools' sizes at each step."""

    seen: list = []

    def step(self, *args, **kwargs):
        _RecordingSGD.seen.append(tuple(blas_sizes()))
        return super().step(*args, **kwargs)


@pytest.mark.parametrize("threads, during", [(1, 1), (2, 2), (None, runtime.DEFAULT_THREADS), (0, PROCESS_THREADS)])
def test_the_mlps_fit_and_predict_on_their_threads(process_threads, threads, during):
    from nablanet import MLPClassifier, MLPRegressor

    X, y = _data()
    for estimator, target in ((MLPClassifier, y), (MLPRegressor, X[:, 1])):
        _RecordingSGD.seen = []
        model = estimator(hidden_layer_sizes=(4,), max_iter=2, solver=lambda params: _RecordingSGD(params, lr=0.01),
                          random_state=0, threads=threads)
        with pytest.warns(Warning):  # not converged in 2 epochs
            model.fit(X, target)
        assert set(_RecordingSGD.seen) == {(during,) * len(blas_sizes())}
        assert set(blas_sizes()) == {PROCESS_THREADS}
        seen = []
        _hooked(model.model_, seen)
        model.predict(X)
        assert set(seen) == {(during,) * len(blas_sizes())} and set(blas_sizes()) == {PROCESS_THREADS}


def test_logistic_regression_runs_lbfgs_on_its_threads(process_threads):
    from nablanet import LogisticRegression

    X, y = _data()
    model = LogisticRegression(warm_start=True, threads=1).fit(X, y)
    seen = []
    _hooked(model.model_, seen)  # the network is kept by warm_start: the next fit evaluates through the hook
    model.fit(X, y)
    assert seen and set(seen) == {(1,) * len(blas_sizes())}
    assert set(blas_sizes()) == {PROCESS_THREADS}


def test_the_estimators_refuse_a_bad_threads_in_scikit_learns_words():
    from nablanet import LogisticRegression, MLPClassifier

    X, y = _data()
    for estimator in (MLPClassifier(threads=-1), LogisticRegression(threads="2")):
        with pytest.raises(ValueError, match="The 'threads' parameter of"):
            estimator.fit(X, y)

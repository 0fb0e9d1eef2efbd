"""kernels/parallel.py and the kernels that split their rows with it: the ranges cover the rows once, in
order, within the thread limit; a split kernel computes what the plain formulas do."""

import threading
import time

import numpy
import pytest

import nablanet.numpy as nnp
from nablanet.kernels import norm as norm_kernels
from nablanet.kernels import parallel
from nablanet.testing import check_grads


@pytest.fixture
def three_threads(monkeypatch):
    """Every kernel splits, over 3 threads (uneven ranges), whatever the machine and the array size."""
    monkeypatch.setattr(parallel, "thread_limit", lambda: 3)
    monkeypatch.setattr(parallel, "MIN_VALUES", 0)


def test_the_ranges_cover_the_rows_once_in_order_on_the_threads_of_the_limit(three_threads):
    calls = []

    def work(start, stop):
        calls.append((start, stop, threading.current_thread().name))
        time.sleep(0.01)  # long enough that every thread takes a range
        return start, stop

    chunks = 3 * parallel.CHUNKS_PER_THREAD
    results = parallel.split_rows(work, 60, 60)
    assert results == [(60 * i // chunks, 60 * (i + 1) // chunks) for i in range(chunks)]
    assert sorted(start for start, _, _ in calls) == [start for start, _ in results]
    names = {name for _, _, name in calls}
    assert threading.current_thread().name in names and len(names) == 3
    assert parallel.split_rows(lambda a, b: (a, b), 2, 2) == [(0, 1), (1, 2)]  # never more ranges than rows


def test_the_caller_does_every_range_a_busy_pool_thread_has_not_taken(monkeypatch):
    monkeypatch.setattr(parallel, "thread_limit", lambda: 2)
    monkeypatch.setattr(parallel, "MIN_VALUES", 0)
    release = threading.Event()
    executor = parallel._executor(1)
    for _ in range(parallel._pool[1]):  # every thread of the pool is busy until released
        executor.submit(release.wait)
    try:
        names = parallel.split_rows(lambda a, b: threading.current_thread().name, 8, 8)
    finally:
        release.set()
    assert names == [threading.current_thread().name] * 2 * parallel.CHUNKS_PER_THREAD


def test_one_thread_small_arrays_and_nested_splits_run_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(parallel, "thread_limit", lambda: 1)
    assert parallel.split_rows(lambda a, b: (a, b, threading.current_thread()), 8, 1 << 30) == [
        (0, 8, threading.current_thread())]
    monkeypatch.setattr(parallel, "thread_limit", lambda: 2)
    assert parallel.split_rows(lambda a, b: (a, b), 8, parallel.MIN_VALUES - 1) == [(0, 8)]
    monkeypatch.setattr(parallel, "MIN_VALUES", 0)
    nested = parallel.split_rows(lambda a, b: parallel.split_rows(lambda c, d: (c, d), b - a, 1 << 30), 8, 1 << 30)
    chunks = 2 * parallel.CHUNKS_PER_THREAD
    assert nested == [[(0, 8 // chunks)]] * chunks  # each range's inner split: one call over its rows


def test_an_error_in_any_range_is_raised_after_every_range_has_run(three_threads):
    finished = []

    def work(start, stop):
        if start == 4:
            raise ValueError("range starting at 4")
        finished.append(start)

    with pytest.raises(ValueError, match="range starting at 4"):
        parallel.split_rows(work, 12, 12)
    assert sorted(finished) == [start for start in range(0, 12, 12 // (3 * parallel.CHUNKS_PER_THREAD)) if start != 4]


def test_the_thread_limit_is_the_blas_limit_and_never_more_than_the_cpus(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        assert parallel.thread_limit() == 1
    assert 1 <= parallel.thread_limit() <= parallel._CPUS
    # Without threadpoolctl, OpenBLAS's own variables say, in its order; nothing set means 1.
    monkeypatch.setattr(parallel, "_blas_limits", lambda: None)
    for variable in parallel._VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    assert parallel.thread_limit() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert parallel.thread_limit() == min(2, parallel._CPUS)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "10000")
    assert parallel.thread_limit() == parallel._CPUS


def _plain(x, g, gamma, beta, eps):
    """Layer normalization's value and VJP from the formulas, in float64."""
    x, g = x.astype(numpy.float64), g.astype(numpy.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / numpy.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + eps)
    x_hat = centred * inv_std
    h = g if gamma is None else g * gamma
    grad_x = inv_std * (h - h.mean(axis=-1, keepdims=True) - x_hat * (h * x_hat).mean(axis=-1, keepdims=True))
    rows = tuple(range(x.ndim - 1))
    if gamma is None:
        return x_hat, (grad_x, None, None)
    return x_hat * gamma + beta, (grad_x, (g * x_hat).sum(axis=rows), g.sum(axis=rows))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype, rtol", [(numpy.float64, 1e-12), (numpy.float32, 2e-4)])
def test_split_row_normalization_and_its_vjp_equal_the_formulas(three_threads, affine, dtype, rtol):
    rng = numpy.random.default_rng(0)
    # A mean large against the spread: the variance must come from x - mu, not E[x^2] - mu^2.
    x = (rng.standard_normal((7, 5, 16)) * 0.5 + 30.0).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    gamma, beta = (rng.normal(1.0, 0.3, 16).astype(dtype), rng.normal(0.0, 0.3, 16).astype(dtype)) if affine \
        else (None, None)
    out, residual = norm_kernels.normalize_rows(x, 1e-5, gamma, beta)
    grads = norm_kernels.normalize_rows_vjp(g, out, residual, gamma, (True, True, True))
    expected_out, expected_grads = _plain(x, g, gamma, beta, 1e-5)
    assert out.dtype == dtype and out.shape == x.shape
    numpy.testing.assert_allclose(out, expected_out, rtol=rtol, atol=rtol)
    for grad, expected in zip(grads, expected_grads):
        if expected is None:
            assert grad is None
        else:
            assert grad.dtype == dtype
            scale = numpy.abs(expected).max()
            numpy.testing.assert_allclose(grad, expected, rtol=rtol, atol=rtol * scale)


def test_a_split_normalization_unneeded_gradients_are_none(three_threads):
    x = numpy.random.default_rng(1).standard_normal((9, 4))
    gamma, beta = numpy.full(4, 2.0), numpy.zeros(4)
    out, residual = norm_kernels.normalize_rows(x, 1e-5, gamma, beta)
    grads = norm_kernels.normalize_rows_vjp(numpy.ones_like(x), out, residual, gamma, (False, True, False))
    assert grads[0] is None and grads[2] is None and grads[1].shape == (4,)


def test_split_normalization_gradients_check_to_second_order(three_threads):
    rng = numpy.random.default_rng(2)
    check_grads(lambda x, gamma, beta: nnp.normalize(x, gamma, beta), [
        rng.standard_normal((6, 3, 5)), rng.normal(1.0, 0.3, 5), rng.standard_normal(5)], order=2)
    check_grads(lambda x: nnp.normalize(x, eps=0.1), [rng.standard_normal((8, 4))], order=2)

"""examples/unet_darcy.py: the U-Net's median relative error on held-out Darcy fields (the stated figure, and
well below predicting the mean field); the solver behind the data set against what the equation implies."""

import numpy as np
import pytest
import scipy.sparse
from example_loader import assert_draws, assert_refused, example_fixtures

example, quick_run = example_fixtures("unet_darcy")

# u(1/2, 1/2) of -laplace(u) = 1 on the unit square with u = 0 on the boundary, by its Fourier series
# (16/pi^4) sum over odd j, k of (-1)^((j + k)/2 - 1) / (j k (j^2 + k^2)).
CENTRE_OF_POISSON = 0.07367135


def test_quick_run_reaches_the_stated_median_relative_error(example, quick_run):
    result, output = quick_run
    u_train = example.make_data(16, 400, 0)[1][80:]
    assert result.baseline == example.relative_error_of_mean_field(u_train, result.u)
    assert result.u.shape == result.u_pred.shape == (80, 16, 16) and result.train_size == 320
    # Measured: 0.081 (90th percentile 0.113); the mean training field's median error is 0.207.
    assert result.median_error < 0.1
    assert result.median_error < 0.5 * result.baseline
    assert f"median {result.median_error:.3f}" in output


def test_solver_matches_the_poisson_solution_for_constant_permeability(example):
    u = example.solve_darcy(np.ones((31, 31)))
    # Second-order accurate: h = 1/32 leaves about 1e-4 at the centre.
    assert u[15, 15] == pytest.approx(CENTRE_OF_POISSON, abs=2e-4)
    assert np.allclose(u, u.T) and np.allclose(u, u[::-1]) and np.all(u > 0)
    # The matrix is the 5-point Laplacian, and scales with a.
    n = 6
    second_difference = scipy.sparse.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    laplacian = (scipy.sparse.kron(second_difference, scipy.sparse.eye(n))
                 + scipy.sparse.kron(scipy.sparse.eye(n), second_difference)) * (n + 1) ** 2
    np.testing.assert_allclose(example.darcy_matrix(3.0 * np.ones((n, n))).toarray(), 3.0 * laplacian.toarray())


def test_solver_is_symmetric_positive_and_scales_inversely_with_permeability(example):
    a = example.permeability(12, np.random.default_rng(0))
    A = example.darcy_matrix(a).toarray()
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    u = example.solve_darcy(a)
    np.testing.assert_allclose(example.solve_darcy(4.0 * a), u / 4.0, rtol=1e-12)
    # The discrete equation holds: A u = 1.
    np.testing.assert_allclose(A @ u.ravel(), np.ones(144), rtol=1e-9)


def test_permeability_is_lognormal_with_the_stated_spread(example):
    a = example.permeability(32, np.random.default_rng(1))
    assert a.shape == (32, 32) and np.all(a > 0)
    assert np.std(np.log(a)) == pytest.approx(example.LOG_STD)
    # Smooth: neighbouring values of log a are strongly correlated at length scale 0.15 (about 5 points).
    g = np.log(a)
    assert np.corrcoef(g[:, :-1].ravel(), g[:, 1:].ravel())[0, 1] > 0.8


def test_unet_maps_a_field_to_a_field_of_the_same_size(example):
    model = example.UNet(4, rng=0)
    assert model(np.zeros((2, 1, 16, 16), dtype=np.float32)).shape == (2, 1, 16, 16)
    assert model(np.zeros((1, 1, 8, 12), dtype=np.float32)).shape == (1, 1, 8, 12)


def test_plot_draws_the_fields(example, quick_run, tmp_path):
    assert_draws(lambda path: example.draw(quick_run[0], path), tmp_path)


def test_a_negative_seed_is_refused_with_a_message(example, capsys):
    assert_refused(example.parse_args, capsys, ["--seed", "-1"], "argument --seed: must be non-negative, got -1")

"""nablanet.numpy.linalg: NumPy's semantics, refusals and conventions, and two scientists' computations
(a Gaussian process's marginal likelihood, Hellmann-Feynman forces) checked against closed forms,
finite differences and torch."""

import math

import numpy
import pytest
import torch

import nablanet.numpy as np
from nablanet import Tensor, grad, jvp, vjp

L = np.linalg
RNG = numpy.random.default_rng(11)


def well_conditioned(*shape, dtype=numpy.float64):
    a = numpy.eye(shape[-1]) * 2.0 + 0.5 * RNG.standard_normal(shape)
    if numpy.issubdtype(dtype, numpy.complexfloating):
        a = a + 0.5j * RNG.standard_normal(shape)
    return a.astype(dtype)


def hermitian(n, complex_=True, spread=1.5):
    """A Hermitian matrix with eigenvalues 0, spread, 2 spread, ... in a random basis."""
    z = RNG.standard_normal((n, n)) + (1j * RNG.standard_normal((n, n)) if complex_ else 0)
    q, _ = numpy.linalg.qr(z)
    return (q * (spread * numpy.arange(n))) @ q.conj().T


def assert_same_values(ours, theirs, rtol=1e-10):
    ours = ours.data if isinstance(ours, Tensor) else numpy.asarray(ours)
    theirs = numpy.asarray(theirs)
    assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype)
    numpy.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)


# --- NumPy's semantics --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [numpy.float64, numpy.float32, numpy.complex128, numpy.complex64])
@pytest.mark.parametrize("shape", [(3, 3), (2, 1, 3, 3), (0, 0), (2, 0, 0)])
def test_square_functions_match_numpy(shape, dtype):
    a = well_conditioned(*shape, dtype=dtype)
    spd = (a @ numpy.conj(numpy.swapaxes(a, -1, -2)) + numpy.eye(shape[-1])).astype(dtype)
    rtol = 1e-4 if dtype in (numpy.float32, numpy.complex64) else 1e-10
    for name, arg, kwargs in [("inv", a, {}), ("det", a, {}), ("slogdet", a, {}), ("eig", a, {}),
                              ("eigvals", a, {}), ("cholesky", spd, {}), ("cholesky", spd, {"upper": True}),
                              ("eigh", spd, {"UPLO": "U"}), ("eigvalsh", spd, {}), ("matrix_power", a, {"n": -3}),
                              ("matrix_power", a, {"n": 0}), ("pinv", a, {"hermitian": False})]:
        ours, theirs = getattr(L, name)(arg, **kwargs), getattr(numpy.linalg, name)(arg, **kwargs)
        if isinstance(theirs, tuple):
            assert type(ours).__name__ == type(theirs).__name__ and ours._fields == theirs._fields
            for o, t in zip(ours, theirs):
                assert_same_values(o, t, rtol)
        else:
            assert_same_values(ours, theirs, rtol)


def test_solve_follows_numpy2_rule_for_the_shape_of_b():
    a = well_conditioned(2, 3, 3)
    for b in [RNG.standard_normal(3), RNG.standard_normal((3, 2)), RNG.standard_normal((4, 1, 3, 1))]:
        assert_same_values(L.solve(a, b), numpy.linalg.solve(a, b))
    with pytest.raises(ValueError):
        L.solve(a, RNG.standard_normal((2, 3)))   # (2, 3) is a stack of 3 x ... matrices, not two vectors


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 5), (3, 3)])
@pytest.mark.parametrize("dtype", [numpy.float64, numpy.complex64])
def test_rectangular_decompositions_match_numpy(shape, dtype):
    a = RNG.standard_normal(shape) + (1j * RNG.standard_normal(shape) if dtype == numpy.complex64 else 0)
    a = a.astype(dtype)
    rtol = 1e-4 if dtype == numpy.complex64 else 1e-10
    for mode in ("reduced", "r", "complete"):
        ours, theirs = L.qr(a, mode=mode), numpy.linalg.qr(a, mode=mode)
        for o, t in zip(ours, theirs) if mode != "r" else [(ours, theirs)]:
            assert_same_values(o, t, rtol)
    for full in (True, False):
        ours, theirs = L.svd(a, full_matrices=full), numpy.linalg.svd(a, full_matrices=full)
        assert ours._fields == ("U", "S", "Vh")
        for o, t in zip(ours, theirs):
            assert_same_values(o, t, rtol)
    assert_same_values(L.svdvals(a), numpy.linalg.svdvals(a), rtol)
    assert_same_values(L.pinv(a, rtol=0.3), numpy.linalg.pinv(a, rtol=0.3), rtol)


def test_svd_of_a_hermitian_matrix_is_numpys():
    h = hermitian(4) - 2.0 * numpy.eye(4)   # eigenvalues of both signs
    for ours, theirs in zip(L.svd(h, hermitian=True), numpy.linalg.svd(h, hermitian=True)):
        assert_same_values(ours, theirs)
    assert_same_values(L.svd(h, compute_uv=False, hermitian=True),
                       numpy.linalg.svd(h, compute_uv=False, hermitian=True))


@pytest.mark.parametrize("ord", [None, "fro", "nuc", numpy.inf, -numpy.inf, 1, -1, 2, -2])
def test_matrix_norms_match_numpy(ord):
    x = RNG.standard_normal((2, 3, 4)).astype(numpy.float32)
    assert_same_values(L.norm(x, ord, axis=(2, 0), keepdims=True),
                       numpy.linalg.norm(x, ord, axis=(2, 0), keepdims=True), 1e-5)
    assert_same_values(L.matrix_norm(x, ord=ord or "fro"), numpy.linalg.matrix_norm(x, ord=ord or "fro"), 1e-5)
    assert_same_values(L.norm(x[0], ord), numpy.linalg.norm(x[0], ord), 1e-5)


@pytest.mark.parametrize("ord", [None, 2, 1, numpy.inf, -numpy.inf, 0, 3, 0.5, -1])
def test_vector_norms_match_numpy(ord):
    z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
    assert_same_values(L.norm(z, ord, axis=1), numpy.linalg.norm(z, ord, axis=1))
    assert_same_values(L.norm(z[0], ord), numpy.linalg.norm(z[0], ord))
    vector_ord = 2 if ord is None else ord
    assert_same_values(L.vector_norm(z, ord=vector_ord, axis=(1, 0), keepdims=True),
                       numpy.linalg.vector_norm(z, ord=vector_ord, axis=(1, 0), keepdims=True))
    if ord == -numpy.inf:   # the minimum of nothing
        with pytest.raises(ValueError, match="zero-size array"):
            numpy.linalg.norm(numpy.zeros(0), ord)
        with pytest.raises(ValueError, match="zero-size array"):
            L.norm(numpy.zeros(0), ord)
    else:
        with numpy.errstate(divide="ignore"):   # 0 ** (1 / ord) for negative ord, as NumPy's
            assert_same_values(L.norm(numpy.zeros(0), ord), numpy.linalg.norm(numpy.zeros(0), ord))


def test_norm_refuses_what_numpy_refuses():
    with pytest.raises(ValueError, match="Invalid norm order for matrices"):
        L.norm(numpy.ones((2, 2)), 3)
    with pytest.raises(ValueError, match="Invalid norm order 'fro' for vectors"):
        L.norm(numpy.ones(2), "fro")
    with pytest.raises(ValueError, match="Improper number of dimensions"):
        L.norm(numpy.ones((2, 2, 2)), 2)


def test_lstsq_returns_numpys_four_results():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
    ours, theirs = L.lstsq(a, b), numpy.linalg.lstsq(a, b)
    for o, t in zip(ours, theirs):
        assert_same_values(o, t)
    x, residuals, rank, s = L.lstsq(a[:, [0, 1, 1]], b)   # rank 2: no residuals, as NumPy
    assert residuals.shape == (0,) and rank == 2
    assert_same_values(x, numpy.linalg.lstsq(a[:, [0, 1, 1]], b)[0])


def test_products_and_reshapes_match_numpy():
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((4, 3))
    a = well_conditioned(6, 6)
    cases = [("cross", (x, y[:2]), {}), ("vecdot", (x, y[:1]), {}), ("outer", (x[0], y[0]), {}),
             ("tensordot", (x, y.T), {"axes": 1}), ("trace", (y.reshape(2, 2, 3),), {"offset": 1}),
             ("diagonal", (y,), {"offset": -1}), ("matrix_transpose", (x,), {}),
             ("multi_dot", ([x[0], y.T, y, x.T],), {}), ("tensorsolve", (a.reshape(2, 3, 6), x), {}),
             ("tensorinv", (a.reshape(6, 2, 3),), {"ind": 1}), ("cond", (a,), {"p": "nuc"})]
    for name, args, kwargs in cases:
        assert_same_values(getattr(L, name)(*args, **kwargs), getattr(numpy.linalg, name)(*args, **kwargs))


def test_singular_matrices_raise_numpys_linalg_error():
    singular = numpy.array([[1.0, 2.0], [2.0, 4.0]])
    assert L.LinAlgError is numpy.linalg.LinAlgError
    with pytest.raises(numpy.linalg.LinAlgError, match="inv: Singular matrix"):
        L.inv(singular)
    with pytest.raises(numpy.linalg.LinAlgError, match="solve: Singular matrix"):
        grad(lambda a: np.sum(L.solve(a, numpy.ones(2))))(singular)
    with pytest.raises(numpy.linalg.LinAlgError, match="not positive definite"):
        L.cholesky(-numpy.eye(2))
    with pytest.raises(numpy.linalg.LinAlgError, match="square"):
        L.det(numpy.ones((2, 3)))
    # Values that have no derivative are NumPy's: a singular matrix has condition number inf.
    assert L.cond(singular, 1) == numpy.inf and L.cond(singular) > 1e15
    with pytest.raises(numpy.linalg.LinAlgError, match="no derivative"):
        grad(lambda a: L.cond(a, 1))(singular)


def test_numpys_own_linalg_calls_reach_nablanet():
    a = Tensor(well_conditioned(3, 3), requires_grad=True)
    out = numpy.linalg.inv(a)
    assert isinstance(out, Tensor) and out.requires_grad
    assert isinstance(numpy.linalg.slogdet(a).logabsdet, Tensor)
    assert isinstance(numpy.linalg.norm(a, "nuc"), Tensor)
    assert numpy.linalg.matrix_rank(a) == 3   # no derivative: NumPy's own, on the values
    assert not hasattr(np, "cholesky") and not hasattr(np, "eigh")   # linalg names stay in np.linalg


# --- refusals -----------------------------------------------------------------------------------

def test_full_matrices_of_a_rectangular_svd_refuse_derivatives():
    a = RNG.standard_normal((4, 3))
    assert L.svd(a)[0].shape == (4, 4)   # values as NumPy's
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        grad(lambda x: np.sum(L.svd(x).S))(a)
    assert grad(lambda x: np.sum(L.svd(x, full_matrices=False).S))(a).shape == (4, 3)
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        grad(lambda x: np.sum(L.qr(x, mode="complete").R))(a)
    with pytest.raises(NotImplementedError, match="Householder"):
        grad(lambda x: np.sum(L.qr(x, mode="raw")[1]))(a)


# --- closed forms and conventions ---------------------------------------------------------------

def test_det_gradient_is_the_cofactor_matrix_even_where_det_is_zero():
    # torch 2.13 returns zeros here (its rule goes through det(A) A^-T); the cofactors are the derivative.
    singular = numpy.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    cofactors = numpy.array([[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0], [-3.0, 6.0, -3.0]])
    numpy.testing.assert_allclose(grad(L.det)(singular), cofactors, atol=1e-12)
    eps, direction = 1e-6, RNG.standard_normal((3, 3))
    numeric = (numpy.linalg.det(singular + eps * direction) - numpy.linalg.det(singular - eps * direction)) / (2 * eps)
    assert numpy.sum(cofactors * direction) == pytest.approx(numeric, rel=1e-6)
    _, det_dot = jvp(L.det, (singular,), (numpy.eye(3),))
    numpy.testing.assert_allclose(det_dot, numpy.trace(cofactors), atol=1e-12)


def test_slogdet_of_a_matrix_whose_det_overflows():
    a = 10.0 * numpy.eye(400) + RNG.standard_normal((400, 400))
    sign, logabsdet = L.slogdet(a)
    with numpy.errstate(over="ignore"):
        assert numpy.isinf(numpy.linalg.det(a)) and numpy.isfinite(logabsdet)
    numpy.testing.assert_allclose(grad(lambda m: L.slogdet(m).logabsdet)(a), numpy.linalg.inv(a).T, rtol=1e-9)


def test_complex_slogdet_sign_moves_with_the_phase_of_det():
    a = well_conditioned(3, 3, dtype=numpy.complex128)
    direction = 1j * numpy.eye(3) * 0.1
    sign, sign_dot = jvp(lambda m: L.slogdet(m).sign, (a,), (direction,))
    t = numpy.trace(numpy.linalg.solve(a, direction))
    numpy.testing.assert_allclose(sign_dot, sign * 1j * t.imag, rtol=1e-12)


def test_pinv_gradient_is_finite_where_singular_values_repeat():
    # At A = 2I every singular value is 2: a composite through the SVD divides by their gaps.
    a = 2.0 * numpy.eye(3)
    numpy.testing.assert_allclose(grad(lambda m: np.sum(L.pinv(m)))(a), -0.25 * numpy.ones((3, 3)), atol=1e-12)


def test_eigenvalue_gradients_are_finite_where_eigenvalues_repeat():
    a = numpy.diag([1.0, 1.0, 3.0])
    for f in (lambda m: np.sum(L.eigh(m).eigenvalues ** 2), lambda m: np.sum(L.eigvalsh(m) ** 2),
              lambda m: np.sum(L.svd(m, full_matrices=False).S ** 2), lambda m: np.sum(L.svdvals(m) ** 2),
              lambda m: np.sum(np.real(L.eig(m).eigenvalues) ** 2), lambda m: np.sum(L.eigvals(m) ** 2)):
        numpy.testing.assert_allclose(grad(f)(a), 2.0 * a, atol=1e-12)   # d tr(A^2)/dA = 2 A^T
    numpy.testing.assert_allclose(grad(lambda m: L.norm(m, "nuc"))(a), numpy.eye(3), atol=1e-12)   # U V^T


def test_eigenvector_derivatives_at_repeated_eigenvalues_are_not_finite_as_in_jax_and_torch():
    a = numpy.diag([1.0, 1.0, 3.0])
    with numpy.errstate(all="ignore"):
        g = grad(lambda m: np.sum(L.eigh(m).eigenvectors[:, 0] ** 2 * numpy.arange(1.0, 4.0)))(a)
    assert not numpy.all(numpy.isfinite(g))


def test_spectral_norm_gradient_splits_over_a_repeated_top_singular_value():
    # The subgradient PyTorch takes at a kink of max: the average of the tied singular directions.
    a = numpy.diag([2.0, 2.0, 1.0])
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.matrix_norm(t, 2).backward()
    numpy.testing.assert_allclose(grad(lambda m: L.norm(m, 2))(a), t.grad.numpy(), atol=1e-12)


def test_two_norm_has_the_subgradient_zero_at_zero():
    for x in (numpy.zeros(3), numpy.zeros((2, 2)), numpy.zeros(3, dtype=complex)):
        g = grad(lambda v: L.norm(v))(x)
        assert numpy.all(g == 0)
        t = torch.tensor(x, requires_grad=True)
        torch.linalg.norm(t).backward()
        assert numpy.all(t.grad.numpy() == 0)
    assert grad(lambda v: L.norm(v, 3))(numpy.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_cholesky_gradient_is_that_of_the_hermitian_part():
    a = numpy.array([[4.0, 1.0], [1.0, 3.0]])
    g = grad(lambda m: np.sum(L.cholesky(m)))(a)
    numpy.testing.assert_allclose(g, g.T, atol=1e-14)
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.cholesky(t).sum().backward()
    numpy.testing.assert_allclose(g, t.grad.numpy(), atol=1e-12)


def test_hessian_of_log_det_is_minus_inverse_kronecker_product():
    # d^2 log det A [E, F] = -tr(A^-1 E A^-1 F): second derivatives through the slogdet rule.
    a = well_conditioned(3, 3)
    e, f = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    first = lambda m: jvp(lambda x: L.slogdet(x).logabsdet, (m,), (e,))[1]
    _, second = jvp(first, (a,), (f,))
    inverse = numpy.linalg.inv(a)
    numpy.testing.assert_allclose(second, -numpy.trace(inverse @ e @ inverse @ f), rtol=1e-10)


# --- a Gaussian process's marginal likelihood ----------------------------------------------------

X = numpy.linspace(0.0, 1.0, 8)
Y = numpy.sin(2 * numpy.pi * X) + 0.1 * numpy.random.default_rng(5).standard_normal(8)
NOISE = 0.05


def rbf_kernel(lib, log_lengthscale, x):
    lengthscale = lib.exp(log_lengthscale)
    squared = (x[:, None] - x[None, :]) ** 2
    return lib.exp(-0.5 * squared / lengthscale ** 2) + NOISE * lib.eye(len(x), dtype=x.dtype)


def gp_negative_log_likelihood(log_lengthscale):
    """0.5 y^T K^-1 y + 0.5 log det K + n/2 log 2 pi, with K = RBF kernel + noise."""
    k = rbf_kernel(np, log_lengthscale, X)
    n = len(X)
    return 0.5 * Y @ L.solve(k, Y) + 0.5 * L.slogdet(k).logabsdet + 0.5 * n * math.log(2 * math.pi)


def gp_negative_log_likelihood_by_cholesky(log_lengthscale):
    chol = L.cholesky(rbf_kernel(np, log_lengthscale, X))
    alpha = L.solve(chol, Y)
    return 0.5 * alpha @ alpha + np.sum(np.log(L.diagonal(chol))) + 0.5 * len(X) * math.log(2 * math.pi)


def test_gaussian_process_likelihood_gradient_against_finite_differences_torch_and_the_closed_form():
    theta = math.log(0.3)
    g = grad(gp_negative_log_likelihood)(theta)
    eps = 1e-6
    numeric = (gp_negative_log_likelihood(theta + eps) - gp_negative_log_likelihood(theta - eps)) / (2 * eps)
    assert abs(g - numeric) < 1e-6 * max(1.0, abs(g))
    assert grad(gp_negative_log_likelihood_by_cholesky)(theta) == pytest.approx(g, rel=1e-10)

    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    x, y = torch.tensor(X), torch.tensor(Y)
    k = rbf_kernel(torch, t, x)
    nll = 0.5 * y @ torch.linalg.solve(k, y) + 0.5 * torch.linalg.slogdet(k).logabsdet + 4 * math.log(2 * math.pi)
    nll.backward()
    assert g == pytest.approx(t.grad.item(), rel=1e-10)

    # dNLL/dtheta = 0.5 tr((K^-1 - a a^T) dK/dtheta), a = K^-1 y (Rasmussen & Williams, eq. 5.9).
    lengthscale = math.exp(theta)
    squared = (X[:, None] - X[None, :]) ** 2
    dk = numpy.exp(-0.5 * squared / lengthscale ** 2) * squared / lengthscale ** 2
    k_value = numpy.exp(-0.5 * squared / lengthscale ** 2) + NOISE * numpy.eye(8)
    alpha = numpy.linalg.solve(k_value, Y)
    assert g == pytest.approx(0.5 * numpy.trace((numpy.linalg.inv(k_value) - numpy.outer(alpha, alpha)) @ dk), rel=1e-9)


def test_gaussian_process_likelihood_hessian_against_finite_differences():
    theta, eps = math.log(0.3), 1e-5
    second = grad(grad(gp_negative_log_likelihood_by_cholesky))(theta)
    first = grad(gp_negative_log_likelihood)
    assert second == pytest.approx((first(theta + eps) - first(theta - eps)) / (2 * eps), rel=1e-6)


# --- quantum mechanics: Hellmann-Feynman ---------------------------------------------------------

H0 = hermitian(4)
H1 = hermitian(4, spread=0.3)


def ground_state(theta):
    return L.eigh(H0 + theta * H1)


def test_ground_state_energy_gradient_is_the_hellmann_feynman_expectation():
    theta = 0.4
    energy_gradient = grad(lambda t: ground_state(t).eigenvalues[0])(theta)
    psi = numpy.linalg.eigh(H0 + theta * H1).eigenvectors[:, 0]
    assert energy_gradient == pytest.approx((psi.conj() @ H1 @ psi).real, rel=1e-12)


def test_ground_state_expectation_derivative_against_finite_differences_and_torch():
    # <psi|O|psi> is invariant under the phase of psi, so it has a derivative (unlike psi itself).
    observable = hermitian(4, spread=1.0)

    def expectation(t):
        psi = ground_state(t).eigenvectors[:, 0]
        return np.real(np.conj(psi) @ observable @ psi)

    theta, eps = 0.4, 1e-6
    g = grad(expectation)(theta)
    assert g == pytest.approx((expectation(theta + eps) - expectation(theta - eps)) / (2 * eps), rel=1e-6)
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    psi = torch.linalg.eigh(torch.tensor(H0) + t * torch.tensor(H1)).eigenvectors[:, 0]
    torch.real(torch.conj(psi) @ torch.tensor(observable) @ psi).backward()
    assert g == pytest.approx(t.grad.item(), rel=1e-9)


def test_vjp_of_decompositions_takes_namedtuple_cotangents():
    a = well_conditioned(3, 3)
    out, f_vjp = vjp(lambda m: L.eigh(m + m.T), a)
    assert type(out).__name__ == "EighResult"
    (g,) = f_vjp(type(out)(numpy.ones(3), numpy.zeros((3, 3))))
    numpy.testing.assert_allclose(g, 2 * numpy.eye(3), atol=1e-12)   # d tr(A + A^T) = 2 I

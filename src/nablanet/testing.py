"""Gradient checking against central finite differences, shipped so users can test their own ops and models."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.ops import concatenate, reshape
from nablanet.autodiff.tensor import Tensor
from nablanet.autodiff.transforms import jvp, vjp


def _flat(values) -> np.ndarray:
    if isinstance(values, (tuple, list)):
        return np.concatenate([_flat(v) for v in values]) if values else np.zeros(0)
    if isinstance(values, Tensor):
        values = values.data
    values = np.asarray(values)
    return np.ravel(values.astype(np.complex128 if np.iscomplexobj(values) else np.float64))


def _in_double(a) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)


def _random_like(rng, shape, complex_: bool) -> np.ndarray:
    v = rng.standard_normal(shape)
    return v + 1j * rng.standard_normal(shape) if complex_ else v


def numerical_jvp(f, args, tangents, eps: float = 1e-6) -> np.ndarray:
    """(f(x + eps v) - f(x - eps v)) / (2 eps), flattened: the directional derivative J v."""
    plus = f(*[a + eps * t for a, t in zip(args, tangents)])
    minus = f(*[a - eps * t for a, t in zip(args, tangents)])
    return (_flat(plus) - _flat(minus)) / (2 * eps)


def relative_error(analytic, numeric, floor: float = 1e-10) -> float:
    """||a - n|| / max(||a||, ||n||, floor): 0 for equal arrays, about 1 for unrelated ones."""
    analytic, numeric = _flat(analytic), _flat(numeric)
    scale = max(np.linalg.norm(analytic), np.linalg.norm(numeric), floor)
    return float(np.linalg.norm(analytic - numeric) / scale)


def check_grads(f, args, modes=("fwd", "rev"), order: int = 2, eps: float = 1e-6, rtol: float = 1e-6, rng=None):
    """Check f's forward- and reverse-mode derivatives against central finite differences, in float64.

    Forward mode: jvp(f, x, v) against (f(x + eps v) - f(x - eps v)) / (2 eps) along a random v.
    Reverse mode: the inner-product identity <u, J v> = <J^T u, v> for random u and v, so one
    finite difference checks the whole VJP. Complex arguments get complex directions, and the
    pairing is JAX's, <u, v> = Re(sum(u * v)) (bilinear: no conjugate), which is what the VJP of a
    complex function transposes. With ``order > 1`` the derivatives themselves are checked
    the same way, recursively (this exercises the rules' own derivatives, i.e. Hessians).

    Args:
        f: a function of float arrays returning an array.
        args: its arguments (converted to float64).
        modes: any of "fwd", "rev".
        order: how many levels of derivatives to check.
        eps: the finite-difference step.
        rtol: the largest relative error accepted.
        rng: a numpy Generator for the random directions (default: seeded with 0).

    Raises:
        AssertionError naming the mode, the order and the relative error when a check fails.

    Example:
        >>> import nablanet.numpy as np
        >>> check_grads(lambda x: np.tanh(x) * x, [np.array([0.3, -1.2])])
    """
    rng = np.random.default_rng(0) if rng is None else rng
    args = [_in_double(a) for a in args]
    tangents = [_random_like(rng, np.shape(a), np.iscomplexobj(a)) for a in args]
    numeric = numerical_jvp(f, args, tangents, eps)
    if "fwd" in modes:
        _, analytic = jvp(f, args, tangents)
        error = relative_error(analytic, numeric)
        if error > rtol:
            raise AssertionError(f"forward mode (JVP), derivative order {3 - order if order <= 2 else 1}: "
                                 f"relative error {error:.3g} > {rtol:g}\n analytic {_flat(analytic)}\n numeric  {numeric}")
        if order > 1:
            check_grads(lambda *a: jvp(f, a, tangents)[1], args, modes, order - 1, eps, rtol, rng)
    if "rev" in modes:
        out, f_vjp = vjp(f, *args)
        cotangent = _random_like(rng, np.shape(out), np.iscomplexobj(out))
        grads = f_vjp(cotangent)
        analytic = float(sum(np.real(np.sum(_flat(g) * _flat(t))) for g, t in zip(grads, tangents)))
        expected = float(np.real(np.sum(_flat(cotangent) * numeric)))
        error = relative_error(analytic, expected)
        if error > rtol:
            raise AssertionError(f"reverse mode (VJP): <J^T u, v> = {analytic!r} but <u, J v> = {expected!r} "
                                 f"(relative error {error:.3g} > {rtol:g})")
        if order > 1:
            check_grads(lambda *a: _joined(vjp(f, *a)[1](cotangent)), args, modes, order - 1, eps, rtol, rng)


def _joined(grads):
    """One flat array from a tuple of gradients, built with differentiable ops."""
    return concatenate([reshape(g, (-1,)) for g in grads])

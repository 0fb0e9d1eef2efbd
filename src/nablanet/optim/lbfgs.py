"""L-BFGS for full-batch problems: the two-loop recursion and a strong-Wolfe line search, in NumPy.

Unlike the first-order optimizers, L-BFGS needs the cost itself (its line search evaluates the cost
and gradient at trial points), so ``step`` takes a closure, as ``torch.optim.LBFGS``. It is meant for
small deterministic problems (full batch): with mini-batch noise its curvature pairs are meaningless.
The line search is our own (Nocedal & Wright's Algorithms 3.5-3.6) rather than scipy's: the library
depends on NumPy only, and the iterates do not change with the scipy version, so a resumed run is
reproducible bit for bit anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nablanet.autodiff.jit import tracing
from nablanet.optim.base import _as_param_list, check_nonnegative, check_positive
from nablanet.optim.registry import register_optimizer

__all__ = ["LBFGS", "LBFGSState", "lbfgs_minimize"]


@dataclass(frozen=True)
class LBFGSState:
    """s, y: the last (at most history_size) steps s_k = x_{k+1} - x_k and gradient changes
    y_k = g_{k+1} - g_k, oldest first (Nocedal & Wright's notation); t: iterations done."""

    s: tuple = ()
    y: tuple = ()
    t: int = 0


def _two_loop(g, s_history, y_history):
    """H_k g by Algorithm 7.4 of Nocedal & Wright (2006), with H_k^0 = (s^T y / y^T y) I (their eq. 7.20)."""
    q = np.array(g, dtype=np.float64, copy=True)
    alphas = []
    for s, y in zip(reversed(s_history), reversed(y_history)):
        alpha = np.dot(s, q) / np.dot(y, s)
        q -= alpha * y
        alphas.append(alpha)
    if s_history:
        s, y = s_history[-1], y_history[-1]
        q *= np.dot(s, y) / np.dot(y, y)
    for (s, y), alpha in zip(zip(s_history, y_history), reversed(alphas)):
        beta = np.dot(y, q) / np.dot(y, s)
        q += (alpha - beta) * s
    return q


def _cubic_minimizer(a, f_a, d_a, b, f_b, d_b):
    """Minimizer of the cubic matching f and f' at a and b (Nocedal & Wright eq. 3.59), kept inside the
    middle 80% of [a, b]; the midpoint if the cubic has no usable minimizer there."""
    low, high = min(a, b), max(a, b)
    margin = 0.1 * (high - low)
    d1 = d_a + d_b - 3.0 * (f_a - f_b) / (a - b)
    radicand = d1 * d1 - d_a * d_b
    if radicand >= 0.0:
        d2 = math.copysign(math.sqrt(radicand), b - a)
        denominator = d_b - d_a + 2.0 * d2
        if denominator != 0.0:
            alpha = b - (b - a) * (d_b + d2 - d1) / denominator
            if math.isfinite(alpha) and low + margin <= alpha <= high - margin:
                return alpha
    return 0.5 * (a + b)


# Costs closer than this (relative) to phi(0) are equal up to the rounding of their evaluation.
_COST_ROUNDING = 100 * np.finfo(np.float64).eps


def _strong_wolfe(phi, f0, d0, alpha, c1, c2, max_evals=25):
    """A step alpha with phi(alpha) <= f0 + c1 alpha d0 and |phi'(alpha)| <= c2 |d0| (strong Wolfe).

    ``phi(alpha) -> (f, f')`` along the search direction; f0, d0 = phi(0), phi'(0) < 0. Algorithm 3.5
    (bracketing, doubling the step) and 3.6 (zoom, by safeguarded cubic interpolation) of Nocedal &
    Wright. Returns None if no such step is found within ``max_evals`` evaluations.

    Near a minimum the cost stops changing in floating point before the gradient vanishes (a least-
    squares cost of 45 cannot resolve a decrease of 1e-15), so sufficient decrease cannot be seen.
    There a step is accepted on the slopes alone, by Hager & Zhang's approximate Wolfe conditions
    (2005, eq. 4.1): c2 phi'(0) <= phi'(alpha) <= (2 c1 - 1) phi'(0), with phi(alpha) within rounding of f0.
    """
    rounding = _COST_ROUNDING * abs(f0)

    def approximately_wolfe(f_a, d_a):
        return abs(f_a - f0) <= rounding and c2 * d0 <= d_a <= (2.0 * c1 - 1.0) * d0

    alpha_prev, f_prev, d_prev = 0.0, f0, d0
    evals = 0
    while evals < max_evals:
        f_a, d_a = phi(alpha)
        evals += 1
        if not math.isfinite(f_a):  # stepped out of the domain: shrink
            alpha = 0.5 * (alpha_prev + alpha)
            continue
        if approximately_wolfe(f_a, d_a):
            return alpha
        if f_a > f0 + c1 * alpha * d0 or (alpha_prev > 0 and f_a >= f_prev):
            bracket = (alpha_prev, f_prev, d_prev, alpha, f_a, d_a)
            break
        if abs(d_a) <= -c2 * d0:
            return alpha
        if d_a >= 0:
            bracket = (alpha, f_a, d_a, alpha_prev, f_prev, d_prev)
            break
        alpha_prev, f_prev, d_prev = alpha, f_a, d_a
        alpha = 2.0 * alpha
    else:
        return None
    # Zoom: lo always satisfies sufficient decrease and has the lowest cost seen; the minimizer is between.
    lo, f_lo, d_lo, hi, f_hi, d_hi = bracket
    while evals < max_evals:
        alpha = _cubic_minimizer(lo, f_lo, d_lo, hi, f_hi, d_hi)
        if alpha == lo or alpha == hi:  # the bracket shrank to rounding level
            break
        f_a, d_a = phi(alpha)
        evals += 1
        if math.isfinite(f_a) and approximately_wolfe(f_a, d_a):
            return alpha
        if not math.isfinite(f_a) or f_a > f0 + c1 * alpha * d0 or f_a >= f_lo:
            hi, f_hi, d_hi = alpha, f_a, d_a
        else:
            if abs(d_a) <= -c2 * d0:
                return alpha
            if d_a * (hi - lo) >= 0:
                hi, f_hi, d_hi = lo, f_lo, d_lo
            lo, f_lo, d_lo = alpha, f_a, d_a
    return lo if lo > 0 else None  # sufficient decrease without the curvature condition is still progress


def lbfgs_minimize(fun, x0, state=None, *, lr=1.0, max_iter=20, history_size=10, tolerance_grad=1e-7,
                   tolerance_change=1e-9, c1=1e-4, c2=0.9):
    """Minimize ``fun`` from ``x0`` by at most ``max_iter`` L-BFGS iterations.

    Each iteration k:
    (1) d_k     = -H_k g_k      (two-loop recursion over the stored pairs (s_i, y_i))
    (2) x_{k+1} = x_k + a_k d_k, a_k satisfying the strong Wolfe conditions with c1, c2, trying a = 1 first
    (3) s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k, stored if y_k^T s_k > 1e-10 y_k^T y_k (curvature)

    Without stored pairs (the first iteration, or after a failed line search drops them) the direction
    is steepest descent scaled as PyTorch's first step, d = -lr g min(1, 1/||g||_1); otherwise
    d = -lr H_k g_k. If the line search fails on steepest descent too, iteration stops.

    Args:
        fun: x (1-D float64 array) -> (cost, gradient array of x's size).
        x0: starting point (1-D).
        state: an ``LBFGSState`` from an earlier call, to continue with its history.
        max_iter: iterations in this call. history_size: pairs kept (m of the references).
        tolerance_grad: stop when max |g| <= tolerance_grad.
        tolerance_change: stop when |f_{k+1} - f_k| or max |s_k| is below it.
        c1, c2: the strong Wolfe constants (Nocedal & Wright's values for quasi-Newton methods).

    Returns:
        (x, f(x), new state).

    References:
        Nocedal & Wright, Numerical Optimization, 2nd ed., 2006: Algorithms 7.4-7.5 (L-BFGS) and
        3.5-3.6 (line search); Liu & Nocedal, 1989.

    Example:
        >>> f = lambda x: (float(np.sum((x - 2.0) ** 2)), 2.0 * (x - 2.0))
        >>> x, fx, state = lbfgs_minimize(f, np.zeros(3))
        >>> np.round(x, 6).tolist(), state.t <= 3
        ([2.0, 2.0, 2.0], True)
    """
    lr = check_positive("lr", lr)
    state = LBFGSState() if state is None else state
    s_history, y_history, t = list(state.s), list(state.y), state.t
    x = np.array(x0, dtype=np.float64).ravel()
    f, g = _evaluate(fun, x)
    for _ in range(max_iter):
        if np.max(np.abs(g), initial=0.0) <= tolerance_grad:
            break
        found = None
        for use_history in (True, False):
            if not use_history:
                if not s_history:
                    break  # steepest descent was already tried
                s_history.clear()  # the quasi-Newton direction failed: restart from steepest descent
                y_history.clear()
            direction = -lr * _two_loop(g, s_history, y_history)
            if not s_history:
                direction *= min(1.0, 1.0 / float(np.sum(np.abs(g))))
            slope = float(np.dot(direction, g))
            if not slope < 0:  # not a descent direction (rounding)
                continue
            trials = {}

            def phi(alpha, direction=direction, trials=trials):
                trials[alpha] = _evaluate(fun, x + alpha * direction)
                return trials[alpha][0], float(np.dot(trials[alpha][1], direction))

            alpha = _strong_wolfe(phi, f, slope, 1.0, c1, c2)
            if alpha is not None:
                found = (x + alpha * direction, *trials[alpha])
                break
        if found is None:
            break
        x_new, f_new, g_new = found
        s, y = x_new - x, g_new - g
        if np.dot(y, s) > 1e-10 * np.dot(y, y):
            s_history.append(s)
            y_history.append(y)
            if len(s_history) > history_size:
                del s_history[0], y_history[0]
        t += 1
        converged = abs(f_new - f) < tolerance_change or np.max(np.abs(s)) < tolerance_change
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x, f, LBFGSState(tuple(s_history), tuple(y_history), t)


def _evaluate(fun, x):
    f, g = fun(x)
    return float(f), np.array(g, dtype=np.float64).ravel()


def _real_pairs(a) -> np.ndarray:
    """a raveled; a complex array as its real and imaginary parts, interleaved."""
    a = np.asarray(a)
    return np.ravel(np.atleast_1d(np.ascontiguousarray(a)).view(a.real.dtype) if np.iscomplexobj(a) else a)


def _as_value(g):
    return g.data if hasattr(g, "data") and not isinstance(g, np.ndarray) else g


@register_optimizer("lbfgs", full_batch=True)
class LBFGS:
    """L-BFGS on the parameters of a model, for full-batch problems; ``step(closure)`` as in PyTorch.

    ``closure()`` must compute the cost from the current parameters, call ``backward()`` on it and
    return it; ``step`` sets ``p.grad = None`` before each call. See ``lbfgs_minimize`` for the update
    equations and the options.

    Args:
        params: iterable of Parameters.
        lr: multiplies the search direction (the line search first tries the full step). Default 1.
        max_iter: L-BFGS iterations per ``step()`` call. Default 20 (PyTorch's).
        history_size: pairs (s, y) kept. Default 10.
        tolerance_grad, tolerance_change: stopping tolerances (PyTorch's defaults 1e-7 and 1e-9).

    Notes:
        Deviation from ``torch.optim.LBFGS``: torch's default takes fixed steps without a line search,
        and its optional strong-Wolfe search differs from ours in its interpolation and stopping
        details, so the iterates differ from PyTorch's while the minimum found is the same. The
        iteration runs in float64 on a flat copy of the parameters; float32 parameters are
        written back as float32. After ``step`` the parameters hold the accepted point; ``p.grad`` holds
        the gradient of the last evaluation, which may be a rejected trial point.

    Example:
        >>> from nablanet import Tensor
        >>> w = Tensor(np.zeros(2), requires_grad=True)
        >>> opt = LBFGS([w])
        >>> def closure():
        ...     loss = ((w - np.array([1.0, -1.0])) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> loss = opt.step(closure)
        >>> np.round(w.data, 6).tolist(), loss < 1e-12
        ([1.0, -1.0], True)
    """

    def __init__(self, params, *, lr=1.0, max_iter=20, history_size=10, tolerance_grad=1e-7, tolerance_change=1e-9):
        self.params = _as_param_list(params)
        self.lr = check_positive("lr", lr)
        if int(max_iter) != max_iter or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter}")
        if int(history_size) != history_size or history_size < 1:
            raise ValueError(f"history_size must be a positive integer, got {history_size}")
        self.max_iter = int(max_iter)
        self.history_size = int(history_size)
        self.tolerance_grad = check_nonnegative("tolerance_grad", tolerance_grad)
        self.tolerance_change = check_nonnegative("tolerance_change", tolerance_change)
        self.state = LBFGSState()

    @property
    def lr_now(self) -> float:
        """The learning rate of the next step: L-BFGS keeps ``lr`` fixed (no schedule)."""
        return self.lr

    # A complex parameter is searched over as the pairs of its real and imaginary parts; its gradient
    # (JAX's dL/dx - i dL/dy from the engine) as the pairs (dL/dx, dL/dy): see optim/base.py.
    def flat_parameters(self) -> np.ndarray:
        """The parameters as one float64 vector x (a complex entry as its real and imaginary parts)."""
        return np.concatenate([_real_pairs(p.data).astype(np.float64) for p in self.params])

    def set_flat_parameters(self, x) -> None:
        """Write the vector x (as ``flat_parameters`` lays it out) into the parameters, in place."""
        start = 0
        for p in self.params:
            pairs = np.atleast_1d(p.data).view(p.data.real.dtype) if np.iscomplexobj(p.data) else p.data
            stop = start + pairs.size
            np.copyto(pairs, x[start:stop].reshape(pairs.shape), casting="same_kind")
            start = stop

    def objective(self, closure):
        """The cost as a function of the flat parameter vector: x -> (C(x), dC/dx), both float64.

        What ``step`` minimizes, also for an outside minimizer (``scipy.optimize.minimize(...,
        jac=True)``, as nablanet.sklearn's estimators use, to take scikit-learn's iterates exactly).
        """

        def fun(x):
            self.set_flat_parameters(x)
            self.zero_grad()
            loss = float(closure())
            grads = [np.zeros(_real_pairs(p.data).size) if p.grad is None
                     else _real_pairs(np.conj(_as_value(p.grad))).astype(np.float64) for p in self.params]
            return loss, np.concatenate(grads)

        return fun

    def step(self, closure) -> float:
        """Run up to ``max_iter`` iterations; returns the cost at the new parameters."""
        if tracing.active():
            raise TypeError(f"{type(self).__name__}.step(closure) cannot be compiled by nablanet.jit: its line "
                            "search calls the closure a number of times that depends on the costs; run it eagerly")
        x, f, self.state = lbfgs_minimize(
            self.objective(closure), self.flat_parameters(), self.state, lr=self.lr, max_iter=self.max_iter,
            history_size=self.history_size, tolerance_grad=self.tolerance_grad,
            tolerance_change=self.tolerance_change,
        )
        self.set_flat_parameters(x)
        return f

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None."""
        tracing.clear_grads(self.params)

    def state_dict(self) -> dict:
        """Options, iteration count and the (s, y) history as plain arrays."""
        out = {
            "optimizer": np.array("LBFGS"), "t": np.array(self.state.t, dtype=np.int64), "lr": np.array(self.lr),
            "max_iter": np.array(self.max_iter), "history_size": np.array(self.history_size),
            "tolerance_grad": np.array(self.tolerance_grad), "tolerance_change": np.array(self.tolerance_change),
        }
        for i, (s, y) in enumerate(zip(self.state.s, self.state.y)):
            out[f"s.{i}"] = s.copy()
            out[f"y.{i}"] = y.copy()
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore the settings and the search history from ``state`` (as ``state_dict`` wrote it).

        Raises:
            ValueError: the state was saved by another optimizer, or its history does not fit these parameters.
        """
        if str(np.asarray(state.get("optimizer", ""))) != "LBFGS":
            raise ValueError(f"load_state_dict: the state was not saved by LBFGS but by {state.get('optimizer')}")
        self.lr = float(np.asarray(state["lr"]))
        self.max_iter = int(np.asarray(state["max_iter"]))
        self.history_size = int(np.asarray(state["history_size"]))
        self.tolerance_grad = float(np.asarray(state["tolerance_grad"]))
        self.tolerance_change = float(np.asarray(state["tolerance_change"]))
        count = 0
        while f"s.{count}" in state:
            count += 1
        size = sum(p.size for p in self.params)
        s = tuple(np.array(state[f"s.{i}"], dtype=np.float64).ravel() for i in range(count))
        y = tuple(np.array(state[f"y.{i}"], dtype=np.float64).ravel() for i in range(count))
        if any(a.size != size for a in s + y):
            raise ValueError(f"load_state_dict: history vectors must have {size} entries "
                             "(the parameters' total size)")
        self.state = LBFGSState(s, y, int(np.asarray(state["t"])))


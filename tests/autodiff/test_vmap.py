"""vmap: equal to the Python loop over the batch for every op in the gradient table, and JAX's examples.

JAX is not a dependency: the examples of JAX's "Automatic vectorization" tutorial and of the
``jax.vmap`` reference are written out with their documented results.
"""

import numpy
import pytest

import nablanet
import nablanet.numpy as np
from nablanet import Tensor, grad, hessian, jacfwd, jacrev, jvp, value_and_grad, vjp, vmap
from op_cases import collect

CASES = collect()[0]
BATCH = 3


def _loop(f, batched_args):
    return [f(*[a[b] for a in batched_args]) for b in range(BATCH)]


def _stacked(rng, case):
    """BATCH draws of the case's inputs, stacked on a new first axis."""
    draws = [case.arrays(rng) for _ in range(BATCH)]
    return [numpy.stack([d[i] for d in draws]) for i in range(len(draws[0]))]


def table_cases():
    for name, cases in CASES.items():
        for k, case in enumerate(cases):
            yield pytest.param(case, id=f"{name}-{case.id or k}")


@pytest.mark.parametrize("case", list(table_cases()))
def test_vmap_of_every_tabled_function_equals_the_loop(case):
    rng = numpy.random.default_rng(11)
    args = _stacked(rng, case)
    looped = [numpy.asarray(v) for v in _loop(case.fn, args)]
    if len({v.shape for v in looped}) > 1:
        # A data-dependent shape (a boolean mask): refused, as JAX does, never stacked wrongly.
        with pytest.raises(ValueError, match="different shapes"):
            vmap(case.fn)(*args)
        return
    expected = numpy.stack(looped)
    numpy.testing.assert_allclose(vmap(case.fn)(*args), expected, rtol=1e-12, atol=1e-14)

    def scalar(*xs):
        # The real part of a complex output (of complex inputs, or of real ones: rfft); real of a real value is itself.
        return np.real(np.sum(case.fn(*xs)))

    per_example = vmap(grad(scalar, argnums=tuple(range(len(args)))))(*args)
    looped = _loop(grad(scalar, argnums=tuple(range(len(args)))), args)
    for i in range(len(args)):
        numpy.testing.assert_allclose(per_example[i], numpy.stack([g[i] for g in looped]), rtol=1e-11, atol=1e-13)
    # Forward mode inside vmap, with a batch of tangents.
    tangents = [rng.standard_normal(a.shape) + (1j * rng.standard_normal(a.shape) if numpy.iscomplexobj(a) else 0)
                for a in args]
    _, batched_dot = vmap(lambda *xs_and_ts: jvp(case.fn, xs_and_ts[:len(args)], xs_and_ts[len(args):]))(*args, *tangents)
    looped_dot = [jvp(case.fn, [a[b] for a in args], [t[b] for t in tangents])[1] for b in range(BATCH)]
    numpy.testing.assert_allclose(batched_dot, numpy.stack([numpy.asarray(d) for d in looped_dot]), rtol=1e-11, atol=1e-13)


def test_shared_arguments_with_in_axes_none():
    rng = numpy.random.default_rng(0)
    A = rng.standard_normal((4, 3))
    xs = rng.standard_normal((5, 3))
    numpy.testing.assert_allclose(vmap(lambda A, x: np.tanh(A @ x), in_axes=(None, 0))(A, xs),
                                  numpy.tanh(xs @ A.T), rtol=1e-14)
    # in_axes=1 and out_axes=1: the batch on another axis, on the way in and out.
    numpy.testing.assert_allclose(vmap(lambda x: x * np.sum(x), in_axes=1, out_axes=1)(xs.T),
                                  (xs * xs.sum(1, keepdims=True)).T, rtol=1e-14)


# --- JAX's "Automatic vectorization" tutorial -------------------------------------------------------

def convolve(x, w):
    output = []
    for i in range(1, len(x) - 1):
        output.append(np.dot(x[i - 1:i + 2], w))
    return np.stack(output)


def test_jax_tutorial_convolve():
    x = numpy.arange(5.0)
    w = numpy.array([2.0, 3.0, 4.0])
    assert convolve(x, w).tolist() == [11.0, 20.0, 29.0]
    xs, ws = numpy.stack([x, x]), numpy.stack([w, w])
    assert vmap(convolve)(xs, ws).tolist() == [[11.0, 20.0, 29.0]] * 2
    assert vmap(convolve, in_axes=[0, None])(xs, w).tolist() == [[11.0, 20.0, 29.0]] * 2
    assert vmap(convolve, in_axes=1, out_axes=1)(xs.T, ws.T).tolist() == [[11.0, 11.0], [20.0, 20.0], [29.0, 29.0]]


def test_jax_reference_examples():
    # jax.vmap docs: batched matrix-vector products, a pytree in_axes, nested vmap = outer product.
    mat = numpy.arange(6.0).reshape(2, 3)
    batched_x = numpy.arange(12.0).reshape(4, 3)
    mv = vmap(np.dot, in_axes=(None, 0))
    numpy.testing.assert_array_equal(mv(mat, batched_x), batched_x @ mat.T)
    dct = {"a": 0.0, "b": numpy.arange(5.0)}
    x = 1.0

    def foo(dictionary, x):
        return dictionary["a"] + dictionary["b"] * x

    out = vmap(foo, in_axes=({"a": None, "b": 0}, None))(dct, x)
    numpy.testing.assert_array_equal(out, numpy.arange(5.0))
    outer = vmap(vmap(np.multiply, in_axes=(None, 0)), in_axes=(0, None))
    numpy.testing.assert_array_equal(outer(numpy.arange(3.0), numpy.arange(4.0)),
                                     numpy.outer(numpy.arange(3.0), numpy.arange(4.0)))
    # out_axes=None for an unbatched output, and the documented errors.
    assert vmap(lambda x: (x * 2, 7.0), out_axes=(0, None))(numpy.ones(3))[1] == 7.0
    with pytest.raises(ValueError, match="inconsistent sizes"):
        vmap(np.add)(numpy.ones(3), numpy.ones(4))
    with pytest.raises(ValueError, match="at least one non-None"):
        vmap(np.add, in_axes=None)(numpy.ones(3), numpy.ones(3))
    with pytest.raises(ValueError, match="out_axes is None"):
        vmap(lambda x: x, out_axes=None)(numpy.ones(3))


def _mlp(params, x):
    hidden = np.dense(x, params["W1"], params["b1"], activation="relu")
    return np.dense(hidden, params["W2"], params["b2"])


def _example_loss(params, x, y):
    return np.softmax_cross_entropy(_mlp(params, x[None]), y[None])


def test_per_example_gradients_of_a_network_equal_the_loop():
    # JAX's tutorial: perex_grads = vmap(grad(loss), in_axes=(None, 0, 0)).
    rng = numpy.random.default_rng(0)
    params = {"W1": rng.standard_normal((6, 5)) * 0.5, "b1": rng.standard_normal(5) * 0.1,
              "W2": rng.standard_normal((5, 3)) * 0.5, "b2": numpy.zeros(3)}
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    batched = vmap(grad(_example_loss), in_axes=(None, 0, 0))(params, X, y)
    for name in params:
        looped = numpy.stack([grad(_example_loss)(params, X[i], y[i])[name] for i in range(8)])
        numpy.testing.assert_allclose(batched[name], looped, rtol=1e-12, atol=1e-15)
    # Their mean is the gradient of the mean loss.
    mean_grad = grad(lambda p: np.softmax_cross_entropy(_mlp(p, X), y))(params)
    numpy.testing.assert_allclose(batched["W1"].mean(0), mean_grad["W1"], rtol=1e-12, atol=1e-15)


def test_batched_jacobians_hessians_and_grad_of_vmap():
    rng = numpy.random.default_rng(2)
    xs = rng.standard_normal((4, 3))

    def f(x):
        return np.sin(x) * np.sum(x ** 2)

    for jacobian_of in (jacrev, jacfwd):
        numpy.testing.assert_allclose(vmap(jacobian_of(f))(xs), numpy.stack([jacrev(f)(x) for x in xs]), rtol=1e-12)
    g = lambda x: np.sum(f(x))  # noqa: E731
    numpy.testing.assert_allclose(vmap(hessian(g))(xs), numpy.stack([hessian(g)(x) for x in xs]), rtol=1e-12)
    # grad outside vmap: the gradient of a sum of per-example values.
    total = grad(lambda xs: np.sum(vmap(f)(xs)))(xs)
    numpy.testing.assert_allclose(total, numpy.stack([grad(g)(x) for x in xs]), rtol=1e-12)
    # vmap of vjp_fn: one cotangent per example gives the Jacobian's rows.
    x = xs[0]
    _, f_vjp = vjp(f, x)
    rows = vmap(lambda u: f_vjp(u)[0])(numpy.eye(3))
    numpy.testing.assert_allclose(rows, jacrev(f)(x), rtol=1e-13)


def test_data_dependent_python_falls_back_to_one_example_at_a_time():
    def branchy(x):
        if float(np.sum(x)) > 0:  # needs an example's value: batching cannot see it
            return x * 2.0
        return -x

    xs = numpy.array([[1.0, 2.0], [-3.0, 1.0]])
    numpy.testing.assert_array_equal(vmap(branchy)(xs), [[2.0, 4.0], [3.0, -1.0]])
    numpy.testing.assert_array_equal(vmap(grad(lambda x: np.sum(branchy(x))))(xs), [[2.0, 2.0], [-1.0, -1.0]])


def test_tensors_requiring_grad_through_vmap_and_float32():
    W = Tensor(numpy.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    xs = numpy.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = vmap(lambda x: np.tanh(x @ W))(xs)
    assert isinstance(out, Tensor)
    np.sum(out).backward()
    numpy.testing.assert_allclose(W.grad, grad(lambda W: np.sum(np.tanh(xs @ W)))(W.data), rtol=1e-14)
    xs32 = xs.astype(numpy.float32)
    assert vmap(grad(lambda x: np.sum(np.exp(x))))(xs32).dtype == numpy.float32


def test_network_per_example_gradients_batch_without_any_per_example_fallback(monkeypatch):
    # The per-example gradients of a dense network run as whole-batch ops: no op, rule or function
    # is run one example at a time (that is what makes vmap faster than the loop).
    from nablanet.autodiff import batching

    def refuse(*args, **kwargs):
        raise AssertionError("a per-example fallback ran")

    for name in ("_per_example", "_rule_per_example", "_run_per_example"):
        monkeypatch.setattr(batching, name, refuse)
    rng = numpy.random.default_rng(3)
    params = {"W1": rng.standard_normal((6, 5)), "b1": rng.standard_normal(5),
              "W2": rng.standard_normal((5, 3)), "b2": rng.standard_normal(3)}
    X, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    vmap(grad(_example_loss), in_axes=(None, 0, 0))(params, X, y)
    vmap(lambda x: np.tanh(x @ params["W1"]) ** 2 / 2.0 + np.where(x[:5] > 0, x[:5], 0.0))(X)


# --- property: vmap equals the loop on random programs over the primitives -------------------------

from hypothesis import given, settings  # noqa: E402
from test_against_torch import PROPERTY_SETTINGS, programs, run_flattened  # noqa: E402


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(programs())
def test_vmap_of_random_programs_equals_the_loop(program):
    # The generator's random DAGs of primitives (test_against_torch.py), on a batch of three inputs
    # each: the program's own and two nearby ones. The same computation either way, so values and
    # per-example gradients agree to rounding (kinks are taken the same way by both).
    rng = numpy.random.default_rng(program.seed % 2**32)
    batches = [numpy.stack([x, x + 1e-3 * rng.standard_normal(x.shape), x - 1e-3 * rng.standard_normal(x.shape)])
               for x in program.inputs]

    def flat(*xs):
        return run_flattened(np, program, xs)

    looped = numpy.stack([numpy.asarray(flat(*[b[k] for b in batches])) for k in range(3)])
    numpy.testing.assert_allclose(vmap(flat)(*batches), looped, rtol=1e-10, atol=1e-12)
    weights = rng.standard_normal(looped.shape[1])

    def loss(*xs):
        return np.sum(flat(*xs) * weights)

    argnums = tuple(range(len(batches)))
    per_example = vmap(grad(loss, argnums=argnums))(*batches)
    for i, batch in enumerate(batches):
        expected = numpy.stack([grad(loss, argnums=argnums)(*[b[k] for b in batches])[i] for k in range(3)])
        numpy.testing.assert_allclose(per_example[i], expected, rtol=1e-9, atol=1e-11)


def test_grad_of_a_vmapped_function_closing_over_the_weights_batches(monkeypatch):
    # grad(vmap(f)) where f uses the weights being differentiated: the batch wraps the weights'
    # Tensors (JAX's order), so the whole batch is one recorded computation, run once.
    from nablanet.autodiff import batching

    def refuse(*args, **kwargs):
        raise AssertionError("a per-example fallback ran")

    for name in ("_per_example", "_rule_per_example", "_run_per_example"):
        monkeypatch.setattr(batching, name, refuse)
    rng = numpy.random.default_rng(4)
    X, W = rng.standard_normal((5, 3)), rng.standard_normal(3)

    def loss(W):
        return np.sum(vmap(lambda x: np.sum(np.tanh(x * W)) ** 2)(X))

    expected = grad(lambda W: np.sum(np.sum(np.tanh(X * W), axis=1) ** 2))(W)
    numpy.testing.assert_allclose(grad(loss)(W), expected, rtol=1e-13)
    W_leaf = Tensor(W, requires_grad=True)
    loss(W_leaf).backward()
    numpy.testing.assert_allclose(W_leaf.grad, expected, rtol=1e-13)


def test_per_point_input_derivatives_inside_a_loss_on_the_weights(monkeypatch):
    # A physics-informed residual: vmap of an input derivative (a transform inside vmap) closed over
    # weights that the loss is differentiated in (a transform outside it). The batch sits between
    # the two: batched in one pass, and the weight gradient matches finite differences.
    from nablanet.autodiff import batching

    def refuse(*args, **kwargs):
        raise AssertionError("a per-example fallback ran")

    for name in ("_per_example", "_rule_per_example", "_run_per_example"):
        monkeypatch.setattr(batching, name, refuse)
    rng = numpy.random.default_rng(5)
    X, W = rng.uniform(-1, 1, 4), rng.standard_normal(3)

    def loss(W):
        du = vmap(grad(lambda x: np.sum(np.tanh(x * W))))(X)
        d2u = vmap(grad(grad(lambda x, W: np.sum(np.tanh(x * W)))), in_axes=(0, None))(X, W)
        return np.sum(du ** 2) + np.sum(d2u ** 2)

    eps = 1e-6
    numeric = [(loss(W + eps * e) - loss(W - eps * e)) / (2 * eps) for e in numpy.eye(3)]
    numpy.testing.assert_allclose(grad(loss)(W), numeric, rtol=1e-7)
    W_leaf = Tensor(W, requires_grad=True)
    loss(W_leaf).backward()
    numpy.testing.assert_allclose(W_leaf.grad, numeric, rtol=1e-7)

"""examples/pinn.py: its --quick run end to end (losses fall, the two styles agree), its input derivatives
against each other, the chain rule and finite differences, and the weight gradient of its PDE losses
(loss.backward() against nablanet.grad and finite differences: the derivative taken inside the loss must
stay connected to the weights)."""

import numpy
import pytest
from example_loader import load_example, run_quietly

import nablanet
import nablanet.numpy as np

SMALL = (8, 8)


@pytest.fixture(scope="module")
def example():
    yield from load_example("pinn")


@pytest.fixture(scope="module")
def quick_run(example):
    """The results and printed output of ``--quick``, run once for the tests that read them."""
    return run_quietly(example.main, ["--quick", "--threads", "1"])


def small_params(example, inputs, seed=0):
    """A small network with random biases too (zero biases would hide mistakes in their gradients)."""
    rng = numpy.random.default_rng(seed)
    params = example.init_params((inputs, *SMALL, 1), rng)
    return [(W, rng.normal(0.0, 0.3, b.shape)) for W, b in params]


def points(inputs, count, seed=1):
    rng = numpy.random.default_rng(seed)
    X = rng.uniform(0.0, 1.0, (count, inputs))
    if inputs == 2:
        X[:, 1] *= 0.5
    return X


def test_quick_run_prints_the_table_losses_fall_and_the_two_styles_agree(example, quick_run):
    results, output = quick_run

    assert [(r.problem, r.style) for r in results] == [
        ("poisson", "functional"), ("poisson", "module"), ("heat", "functional"), ("heat", "module")]
    assert "max |u - u_exact| on the test grid, and time per training step" in output
    for r in results:
        recipe = example.QUICK_RECIPES[r.problem]
        assert len(r.losses) == recipe.adam_steps + 1 and r.adam_steps == recipe.adam_steps
        assert 0 < r.lbfgs_iterations <= recipe.lbfgs_iterations and r.lbfgs_evaluations >= r.lbfgs_iterations
        # Both phases lower the loss: Adam over its steps, and L-BFGS below where Adam left it.
        assert r.losses[-1] < r.losses[-2] < 0.5 * r.losses[0], r.losses
        assert numpy.isfinite(r.max_error) and r.adam_ms > 0 and r.lbfgs_ms > 0
        row = next(line for line in output.splitlines() if line.startswith(f"{r.problem:<8} {r.style:<10}  "))
        assert row.split()[2] == f"{r.max_error:.1e}"
    by_run = {(r.problem, r.style): r for r in results}
    for problem in ("poisson", "heat"):
        functional, module = by_run[problem, "functional"], by_run[problem, "module"]
        # The same initial weights and the same computation in two styles: the Adam phase agrees to rounding.
        numpy.testing.assert_allclose(module.losses[:-1], functional.losses[:-1], rtol=1e-9)
    # Even the smoke run solves Poisson to the example's target and heat to a few percent (7e-6 and 5e-3).
    for style in ("functional", "module"):
        assert by_run["poisson", style].max_error < 1e-3 and by_run["heat", style].max_error < 5e-2


def network_derivatives(params, X, axis):
    """The network N and its first and second derivatives along input ``axis``, by the chain rule:
    z = h W + b, z' = h' W, z'' = h'' W; a = tanh z, a' = (1 - a^2) z', a'' = (1 - a^2) z'' - 2 a (1 - a^2) z'^2."""
    h = X
    h_dot = numpy.zeros_like(X)
    h_dot[:, axis] = 1.0
    h_ddot = numpy.zeros_like(X)
    for k, (W, b) in enumerate(params):
        z, z_dot, z_ddot = h @ W + b, h_dot @ W, h_ddot @ W
        if k == len(params) - 1:
            return z, z_dot, z_ddot
        h = numpy.tanh(z)
        slope = 1.0 - h ** 2
        h_dot, h_ddot = slope * z_dot, slope * z_ddot - 2.0 * h * slope * z_dot ** 2


def central_difference(f, X, axis, step):
    e = numpy.zeros_like(X)
    e[:, axis] = step
    return (f(X + e) - f(X - e)) / (2.0 * step), (f(X + e) - 2.0 * f(X) + f(X - e)) / step ** 2


@pytest.mark.parametrize("inputs", [1, 2])
def test_input_derivatives_of_both_styles_match_the_chain_rule_and_finite_differences(example, inputs):
    params = small_params(example, inputs)
    model = example.build_model(params)
    X = points(inputs, 20)

    def f(X):
        return example.mlp(params, X)

    for axis in range(inputs):
        N, N_dot, N_ddot = network_derivatives(params, X, axis)
        numpy.testing.assert_allclose(f(X), N, rtol=1e-13)
        first = example.partial_jvp(f, X, axis)
        second = example.partial_jvp(lambda X: example.partial_jvp(f, X, axis), X, axis)
        numpy.testing.assert_allclose(first, N_dot, rtol=1e-12, atol=1e-13)
        numpy.testing.assert_allclose(second, N_ddot, rtol=1e-11, atol=1e-12)
        # The PyTorch style: reverse mode through the module, connected to its Parameters.
        module_first = example.partial_grad(model, X, axis)
        module_second = example.partial_grad(lambda X: example.partial_grad(model, X, axis), X, axis)
        assert isinstance(module_second, nablanet.Tensor) and module_second.requires_grad
        numpy.testing.assert_allclose(module_first.data, N_dot, rtol=1e-12, atol=1e-13)
        numpy.testing.assert_allclose(module_second.data, N_ddot, rtol=1e-11, atol=1e-12)
        # Finite differences of the network itself (steps chosen for ~1e-9 and ~1e-7 accuracy).
        numpy.testing.assert_allclose(first, central_difference(f, X, axis, 1e-5)[0], atol=1e-8)
        numpy.testing.assert_allclose(second, central_difference(f, X, axis, 1e-4)[1], atol=1e-5)


def test_poisson_second_derivative_agrees_with_vmap_of_nested_grad(example):
    params = small_params(example, 1)
    X = points(1, 16)

    def u_at(params, x):  # one point, a scalar: the form vmap and grad want
        return example.poisson_ansatz(x, example.mlp(params, np.reshape(x, (1, 1)))[0, 0])

    u_xx = nablanet.vmap(nablanet.grad(nablanet.grad(u_at, 1), 1), in_axes=(None, 0))(params, X[:, 0])

    def u(X):
        return example.poisson_ansatz(X, example.mlp(params, X))

    numpy.testing.assert_allclose(u_xx[:, None], example.partial_jvp(lambda X: example.partial_jvp(u, X, 0), X, 0),
                                  rtol=1e-12, atol=1e-12)


def loss_by_finite_differences(loss, params, step=1e-6):
    """d loss / d theta for every parameter entry, by central differences."""
    grads = []
    for W, b in params:
        pair = []
        for array in (W, b):
            g = numpy.zeros_like(array)
            for index in numpy.ndindex(array.shape):
                saved = array[index]
                array[index] = saved + step
                up = loss(params)
                array[index] = saved - step
                down = loss(params)
                array[index] = saved
                g[index] = (up - down) / (2.0 * step)
            pair.append(g)
        grads.append(tuple(pair))
    return grads


@pytest.mark.parametrize("name", ["poisson", "heat"])
def test_weight_gradient_of_the_pde_loss_by_backward_equals_grad_and_finite_differences(example, name):
    problem = example.PROBLEMS[name]
    params = small_params(example, problem.inputs)
    X = points(problem.inputs, 12)

    expected = loss_by_finite_differences(lambda p: float(example.functional_loss(problem, p, X)), params)
    functional = nablanet.grad(lambda p: example.functional_loss(problem, p, X))(params)
    model = example.build_model(params)
    loss = example.module_loss(problem, model, X)
    loss.backward()
    assert float(loss) == pytest.approx(float(example.functional_loss(problem, params, X)), rel=1e-12)
    scale = max(numpy.max(numpy.abs(g)) for pair in expected for g in pair)
    for layer, (W_grad, b_grad), (W_fd, b_fd) in zip(model, functional, expected):
        # The functional gradient and backward() through the module: the same numbers up to rounding.
        numpy.testing.assert_allclose(layer.W.grad, W_grad, rtol=1e-10, atol=1e-12 * scale)
        numpy.testing.assert_allclose(layer.b.grad, b_grad, rtol=1e-10, atol=1e-12 * scale)
        # Finite differences in float64 with a step of 1e-6: about 1e-8 of the largest entry.
        numpy.testing.assert_allclose(W_grad, W_fd, atol=1e-6 * scale)
        numpy.testing.assert_allclose(b_grad, b_fd, atol=1e-6 * scale)


def test_plot_draws_every_result_into_the_file_asked_for(example, quick_run, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "pinn.png"
    assert example.parse_args(["--plot", str(path)]).plot == str(path)
    assert example.parse_args([]).plot is None  # no file unless asked
    example.plot(quick_run[0][::2], str(path))  # one run of each problem: both kinds of panel
    assert path.stat().st_size > 0
    assert list(tmp_path.iterdir()) == [path]


BAD_ARGUMENTS = [
    (["--problems", "poisson,wave"], "unknown ['wave']"),
    (["--styles", "keras"], "unknown ['keras']"),
    (["--seed", "-1"], "--seed must be non-negative"),
    (["--threads", "0"], "--threads must be positive"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS)
def test_bad_arguments_are_refused_with_a_message(example, capsys, argv, message):
    with pytest.raises(SystemExit):
        example.parse_args(argv)
    assert message in capsys.readouterr().err

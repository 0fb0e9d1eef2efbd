"""gru_sequence and rnn_sequence, the primitives of nn.GRU and nn.RNN: equal to the loops of ops they replace (gru_cell
per step; matmul, add and tanh or relu), values, both modes, second order; finite differences in both modes to second
order; the layers against torch.nn.GRU and torch.nn.RNN to 1e-10 in float64 over drawn configurations; one equation
of a compiled program each way; their errors."""

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet
import nablanet.nn as nn
import nablanet.numpy as np
from nablanet import Tensor, grad, hessian, jvp
from nablanet.testing import check_grads

TIGHT = dict(rtol=1e-10, atol=1e-12)


# Each kind's step as it was computed before its sequence primitive, and its gates G.
STEPS = {"gru": (np.gru_cell, 3),
         "rnn-tanh": (lambda x, h, W_ih, W_hh, b_ih, b_hh: np.tanh(x @ W_ih + b_ih + h @ W_hh + b_hh), 1),
         "rnn-relu": (lambda x, h, W_ih, W_hh, b_ih, b_hh: np.relu(x @ W_ih + b_ih + h @ W_hh + b_hh), 1)}


def step_loop(kind, x, h0, *weights, batch_first=False):
    """The layer as it was computed before its primitive: its step's ops, step by step and direction by direction."""
    cell = STEPS[kind][0]
    steps = x.shape[1 if batch_first else 0]
    outputs = []
    for d in range(len(weights) // 4):
        states = [None] * steps
        h = h0[d]
        for t in (range(steps - 1, -1, -1) if d else range(steps)):
            h = cell(x[:, t] if batch_first else x[t], h, *weights[4 * d: 4 * d + 4])
            states[t] = h
        outputs.append(np.stack(states, axis=1 if batch_first else 0))
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)


def sequence(kind, x, h0, *weights, batch_first=False):
    directions = [weights[k: k + 4] for k in range(0, len(weights), 4)]
    if kind == "gru":
        return np.gru_sequence(x, h0, directions, batch_first=batch_first)
    return np.rnn_sequence(x, h0, directions, nonlinearity=kind[4:], batch_first=batch_first)


def arguments(rng, kind, steps, batch, n_in, hidden, directions, batch_first):
    width = STEPS[kind][1] * hidden
    x = (batch, steps, n_in) if batch_first else (steps, batch, n_in)
    shapes = [x, (directions, batch, hidden)] + [(n_in, width), (hidden, width), (width,), (width,)] * directions
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("directions, batch_first", [(1, False), (1, True), (2, False), (2, True)])
def test_sequence_primitives_equal_the_loop_of_steps_to_second_order(kind, directions, batch_first):
    rng = numpy.random.default_rng(directions + 2 * batch_first)
    args = arguments(rng, kind, 4, 3, 2, 2, directions, batch_first)
    fused = lambda *a: sequence(kind, *a, batch_first=batch_first)  # noqa: E731
    plain = lambda *a: step_loop(kind, *a, batch_first=batch_first)  # noqa: E731
    numpy.testing.assert_allclose(fused(*args), plain(*args), rtol=1e-13, atol=1e-15)
    weights = rng.standard_normal(numpy.shape(plain(*args)))
    for i in range(len(args)):
        numpy.testing.assert_allclose(grad(lambda *a: np.sum(fused(*a) * weights), argnums=i)(*args),
                                      grad(lambda *a: np.sum(plain(*a) * weights), argnums=i)(*args),
                                      rtol=1e-12, atol=1e-14, err_msg=f"gradient of argument {i}")
    tangents = [rng.standard_normal(a.shape) for a in args]
    numpy.testing.assert_allclose(jvp(fused, args, tangents)[1], jvp(plain, args, tangents)[1], rtol=1e-12, atol=1e-14)
    # Forward over reverse: the Hessian in W_hh of the first direction goes through the VJP on Tensors.
    def loss_in(f):
        return lambda W: np.sum(f(args[0], args[1], args[2], W, *args[4:]) ** 2)
    numpy.testing.assert_allclose(hessian(loss_in(fused))(args[3]), hessian(loss_in(plain))(args[3]),
                                  rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("kind", sorted(STEPS))
@pytest.mark.parametrize("directions, batch_first", [(1, True), (2, False)])
def test_sequence_primitives_match_finite_differences_to_second_order(kind, directions, batch_first):
    rng = numpy.random.default_rng(11)
    args = arguments(rng, kind, 3, 2, 2, 2, directions, batch_first)
    check_grads(lambda *a: sequence(kind, *a, batch_first=batch_first), args, modes=("fwd", "rev"), order=2,
                rtol=1e-6, rng=rng)


def _torch_pairs(ours, theirs):
    pairs = []
    for layer, directions in enumerate(ours.cells):
        for direction, w in enumerate(directions):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            pairs += [(w.W_ih, getattr(theirs, f"weight_ih_{suffix}"), True),
                      (w.W_hh, getattr(theirs, f"weight_hh_{suffix}"), True)]
            if w.b_ih is not None:
                pairs += [(w.b_ih, getattr(theirs, f"bias_ih_{suffix}"), False),
                          (w.b_hh, getattr(theirs, f"bias_hh_{suffix}"), False)]
    return pairs


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(kind=st.sampled_from(sorted(STEPS)), bias=st.booleans(), batch_first=st.booleans(), num_layers=st.integers(1, 3), bidirectional=st.booleans(),
       with_initial_state=st.booleans(), sizes=st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3),
                                                       st.integers(1, 5)),
       seed=st.integers(0, 999))
def test_layers_equal_torch_to_1e_10(kind, bias, batch_first, num_layers, bidirectional, with_initial_state, sizes,
                                     seed):
    steps, batch, n_in, hidden = sizes
    options = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if kind != "gru":
        options["nonlinearity"] = kind[4:]
    ours_cls, theirs_cls = (nn.GRU, torch.nn.GRU) if kind == "gru" else (nn.RNN, torch.nn.RNN)
    ours = ours_cls(n_in, hidden, return_state=True, rng=seed, dtype=numpy.float64, **options)
    theirs = theirs_cls(n_in, hidden, **options).double()
    pairs = _torch_pairs(ours, theirs)
    with torch.no_grad():
        for mine, its, transposed in pairs:
            its.copy_(torch.tensor(mine.data.T if transposed else mine.data))
    rng = numpy.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, n_in) if batch_first else (steps, batch, n_in))
    h0 = rng.standard_normal((num_layers * (1 + bidirectional), batch, hidden)) if with_initial_state else None
    ours_inputs = [Tensor(x, requires_grad=True)] + ([Tensor(h0, requires_grad=True)] if with_initial_state else [])
    theirs_inputs = [torch.tensor(x, requires_grad=True)] + ([torch.tensor(h0, requires_grad=True)]
                                                             if with_initial_state else [])
    output, h_n = ours(*ours_inputs)
    reference, ref_h = theirs(*theirs_inputs)
    u, v = rng.standard_normal(output.shape), rng.standard_normal(h_n.shape)
    ((output * u).sum() + (h_n * v).sum()).backward()
    ((reference * torch.tensor(u)).sum() + (ref_h * torch.tensor(v)).sum()).backward()
    numpy.testing.assert_allclose(output.data, reference.detach().numpy(), **TIGHT)
    numpy.testing.assert_allclose(h_n.data, ref_h.detach().numpy(), **TIGHT)
    for k, (a, b) in enumerate(zip(ours_inputs, theirs_inputs)):
        numpy.testing.assert_allclose(a.grad, b.grad.numpy(), err_msg=f"gradient of input {k}", **TIGHT)
    for mine, its, transposed in pairs:
        numpy.testing.assert_allclose(mine.grad, its.grad.numpy().T if transposed else its.grad.numpy(), **TIGHT)


@pytest.mark.parametrize("layer, name", [(nn.GRU, "gru_sequence"), (nn.RNN, "rnn_sequence")])
def test_a_compiled_step_runs_each_layer_as_one_equation_each_way(layer, name):
    model = nn.Sequential(layer(1, 3, num_layers=2, bidirectional=True, rng=0), nn.Flatten(), nn.Dense(5 * 6, 2, rng=1))

    def step(X, y):
        model.zero_grad()
        cost = nn.functional.cross_entropy(model(X), y)
        cost.backward()
        return cost

    X, y = numpy.ones((4, 5, 1), numpy.float32), numpy.array([0, 1, 1, 0])
    names = [equation.name for equation in nablanet.make_program(step, X, y).equations]
    assert names.count(name) == 2 and names.count(f"{name}_vjp") == 2
    assert "gru_cell" not in names and "matmul" not in names
    compiled = nablanet.jit(step)
    for _ in range(2):
        eager_cost = float(step(X, y))
        eager_grads = [p.grad.copy() for p in model.parameters()]
        assert float(compiled(X, y)) == pytest.approx(eager_cost, rel=1e-6)
        for p, g in zip(model.parameters(), eager_grads):
            numpy.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-7)
        X = X + 0.5


def test_sequence_primitives_name_their_errors():
    W_ih, W_hh, b = numpy.ones((2, 6)), numpy.ones((2, 6)), numpy.zeros(6)
    x, h0 = numpy.zeros((4, 3, 2)), numpy.zeros((1, 3, 2))
    with pytest.raises(ValueError, match=r"gru_sequence: x must be \(T, N, in\) with at least one step"):
        np.gru_sequence(numpy.zeros((3, 2)), h0, [(W_ih, W_hh, b, b)])
    with pytest.raises(ValueError, match=r"gru_sequence: h0 must be \(D, N, H\) with D = 2 directions, got shape "
                                         r"\(1, 3, 2\)"):
        np.gru_sequence(x, h0, [(W_ih, W_hh, b, b)] * 2)
    with pytest.raises(ValueError, match=r"gru_sequence: W_hh has shape \(3, 6\), expected \(2, 6\)"):
        np.gru_sequence(x, h0, [(W_ih, numpy.ones((3, 6)), b, b)])
    with pytest.raises(ValueError, match=r"gru_sequence: weights must be one or two"):
        np.gru_sequence(x, h0, [(W_ih, W_hh, b)])
    with pytest.raises(ValueError, match=r"rnn_sequence: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        np.rnn_sequence(x, h0, [(W_ih, W_hh, b, b)], nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"rnn_sequence: W_hh has shape \(2, 6\), expected \(6, 6\)"):
        np.rnn_sequence(x, numpy.zeros((1, 3, 6)), [(W_ih, W_hh, b, b)])

"""RNN, GRU and LSTM with PyTorch's options: bias=False, batch_first (True and False), inter-layer dropout,
RNN nonlinearity="relu" and unbatched (T, input_size) input. Equality with torch.nn.RNN/GRU/LSTM to 1e-8 in
float64 over drawn configurations (outputs, final states, the gradients of the input, the initial states and every
weight), the training-mode dropout against torch's single layers with the same masks between them,
finite-difference checks of both modes to second order, and the errors."""

import copy

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet.nn as nn
from nablanet import Tensor
from nablanet.testing import check_grads

F64 = numpy.float64
DRAWN = settings(max_examples=25, deadline=None, derandomize=True, database=None)
KINDS = {"RNN": (nn.RNN, torch.nn.RNN, {}), "RNN-relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
         "GRU": (nn.GRU, torch.nn.GRU, {}), "LSTM": (nn.LSTM, torch.nn.LSTM, {})}
TOLERANCE = dict(rtol=1e-8, atol=1e-10)


def _pairs(ours, theirs, layers=None):
    """(our Parameter, torch Parameter, transform) for every weight: our W (in, G H) is torch's (G H, in)
    transposed. ``layers`` maps our stacked layers to single-layer torch modules (their l0), when given."""
    pairs = []
    for layer, directions in enumerate(ours.cells):
        module, index = (theirs, layer) if layers is None else (layers[layer], 0)
        for direction, w in enumerate(directions):
            suffix = f"l{index}" + ("_reverse" if direction else "")
            pairs += [(w.W_ih, getattr(module, f"weight_ih_{suffix}"), numpy.transpose),
                      (w.W_hh, getattr(module, f"weight_hh_{suffix}"), numpy.transpose)]
            if w.b_ih is not None:
                pairs += [(w.b_ih, getattr(module, f"bias_ih_{suffix}"), None),
                          (w.b_hh, getattr(module, f"bias_hh_{suffix}"), None)]
    return pairs


def _copy(pairs):
    with torch.no_grad():
        for ours, theirs, transform in pairs:
            theirs.copy_(torch.tensor(ours.data if transform is None else transform(ours.data)))


def _flat_outputs(result):
    """The output and the final states as a flat list (h, or h and c)."""
    if not isinstance(result, tuple):
        return [result]
    output, states = result
    return [output] + (list(states) if isinstance(states, tuple) else [states])


def _compare(ours_outputs, theirs_outputs, ours_inputs, theirs_inputs, pairs, rng):
    weights = [rng.standard_normal(numpy.shape(o.data)) for o in ours_outputs]
    sum(((o * w).sum() for o, w in zip(ours_outputs, weights)), Tensor(0.0)).backward()
    sum((t * torch.tensor(w)).sum() for t, w in zip(theirs_outputs, weights)).backward()
    for k, (a, b) in enumerate(zip(ours_outputs, theirs_outputs)):
        numpy.testing.assert_allclose(a.data, b.detach().numpy(), err_msg=f"output {k}", **TOLERANCE)
    for k, (a, b) in enumerate(zip(ours_inputs, theirs_inputs)):
        numpy.testing.assert_allclose(a.grad, b.grad.numpy(), err_msg=f"gradient of input {k}", **TOLERANCE)
    for ours, theirs, transform in pairs:
        grad = theirs.grad.numpy()
        numpy.testing.assert_allclose(ours.grad, grad if transform is None else transform(grad), **TOLERANCE)


# torch warns that dropout with one layer does nothing (it does nothing here either).
@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@DRAWN
@given(kind=st.sampled_from(sorted(KINDS)), bias=st.booleans(), batch_first=st.booleans(),
       num_layers=st.integers(1, 2), bidirectional=st.booleans(), unbatched=st.booleans(),
       with_initial_state=st.booleans(), return_sequences=st.booleans(), dropout_in_evaluation=st.booleans(),
       sizes=st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
       seed=st.integers(0, 999))
def test_recurrent_options_equal_torch(kind, bias, batch_first, num_layers, bidirectional, unbatched,
                                       with_initial_state, return_sequences, dropout_in_evaluation, sizes, seed):
    steps, batch, n_in, hidden = sizes
    ours_cls, theirs_cls, extra = KINDS[kind]
    # In evaluation mode dropout is off, in PyTorch as here: the layers must then agree exactly.
    dropout = 0.5 if dropout_in_evaluation else 0.0
    options = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                   dropout=dropout, **extra)
    ours = ours_cls(n_in, hidden, return_state=True, return_sequences=return_sequences, rng=seed, dtype=F64,
                    **options)
    theirs = theirs_cls(n_in, hidden, **options).double()
    if dropout:
        ours.eval()
        theirs.eval()
    pairs = _pairs(ours, theirs)
    _copy(pairs)
    rng = numpy.random.default_rng(seed)
    count = num_layers * (2 if bidirectional else 1)
    shape = (steps, n_in) if unbatched else ((batch, steps, n_in) if batch_first else (steps, batch, n_in))
    arrays = [rng.standard_normal(shape)]
    if with_initial_state:
        state_shape = (count, hidden) if unbatched else (count, batch, hidden)
        arrays += [rng.standard_normal(state_shape) for _ in range(2 if kind == "LSTM" else 1)]
    ours_inputs = [Tensor(a, requires_grad=True) for a in arrays]
    theirs_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(module, inputs):
        state = None if len(inputs) == 1 else (tuple(inputs[1:]) if kind == "LSTM" else inputs[1])
        return module(inputs[0]) if state is None else module(inputs[0], state)

    ours_outputs = _flat_outputs(run(ours, ours_inputs))
    theirs_outputs = _flat_outputs(run(theirs, theirs_inputs))
    if not return_sequences:
        # PyTorch always returns the sequence: the last step's outputs are the final states of the last layer.
        last = theirs_outputs[1][-(2 if bidirectional else 1):]
        theirs_outputs[0] = torch.cat(list(last), dim=-1)
    _compare(ours_outputs, theirs_outputs, ours_inputs, theirs_inputs, pairs, rng)


@DRAWN
@given(kind=st.sampled_from(sorted(KINDS)), p=st.sampled_from([0.25, 0.5, 0.8]), batch_first=st.booleans(),
       num_layers=st.integers(2, 3), bidirectional=st.booleans(), unbatched=st.booleans(), seed=st.integers(0, 999))
def test_training_mode_dropout_equals_torch_layers_with_the_same_masks(kind, p, batch_first, num_layers, bidirectional,
                                                                       unbatched, seed):
    # PyTorch's own masks cannot be ours: its twin is one single-layer module per stacked layer with our masks
    # (replayed from a copy of our generator, one (N, D H) draw per step in time order) applied between them.
    steps, batch, n_in, hidden = 3, 2, 2, 3
    ours_cls, theirs_cls, extra = KINDS[kind]
    directions = 2 if bidirectional else 1
    ours = ours_cls(n_in, hidden, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional,
                    dropout=p, rng=seed, dtype=F64, **extra)
    layers = [theirs_cls(n_in if k == 0 else directions * hidden, hidden, batch_first=batch_first,
                         bidirectional=bidirectional, **extra).double() for k in range(num_layers)]
    pairs = _pairs(ours, None, layers)
    _copy(pairs)
    replay = copy.deepcopy(ours.rng)
    rows = 1 if unbatched else batch
    masks = [numpy.stack([replay.random((rows, directions * hidden)) >= p for _ in range(steps)],
                         axis=1 if batch_first else 0) / (1.0 - p) for _ in range(num_layers - 1)]
    rng = numpy.random.default_rng(seed)
    shape = (steps, n_in) if unbatched else ((batch, steps, n_in) if batch_first else (steps, batch, n_in))
    x = rng.standard_normal(shape)
    ours_x = Tensor(x, requires_grad=True)
    ours_outputs = [ours(ours_x)]
    theirs_x = torch.tensor(x, requires_grad=True)
    y = theirs_x
    for k, layer in enumerate(layers):
        if k:
            mask = masks[k - 1]
            y = y * torch.tensor(mask.reshape(steps, -1) if unbatched else mask)
        y = layer(y)[0]
    _compare(ours_outputs, [y], [ours_x], [theirs_x], pairs, rng)


def _reseeded(layer, seed):
    """layer(x) with the same dropout masks at every call (finite differences need one function)."""
    def run(x, *params):
        layer.rng = numpy.random.default_rng(seed)
        names = [name for name, _ in layer.named_parameters()]
        return nn.functional_call(layer, dict(zip(names, params)), x)
    return run


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.RNN(2, 3, nonlinearity="relu", bias=False, batch_first=False, rng=0, dtype=F64), (3, 2, 2)),
    (lambda: nn.GRU(2, 2, bias=False, return_state=True, rng=1, dtype=F64), (3, 2)),
    (lambda: nn.LSTM(2, 2, num_layers=2, dropout=0.5, bidirectional=True, return_sequences=False, rng=2, dtype=F64),
     (2, 3, 2)),
    (lambda: nn.RNN(1, 2, num_layers=2, dropout=0.3, batch_first=False, rng=3, dtype=F64), (3, 1)),
], ids=["rnn-relu-no-bias-time-first", "gru-no-bias-unbatched", "lstm-dropout-bidirectional", "rnn-dropout-unbatched"])
def test_recurrent_options_match_finite_differences_to_second_order(make, shape):
    layer = make()
    rng = numpy.random.default_rng(4)
    f = _reseeded(layer, 11)
    args = [rng.standard_normal(shape)] + [p.data for p in layer.parameters()]

    def flat(*values):
        out = f(*values)
        return out[0] if isinstance(out, tuple) else out

    check_grads(flat, args, modes=("fwd", "rev"), order=2, rtol=1e-6, rng=rng)


def test_dropout_acts_in_training_only_and_drops_about_p():
    layer = nn.RNN(4, 50, num_layers=2, dropout=0.5, rng=0, dtype=F64)
    x = numpy.random.default_rng(0).standard_normal((4, 6, 4))
    first, second = layer(x).data, layer(x).data
    assert not numpy.allclose(first, second)  # a new mask at each training call
    layer.eval()
    numpy.testing.assert_array_equal(layer(x).data, layer(x).data)
    # The masks themselves: 6 steps x 4 rows x 50 units, each kept with probability 1/2.
    replay = copy.deepcopy(layer.rng)
    kept = numpy.mean([replay.random((4, 50)) >= 0.5 for _ in range(6)])
    assert 0.45 < kept < 0.55


def test_recurrent_options_name_their_errors():
    with pytest.raises(ValueError, match="RNN: nonlinearity must be one of 'tanh', 'relu', got 'sigmoid'"):
        nn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="nonlinearity"):
        nn.GRU(2, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match=r"LSTM: dropout must be a number in \[0, 1\], got 1.5"):
        nn.LSTM(2, 3, dropout=1.5)
    with pytest.raises(TypeError, match="GRU: batch_first must be True or False, got 'no'"):
        nn.GRU(2, 3, batch_first="no")
    with pytest.raises(TypeError, match="RNN: bias must be True or False, got 0"):
        nn.RNN(2, 3, bias=0)
    with pytest.raises(ValueError, match=r"GRU: expected input of shape \(T, N, 3\), got \(2, 5, 4\) \(or \(T, 3\) "
                                         r"for one unbatched sequence\)"):
        nn.GRU(3, 4, batch_first=False, rng=0)(numpy.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"LSTM: initial state of shape \(1, 1, 4\), expected \(1, 4\) for an "
                                         "unbatched sequence"):
        nn.LSTM(3, 4, rng=0)(numpy.zeros((5, 3)), (numpy.zeros((1, 1, 4)), numpy.zeros((1, 1, 4))))
    assert [name for name, _ in nn.LSTM(2, 3, bias=False).named_parameters()] == ["cells.0.0.W_ih", "cells.0.0.W_hh"]

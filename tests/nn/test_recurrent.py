"""RNN, GRU, LSTM: equality with PyTorch (weights copied, gate order respected) and finite-difference checks."""

import numpy
import pytest
import torch

import nablanet.nn as nn
from nablanet import Tensor
from nablanet.testing import check_grads

KINDS = {"RNN": (nn.RNN, torch.nn.RNN), "GRU": (nn.GRU, torch.nn.GRU), "LSTM": (nn.LSTM, torch.nn.LSTM)}


def copy_weights_to_torch(ours, theirs):
    """Our W_ih (in, G H) is PyTorch's weight_ih_l{k}{_reverse} (G H, in) transposed; gate order is the same."""
    with torch.no_grad():
        for layer, directions in enumerate(ours.cells):
            for direction, w in enumerate(directions):
                suffix = f"l{layer}" + ("_reverse" if direction else "")
                getattr(theirs, f"weight_ih_{suffix}").copy_(torch.tensor(w.W_ih.data.T))
                getattr(theirs, f"weight_hh_{suffix}").copy_(torch.tensor(w.W_hh.data.T))
                getattr(theirs, f"bias_ih_{suffix}").copy_(torch.tensor(w.b_ih.data))
                getattr(theirs, f"bias_hh_{suffix}").copy_(torch.tensor(w.b_hh.data))


def torch_gradients_in_our_layout(ours, theirs):
    grads = []
    for layer, directions in enumerate(ours.cells):
        for direction, _ in enumerate(directions):
            suffix = f"l{layer}" + ("_reverse" if direction else "")
            grads += [getattr(theirs, f"weight_ih_{suffix}").grad.numpy().T,
                      getattr(theirs, f"weight_hh_{suffix}").grad.numpy().T,
                      getattr(theirs, f"bias_ih_{suffix}").grad.numpy(),
                      getattr(theirs, f"bias_hh_{suffix}").grad.numpy()]
    return grads


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers, bidirectional, with_initial_state", [(1, False, False), (2, True, True), (1, True, False)])
def test_recurrent_layers_equal_torch(kind, num_layers, bidirectional, with_initial_state):
    ours_cls, torch_cls = KINDS[kind]
    n, t, n_in, hidden = 3, 6, 4, 5
    ours = ours_cls(n_in, hidden, num_layers=num_layers, bidirectional=bidirectional, return_state=True, rng=0,
                    dtype=numpy.float64)
    theirs = torch_cls(n_in, hidden, num_layers=num_layers, bidirectional=bidirectional, batch_first=True).double()
    copy_weights_to_torch(ours, theirs)
    rng = numpy.random.default_rng(1)
    x = rng.standard_normal((n, t, n_in))
    count = num_layers * (2 if bidirectional else 1)
    h0 = rng.standard_normal((count, n, hidden)) if with_initial_state else None
    c0 = rng.standard_normal((count, n, hidden)) if with_initial_state else None

    ours_x = Tensor(x, requires_grad=True)
    if kind == "LSTM":
        out, (h_n, c_n) = ours(ours_x, None if h0 is None else (h0, c0))
    else:
        out, h_n = ours(ours_x, h0)
    weights = rng.standard_normal(out.shape)
    state_weights = rng.standard_normal(h_n.shape)
    ((out * weights).sum() + (h_n * state_weights).sum()).backward()

    theirs_x = torch.tensor(x, requires_grad=True)
    if kind == "LSTM":
        args = () if h0 is None else ((torch.tensor(h0), torch.tensor(c0)),)
        reference, (ref_h, _) = theirs(theirs_x, *args)
    else:
        reference, ref_h = theirs(theirs_x, *(() if h0 is None else (torch.tensor(h0),)))
    ((reference * torch.tensor(weights)).sum() + (ref_h * torch.tensor(state_weights)).sum()).backward()

    numpy.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-8, atol=1e-10)
    numpy.testing.assert_allclose(h_n.data, ref_h.detach().numpy(), rtol=1e-8, atol=1e-10)
    numpy.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-8, atol=1e-10)
    for ours_grad, their_grad in zip([p.grad for p in ours.parameters()], torch_gradients_in_our_layout(ours, theirs)):
        numpy.testing.assert_allclose(ours_grad, their_grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recurrent_gradients_match_finite_differences(kind):
    layer = KINDS[kind][0](2, 3, bidirectional=True, return_sequences=False, rng=0, dtype=numpy.float64)
    names = [name for name, _ in layer.named_parameters()]
    x = numpy.random.default_rng(2).standard_normal((2, 4, 2))
    check_grads(lambda x, *params: nn.functional_call(layer, dict(zip(names, params)), x),
                [x] + [p.data for p in layer.parameters()], order=1, rtol=1e-6)


def test_last_output_of_a_bidirectional_layer():
    layer = nn.GRU(2, 3, bidirectional=True, rng=0, dtype=numpy.float64)
    x = numpy.random.default_rng(3).standard_normal((2, 5, 2))
    sequences = layer(x).data
    layer.return_sequences = False
    last = layer(x).data
    # Forward direction: its state after the last step; backward direction: after reading back to step 0.
    numpy.testing.assert_allclose(last[:, :3], sequences[:, -1, :3])
    numpy.testing.assert_allclose(last[:, 3:], sequences[:, 0, 3:])


def test_gradient_clipping_by_norm_bounds_recurrent_gradients():
    from nablanet.optim.clip import clip_by_global_norm

    layer = nn.RNN(1, 4, rng=0, dtype=numpy.float64)
    for p in layer.parameters():
        p.data *= 8.0  # large weights: a gradient norm well above the clipping threshold
    x = numpy.ones((2, 50, 1))
    (layer(x) ** 2).sum().backward()
    grads = [p.grad for p in layer.parameters()]
    clipped, norm = clip_by_global_norm(grads, 1.0)
    assert norm > 5.0
    assert numpy.sqrt(sum((g ** 2).sum() for g in clipped)) == pytest.approx(1.0, rel=1e-5)


def test_recurrent_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, T, 3\), got \(2, 5\)"):
        nn.GRU(3, 4, rng=0)(numpy.zeros((2, 5), dtype=numpy.float32))
    with pytest.raises(ValueError, match=r"initial state of shape \(2, 4\), expected \(1, 2, 4\)"):
        nn.RNN(3, 4, rng=0)(numpy.zeros((2, 5, 3), dtype=numpy.float32), numpy.zeros((2, 4)))


def composed_gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """The GRU step written with elementary primitives: the reference the fused gru_cell must equal."""
    import nablanet.numpy as np

    hidden = W_hh.shape[0]
    gx = x @ W_ih + b_ih
    gh = h @ W_hh + b_hh
    rz = np.sigmoid(gx[:, : 2 * hidden] + gh[:, : 2 * hidden])
    r, z = rz[:, :hidden], rz[:, hidden:]
    n = np.tanh(gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
    return n + z * (h - n)


def test_fused_gru_cell_equals_elementary_cell_to_second_order():
    import nablanet.numpy as np
    from nablanet import grad, hessian, jvp

    rng = numpy.random.default_rng(5)
    args = [rng.standard_normal(s) for s in [(4, 3), (4, 2), (3, 6), (2, 6), (6,), (6,)]]
    weights = rng.standard_normal((4, 2))
    numpy.testing.assert_allclose(np.gru_cell(*args), composed_gru_cell(*args), rtol=1e-14)
    for i in range(6):
        fused = grad(lambda *a: np.sum(np.gru_cell(*a) * weights), argnums=i)(*args)
        plain = grad(lambda *a: np.sum(composed_gru_cell(*a) * weights), argnums=i)(*args)
        numpy.testing.assert_allclose(fused, plain, rtol=1e-12, atol=1e-14)
    tangents = [rng.standard_normal(a.shape) for a in args]
    numpy.testing.assert_allclose(jvp(np.gru_cell, args, tangents)[1], jvp(composed_gru_cell, args, tangents)[1],
                                  rtol=1e-12, atol=1e-14)
    fused_h = hessian(lambda h: np.sum(np.gru_cell(args[0], h, *args[2:]) ** 2))(args[1])
    plain_h = hessian(lambda h: np.sum(composed_gru_cell(args[0], h, *args[2:]) ** 2))(args[1])
    numpy.testing.assert_allclose(fused_h, plain_h, rtol=1e-11, atol=1e-13)

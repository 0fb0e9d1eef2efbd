"""Recurrent primitives: one fused GRU time step, and a GRU or Elman RNN layer over a whole sequence.

Small recurrent networks are bound by per-op overhead, not arithmetic (PERFORMANCE.md): a GRU step
written with elementary ops is about 18 of them, each recorded and walked back. As one primitive it
is one op, and its VJP is the hand-derived backpropagation-through-time step below. A test checks
that it equals the same cell written with elementary primitives, to second order. ``gru_sequence``
runs the cell over all time steps as one primitive (the GRU layer's), its first-order rules in
``nablanet.kernels.recurrent``; on Tensors its rules are GRUCell's, step by step. ``rnn_sequence``
does the same for the Elman RNN.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.op import Op, raw, register
from nablanet.autodiff.ops.elementwise import sigmoid, tanh
from nablanet.autodiff.ops.reduce import sum as sum_
from nablanet.autodiff.ops.shape import concatenate, stack
from nablanet.kernels import recurrent as recurrent_kernels

__all__ = ["gru_cell", "gru_sequence", "rnn_sequence"]


def _gates(x, h, W_ih, W_hh, b_ih, b_hh):
    """r, z, n and the hidden part of the candidate's pre-activation, for arrays or Tensors alike."""
    hidden = W_hh.shape[0]
    gx = x @ W_ih + b_ih
    gh = h @ W_hh + b_hh
    rz = sigmoid(gx[:, : 2 * hidden] + gh[:, : 2 * hidden])
    r, z = rz[:, :hidden], rz[:, hidden:]
    gh_n = gh[:, 2 * hidden:]
    n = tanh(gx[:, 2 * hidden:] + r * gh_n)
    return r, z, n, gh_n


@register
class GRUCell(Op):
    """One GRU step (Cho et al., 2014, with PyTorch's gate order [r, z, n]):

        r = sigma(x W_ir + b_ir + h W_hr + b_hr),   z = sigma(x W_iz + b_iz + h W_hz + b_hz)
        n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),   h' = (1 - z) * n + z * h

    VJP, with g = dC/dh' and a_n, a_r, a_z the pre-activations:

        dC/da_n = g (1 - z) (1 - n^2)
        dC/da_r = dC/da_n * (h W_hn + b_hn) * r (1 - r)
        dC/da_z = g (h - n) * z (1 - z)
        dC/dx = [da_r, da_z, da_n] W_ih^T,   dC/dh = [da_r, da_z, r da_n] W_hh^T + g z
        dC/dW_ih = x^T [da_r, da_z, da_n],   dC/dW_hh = h^T [da_r, da_z, r da_n], biases: column sums.

    The gates are recomputed in the VJP from the inputs (two small matrix products) rather than
    kept: the op's only output is h'.

    Shapes: x (N, in), h (N, H), W_ih (in, 3H), W_hh (H, 3H), b_ih, b_hh (3H,) -> (N, H).
    """

    name = "gru_cell"

    def forward(x, h, W_ih, W_hh, b_ih, b_hh):
        r, z, n, _ = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
        return n + z * (h - n)

    def vjp(grad_out, out, x, h, W_ih, W_hh, b_ih, b_hh, *, needs):
        r, z, n, gh_n = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
        da_n = grad_out * (1.0 - z) * (1.0 - n * n)
        da_r = da_n * gh_n * (r * (1.0 - r))
        da_z = grad_out * (h - n) * (z * (1.0 - z))
        d_gx = concatenate([da_r, da_z, da_n], axis=1)
        d_gh = concatenate([da_r, da_z, da_n * r], axis=1)
        return (
            d_gx @ W_ih.T if needs[0] else None,
            d_gh @ W_hh.T + grad_out * z if needs[1] else None,
            x.T @ d_gx if needs[2] else None,
            h.T @ d_gh if needs[3] else None,
            d_gx.sum(axis=0) if needs[4] else None,
            d_gh.sum(axis=0) if needs[5] else None,
        )

    def jvp(x_dot, h_dot, W_ih_dot, W_hh_dot, b_ih_dot, b_hh_dot, out, x, h, W_ih, W_hh, b_ih, b_hh, *, needs):
        hidden = W_hh.shape[0]
        r, z, n, gh_n = _gates(x, h, W_ih, W_hh, b_ih, b_hh)
        d_gx = x_dot @ W_ih + x @ W_ih_dot + b_ih_dot
        d_gh = h_dot @ W_hh + h @ W_hh_dot + b_hh_dot
        d_rz = d_gx[:, : 2 * hidden] + d_gh[:, : 2 * hidden]
        r_dot = r * (1.0 - r) * d_rz[:, :hidden]
        z_dot = z * (1.0 - z) * d_rz[:, hidden:]
        n_dot = (1.0 - n * n) * (d_gx[:, 2 * hidden:] + r_dot * gh_n + r * d_gh[:, 2 * hidden:])
        return n_dot + z_dot * (h - n) + z * (h_dot - n_dot)

    def flops(out, x, h, W_ih, W_hh, b_ih, b_hh):
        n, hidden = np.shape(out)
        matmuls = 2 * n * 3 * hidden * (np.shape(x)[1] + hidden)
        return matmuls + 12 * n * hidden


def _check_shapes(owner, x_shape, h_shape, W_ih, W_hh, b_ih, b_hh, gates=3):
    """Raise naming the first operand whose shape does not fit W_ih (in, gates H) and x (..., N, in)."""
    if len(np.shape(raw(W_ih))) != 2 or len(x_shape) < 2:
        raise ValueError(f"{owner}: expected W_ih (in, 3H) and x (..., N, in), got shapes {np.shape(raw(W_ih))} "
                         f"and {x_shape}")
    n_in, three_h = np.shape(raw(W_ih))
    hidden = three_h // gates
    for name, value, shape in (("x", x_shape, x_shape[:-1] + (n_in,)), ("h", h_shape, (x_shape[-2], hidden)),
                               ("W_hh", np.shape(raw(W_hh)), (hidden, three_h)),
                               ("b_ih", np.shape(raw(b_ih)), (three_h,)), ("b_hh", np.shape(raw(b_hh)), (three_h,))):
        if value != shape:
            raise ValueError(f"{owner}: {name} has shape {value}, expected {shape} for W_ih of shape {(n_in, three_h)}")


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step h' from input x (N, in) and state h (N, H); gates [r, z, n] as PyTorch."""
    x_shape = np.shape(raw(x))
    if len(x_shape) != 2:
        raise ValueError(f"gru_cell: x must be (N, in), got shape {x_shape}")
    _check_shapes("gru_cell", x_shape, np.shape(raw(h)), W_ih, W_hh, b_ih, b_hh)
    return GRUCell.apply(x, h, W_ih, W_hh, b_ih, b_hh)


def _step(a, t, batch_first):
    """Time step t of a sequence (T, N, ...), or (N, T, ...) with batch_first."""
    return a[:, t] if batch_first else a[t]


def _steps(steps, direction):
    """The time steps in the order a direction reads them: forward, or backward for direction 1."""
    return range(steps - 1, -1, -1) if direction else range(steps)


def _through_steps(step_vjp, grad_out, out, x, h0, weights, batch_first, needs):
    """The VJP of a sequence primitive on Tensors: its step's VJP applied from the last step back to the first,
    direction by direction, the weight gradients summed over steps.

    ``step_vjp(d, g, x_t, h_prev, h_t, direction)`` gives (dC/dx_t or None, dC/dh_prev, dC/dW_ih, dC/dW_hh,
    dC/db_ih, dC/db_hh) of one step of direction d, from g = dC/dh_t; h_t and h_prev are read from the output.
    """
    steps = x.shape[1 if batch_first else 0]
    hidden = h0.shape[2]
    grad_x = [None] * steps
    grad_h0, grad_weights = [], []
    for d, direction in enumerate(_directions(weights)):
        states = out[..., d * hidden: (d + 1) * hidden]
        order = _steps(steps, d)
        totals = [None] * 4
        carried = None
        for k in reversed(range(steps)):
            t = order[k]
            h_prev = h0[d] if k == 0 else _step(states, order[k - 1], batch_first)
            g = _step(grad_out, t, batch_first)[..., d * hidden: (d + 1) * hidden]
            g = g if carried is None else g + carried
            grads = step_vjp(d, g, _step(x, t, batch_first), h_prev, _step(states, t, batch_first), direction)
            grad_x[t] = grads[0] if grad_x[t] is None else grad_x[t] + grads[0]
            carried = grads[1]
            totals = [None if dw is None else dw if w is None else w + dw for w, dw in zip(totals, grads[2:])]
        grad_h0.append(carried)
        grad_weights += totals
    return (stack(grad_x, axis=1 if batch_first else 0) if needs[0] else None, stack(grad_h0), *grad_weights)


@register
class GRUSequence(Op):
    r"""A GRU layer over a whole sequence, one or two directions: all the outputs of torch.nn.GRU's layer.

    Direction d has its own weights and initial state h_0^d. Direction 0 runs
    h_t = GRUCell(x_t, h_{t-1}) for t = 1 .. T from h_0^0; direction 1 (bidirectional) runs from the last
    step to the first, h_t = GRUCell(x_t, h_{t+1}) from h_{T+1} = h_0^1. Output step t is
    [h_t^0, h_t^1], as PyTorch's bidirectional layers.

    A primitive for speed: as gru_cell ops a bidirectional 40-step sequence is 80 recorded ops forward
    and 80 VJP calls of about 20 NumPy calls each. On arrays ``nablanet.kernels.recurrent`` computes the
    input projections x W_ih + b_ih of all steps in one product, runs the recurrence of both directions
    in the same NumPy calls with preallocated outputs, and keeps the gates [r, z, n] and h W_hn + b_hn of
    every step as the residual; its VJP is backpropagation through time with GRUCell's equations (delta
    the gradient of a gate's pre-activation), summed over steps,

    .. math::

        \frac{\partial C}{\partial W_{hh}} = \sum_t h_{t-1}^T \, [\delta_r, \delta_z, r \delta_n]_t,
        \qquad \frac{\partial C}{\partial W_{ih}} = \sum_t x_t^T \, [\delta_r, \delta_z, \delta_n]_t,

    each sum one product over all T N rows. On Tensors (a derivative of a derivative) the VJP, and the
    JVP always, are GRUCell's rules applied step by step, reading each h_{t-1} from the output: the same
    mathematics, recorded. A test checks that the primitive equals the loop of gru_cell ops.

    Shapes: x (T, N, in) ((N, T, in) with batch_first), h_0 (D, N, H), then per direction W_ih (in, 3H),
    W_hh (H, 3H), b_ih, b_hh (3H,) -> (T, N, D H) ((N, T, D H) with batch_first).
    """

    name = "gru_sequence"
    keeps_residual = True

    def forward(x, h0, *weights, batch_first):
        return recurrent_kernels.gru_sequence(x, h0, _directions(weights), batch_first)

    def vjp(grad_out, out, x, h0, *weights, batch_first, residual, needs):
        if all(isinstance(v, np.ndarray) for v in (grad_out, out, x, h0, *weights)):
            return recurrent_kernels.gru_sequence_vjp(grad_out, residual, x, _directions(weights), batch_first, needs)
        # Back through the steps with GRUCell's rule, which always passes dC/dh back (the recurrence needs it).
        def step_vjp(d, g, x_t, h_prev, h_t, direction):
            return GRUCell.vjp(g, h_t, x_t, h_prev, *direction, needs=(needs[0], True, *needs[2 + 4 * d: 6 + 4 * d]))

        return _through_steps(step_vjp, grad_out, out, x, h0, weights, batch_first, needs)

    def jvp(*args, batch_first, residual, needs):
        count = (len(args) - 1) // 2
        dots, out, (x, h0, *weights) = args[:count], args[count], args[count + 1:]
        x_dot, h0_dot = dots[0], dots[1]
        steps = x.shape[1 if batch_first else 0]
        hidden = h0.shape[2]
        outputs = []
        for d, (W_ih, W_hh, b_ih, b_hh) in enumerate(_directions(weights)):
            weight_dots = dots[2 + 4 * d: 6 + 4 * d]
            states = out[..., d * hidden: (d + 1) * hidden]
            out_dot = [None] * steps
            h_prev, h_dot = h0[d], h0_dot[d]
            for t in _steps(steps, d):
                h_dot = GRUCell.jvp(_step(x_dot, t, batch_first), h_dot, *weight_dots, None,
                                    _step(x, t, batch_first), h_prev, W_ih, W_hh, b_ih, b_hh, needs=(True,) * 6)
                out_dot[t], h_prev = h_dot, _step(states, t, batch_first)
            outputs.append(stack(out_dot, axis=1 if batch_first else 0))
        return outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=2)

    def flops(out, x, h0, *weights, batch_first):
        steps_times_n = int(np.size(out)) // np.shape(h0)[2]
        hidden, n_in = np.shape(h0)[2], np.shape(x)[2]
        return steps_times_n * (2 * 3 * hidden * (n_in + hidden) + 12 * hidden)


def _directions(weights):
    """The flat weights W_ih, W_hh, b_ih, b_hh of each direction, as one tuple per direction."""
    return [tuple(weights[k: k + 4]) for k in range(0, len(weights), 4)]


def _checked_sequence(owner, x, h0, weights, batch_first, gates):
    """The weights as one tuple per direction, after checking every shape against x and h0 (raises naming the first
    that does not fit)."""
    weights = [tuple(direction) for direction in weights]
    x_shape, h0_shape = np.shape(raw(x)), np.shape(raw(h0))
    if len(weights) not in (1, 2) or any(len(direction) != 4 for direction in weights):
        raise ValueError(f"{owner}: weights must be one or two (W_ih, W_hh, b_ih, b_hh), got "
                         f"{[len(direction) for direction in weights]} arrays per direction")
    if len(x_shape) != 3 or 0 in x_shape[:2]:
        raise ValueError(f"{owner}: x must be {'(N, T, in)' if batch_first else '(T, N, in)'} with at least "
                         f"one step and one sequence, got shape {x_shape}")
    steps_first = (x_shape[1], x_shape[0], x_shape[2]) if batch_first else x_shape
    if len(h0_shape) != 3 or h0_shape[0] != len(weights):
        raise ValueError(f"{owner}: h0 must be (D, N, H) with D = {len(weights)} directions, got shape {h0_shape}")
    for direction in weights:
        _check_shapes(owner, steps_first, h0_shape[1:], *direction, gates=gates)
    return weights


def gru_sequence(x, h0, weights, *, batch_first: bool = False):
    """The outputs of one GRU layer over a sequence, its directions side by side, as one primitive (GRUSequence).

    Args:
        x: the inputs, (T, N, in), or (N, T, in) with batch_first.
        h0: each direction's state before its first step, (D, N, H).
        weights: one (W_ih, W_hh, b_ih, b_hh) per direction, W_ih (in, 3H), W_hh (H, 3H) with the gates
            side by side as [r, z, n] (PyTorch's order, transposed), b_ih, b_hh (3H,). A second direction
            reads the sequence from its last step to its first.
        batch_first: the layout of x and of the outputs.

    Returns:
        The states of every step, the directions' side by side: (T, N, D H), or (N, T, D H) with batch_first.

    Example:
        >>> import numpy
        >>> W_ih, W_hh, b = numpy.ones((1, 3)), numpy.ones((1, 3)), numpy.zeros(3)
        >>> gru_sequence(numpy.zeros((4, 2, 1)), numpy.zeros((2, 2, 1)), [(W_ih, W_hh, b, b)] * 2).shape
        (4, 2, 2)
    """
    weights = _checked_sequence("gru_sequence", x, h0, weights, batch_first, gates=3)
    return GRUSequence.apply(x, h0, *[w for direction in weights for w in direction], batch_first=bool(batch_first))



def _rnn_slope(h, nonlinearity):
    """f'(a) from h = f(a): 1 - h^2 for tanh (differentiable through h), the constant h > 0 for ReLU."""
    if nonlinearity == "tanh":
        return 1.0 - h * h
    return (raw(h) > 0).astype(raw(h).dtype)


@register
class RNNSequence(Op):
    r"""An Elman RNN layer over a whole sequence, one or two directions, as torch.nn.RNN's layer:
    h_t = f(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh), f = tanh or ReLU, directions as GRUSequence's.

    A primitive for speed, as GRUSequence: on arrays ``nablanet.kernels.recurrent`` runs three NumPy calls
    a step each way, both directions in the same calls; its VJP is backpropagation through time,
    :math:`\delta_t = (g_t + \delta_{t+1} W_{hh}^T) \, f'(a_t)`,
    :math:`\partial C / \partial W_{hh} = \sum_t h_{t-1}^T \delta_t`, each sum over steps one product.
    On Tensors the VJP, and the JVP always, are the same equations step by step with Tensor ops, f'(a)
    read from the output (1 - h^2 for tanh; for ReLU h > 0, a constant).

    Shapes: as GRUSequence's, with H in place of 3H.
    """

    name = "rnn_sequence"
    keeps_residual = True

    def forward(x, h0, *weights, nonlinearity, batch_first):
        return recurrent_kernels.rnn_sequence(x, h0, _directions(weights), nonlinearity, batch_first)

    def vjp(grad_out, out, x, h0, *weights, nonlinearity, batch_first, residual, needs):
        if all(isinstance(v, np.ndarray) for v in (grad_out, out, x, h0, *weights)):
            return recurrent_kernels.rnn_sequence_vjp(grad_out, residual, x, _directions(weights), nonlinearity,
                                                      batch_first, needs)

        def step_vjp(d, g, x_t, h_prev, h_t, direction):
            W_ih, W_hh, _, _ = direction
            delta = g * _rnn_slope(h_t, nonlinearity)
            bias = sum_(delta, axis=0)
            return (delta @ W_ih.T if needs[0] else None, delta @ W_hh.T, x_t.T @ delta, h_prev.T @ delta, bias, bias)

        return _through_steps(step_vjp, grad_out, out, x, h0, weights, batch_first, needs)

    def jvp(*args, nonlinearity, batch_first, residual, needs):
        count = (len(args) - 1) // 2
        dots, out, (x, h0, *weights) = args[:count], args[count], args[count + 1:]
        steps = x.shape[1 if batch_first else 0]
        hidden = h0.shape[2]
        outputs = []
        for d, (W_ih, W_hh, _, _) in enumerate(_directions(weights)):
            W_ih_dot, W_hh_dot, b_ih_dot, b_hh_dot = dots[2 + 4 * d: 6 + 4 * d]
            states = out[..., d * hidden: (d + 1) * hidden]
            out_dot = [None] * steps
            h_prev, h_dot = h0[d], dots[1][d]
            for t in _steps(steps, d):
                x_t, h_t = _step(x, t, batch_first), _step(states, t, batch_first)
                a_dot = (_step(dots[0], t, batch_first) @ W_ih + x_t @ W_ih_dot + b_ih_dot + h_dot @ W_hh
                         + h_prev @ W_hh_dot + b_hh_dot)
                h_dot = a_dot * _rnn_slope(h_t, nonlinearity)
                out_dot[t], h_prev = h_dot, h_t
            outputs.append(stack(out_dot, axis=1 if batch_first else 0))
        return outputs[0] if len(outputs) == 1 else concatenate(outputs, axis=2)

    def flops(out, x, h0, *weights, nonlinearity, batch_first):
        steps_times_n = int(np.size(out)) // np.shape(h0)[2]
        hidden, n_in = np.shape(h0)[2], np.shape(x)[2]
        return steps_times_n * (2 * hidden * (n_in + hidden) + 3 * hidden)


def rnn_sequence(x, h0, weights, *, nonlinearity: str = "tanh", batch_first: bool = False):
    """The outputs of one Elman RNN layer over a sequence, its directions side by side, as one primitive
    (RNNSequence): h_t = f(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh).

    Args:
        x: the inputs, (T, N, in), or (N, T, in) with batch_first.
        h0: each direction's state before its first step, (D, N, H).
        weights: one (W_ih (in, H), W_hh (H, H), b_ih (H,), b_hh (H,)) per direction; a second direction
            reads the sequence from its last step to its first.
        nonlinearity: f, "tanh" or "relu".
        batch_first: the layout of x and of the outputs.

    Returns:
        The states of every step, the directions' side by side: (T, N, D H), or (N, T, D H) with batch_first.

    Example:
        >>> import numpy
        >>> W, b = numpy.ones((1, 1)), numpy.zeros(1)
        >>> rnn_sequence(numpy.ones((3, 2, 1)), numpy.zeros((1, 2, 1)), [(W, W, b, b)], nonlinearity="relu")[:, 0, 0]
        array([1., 2., 3.])
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    weights = _checked_sequence("rnn_sequence", x, h0, weights, batch_first, gates=1)
    return RNNSequence.apply(x, h0, *[w for direction in weights for w in direction], nonlinearity=nonlinearity,
                             batch_first=bool(batch_first))

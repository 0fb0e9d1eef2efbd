"""Recurrent kernels: a GRU or Elman RNN layer over a whole sequence and its backpropagation through time, few
NumPy calls a step.

A small GRU (the MNIST-1D model: N = 100, H = 6) spends its time in the cost of each NumPy call, not in
arithmetic. These kernels do every computation that does not depend on the recurrence outside the loop
over time steps, as one call over all steps: the input projections x W_ih + b_ih of every step (one
matrix product per direction), and in the backward pass the gradients of W_ih, W_hh, the biases and x
(one product each over all steps). Inside the loop each step writes into preallocated arrays
(``out=``), 11 calls a step forward and 8 backward, and the two directions of a bidirectional layer run
in the same calls: iteration k is step k of the forward direction and step T - 1 - k of the backward one,
side by side in every array.

A step's values are feature-major, (features, directions, N), so that every gate of both directions is
one contiguous block and every elementwise call runs one long inner loop: on (N, 3H) rows a gate is a
strided column block, and NumPy's calls on it cost five to ten times more, and with the directions
outermost a call costs as much as two (measured at N = 100, H = 6). The recurrent product of both
directions is then one product with a block-diagonal matrix. Two further tricks save calls: the state
carries a row of ones, so that h W_hh + b_hh is one product, and the sigmoid of the r and z gates is
1/2 + tanh(a / 2) / 2 with the halving folded into their weights and biases (scipy's expit is a scalar
loop, several times slower than tanh and two in-place calls).
"""

from __future__ import annotations

import numpy as np

from nablanet.kernels import workspace
from nablanet.kernels.dense import column_sums

__all__ = ["gru_sequence", "gru_sequence_vjp", "rnn_sequence", "rnn_sequence_vjp"]


def _time_major(a, batch_first: bool):
    """a (T, N, ...) as a view: a itself, or a (N, T, ...) with its first two axes swapped."""
    return np.swapaxes(a, 0, 1) if batch_first else a


def _in_steps(a, direction: int):
    """a (T, ...) in the order a direction's steps read it: time order, or reversed for the backward one."""
    return a[::-1] if direction else a


def _block_diagonal(blocks):
    """The matrices A_d (rows, cols) of the directions as one (rows D, cols D) matrix, each index ordered
    (feature, direction): times a (cols, D, N) value it applies A_d to direction d's columns."""
    directions = len(blocks)
    rows, cols = blocks[0].shape
    matrix = np.zeros((rows, directions, cols, directions), np.result_type(*blocks))
    for d, block in enumerate(blocks):
        matrix[:, d, :, d] = block
    return matrix.reshape(rows * directions, cols * directions)


class _Run:
    """What a layer's run shares between the GRU and the RNN: the input projections of every step, the
    recurrent matrix of both directions, and the states, all feature-major, in the order of the iterations.

    Attributes:
        steps, batch, directions, hidden, dtype: the sizes of the run.
        projected: (T, G H, D, N), x W_ih + b_ih of the step each iteration reads, times ``scale``.
        recurrent: the block-diagonal [W_hh^T | b_hh] times ``scale``, ((G H) D, (H + 1) D).
        states: (T + 1, H + 1, D, N), [h; 1] read by iteration k at k (h0 at 0), written at k + 1;
            ``state_columns`` is the same memory as (T + 1, (H + 1) D, N), the recurrent product's operand.
    """

    def __init__(self, x, h0, weights, batch_first, scale):
        x_steps = _time_major(x, batch_first)
        steps, batch, n_in = x_steps.shape
        self.steps, self.batch = steps, batch
        self.directions = directions = len(weights)
        self.hidden = hidden = weights[0][1].shape[0]
        self.dtype = dtype = np.result_type(x, h0, *[w for direction in weights for w in direction])
        width = scale.shape[0]
        scale = scale.astype(dtype)
        x_rows = np.reshape(x_steps, (steps * batch, n_in))
        self.projected = workspace.empty((steps, width, directions, batch), dtype)
        rows = workspace.empty((steps * batch, width), dtype)
        for d, (W_ih, _, b_ih, _) in enumerate(weights):
            np.matmul(x_rows, W_ih * scale, out=rows)
            steps_rows = rows.reshape(steps, batch, width)
            np.add(_in_steps(steps_rows, d).transpose(0, 2, 1), (b_ih * scale)[:, None], out=self.projected[:, :, d])
        # [W_hh^T | b_hh] (G H, H + 1) of each direction times its [h; 1]: the product adds b_hh, and is one
        # product for both directions.
        self.recurrent = _block_diagonal([np.concatenate([W_hh.T, b_hh[:, None]], axis=1) * scale[:, None]
                                          for _, W_hh, _, b_hh in weights])
        self.states = workspace.empty((steps + 1, hidden + 1, directions, batch), dtype)
        self.states[:, hidden] = 1.0
        self.states[0, :hidden] = np.transpose(h0, (2, 0, 1))
        self.state_columns = self.states.reshape(steps + 1, (hidden + 1) * directions, batch)

    def outputs(self, batch_first):
        """Every step's states, the directions' side by side, (T, N, D H) or (N, T, D H) with batch_first."""
        steps, batch, hidden = self.steps, self.batch, self.hidden
        width = self.directions * hidden
        out = workspace.empty((batch, steps, width) if batch_first else (steps, batch, width), self.dtype)
        out_steps = _time_major(out, batch_first)
        for d in range(self.directions):
            out_steps[:, :, d * hidden: (d + 1) * hidden] = _in_steps(self.states[1:, :hidden, d], d).transpose(0, 2, 1)
        return out


def gru_sequence(x, h0, weights, batch_first: bool):
    """The outputs of a GRU layer run over x, and the residual its VJP needs.

    With PyTorch's gate order [r, z, n] (see ``nablanet.autodiff.ops.recurrent.GRUCell`` for the cell).
    Direction 0 reads x from the first step to the last, direction 1 (when given) from the last to the
    first; each output step holds the directions' states side by side, as PyTorch's bidirectional GRU.

    Args:
        x: (T, N, in), or (N, T, in) with ``batch_first``.
        h0: (D, N, H), each direction's state before its first step.
        weights: D tuples (W_ih (in, 3H), W_hh (H, 3H), b_ih (3H,), b_hh (3H,)).
        batch_first: the layout of x and of the output.

    Returns:
        (outputs (T, N, D H) or (N, T, D H), residual), the residual being, feature-major in the order
        of the iterations, the gates [r, z, n] (T, 3H, D, N), h W_hn + b_hn (T, H, D, N) and the states
        (T + 1, H, D, N), h0 first.
    """
    hidden = weights[0][1].shape[0]
    # 1/2 for the r and z columns: tanh then gives tanh(a / 2), and sigma(a) = 1/2 + tanh(a / 2) / 2.
    scale = np.ones(3 * hidden)
    scale[: 2 * hidden] = 0.5
    run = _Run(x, h0, weights, batch_first, scale)
    steps, directions, batch, dtype = run.steps, run.directions, run.batch, run.dtype
    projected, states = run.projected, run.states
    products = workspace.empty((steps, 3 * hidden, directions, batch), dtype)
    gates = workspace.empty((steps, 3 * hidden, directions, batch), dtype)
    step = np.empty((hidden, directions, batch), dtype)
    product_columns = products.reshape(steps, 3 * hidden * directions, batch)
    for k in range(steps):
        h = states[k, :hidden]
        np.matmul(run.recurrent, run.state_columns[k], out=product_columns[k])
        product = products[k]
        rz = gates[k, : 2 * hidden]
        np.add(projected[k, : 2 * hidden], product[: 2 * hidden], out=rz)
        np.tanh(rz, out=rz)
        np.multiply(rz, 0.5, out=rz)
        np.add(rz, 0.5, out=rz)
        n = gates[k, 2 * hidden:]
        np.multiply(rz[:hidden], product[2 * hidden:], out=n)
        np.add(n, projected[k, 2 * hidden:], out=n)
        np.tanh(n, out=n)
        # h' = (1 - z) n + z h = n + z (h - n)
        np.subtract(h, n, out=step)
        np.multiply(step, rz[hidden:], out=step)
        np.add(n, step, out=states[k + 1, :hidden])
    return run.outputs(batch_first), (gates, products[:, 2 * hidden:], states[:, :hidden])


def rnn_sequence(x, h0, weights, nonlinearity: str, batch_first: bool):
    """The outputs of an Elman RNN layer, h_t = f(x_t W_ih + b_ih + h_{t-1} W_hh + b_hh) with f tanh or
    ReLU, run over x as ``gru_sequence`` runs a GRU (the same arguments, W_ih (in, H), W_hh (H, H),
    biases (H,)), and the residual its VJP needs: the states (T + 1, H, D, N), h0 first, feature-major in
    the order of the iterations. Three NumPy calls a step."""
    hidden = weights[0][1].shape[0]
    run = _Run(x, h0, weights, batch_first, np.ones(hidden))
    states = run.states
    product = np.empty((hidden, run.directions, run.batch), run.dtype)
    product_columns = product.reshape(hidden * run.directions, run.batch)
    for k in range(run.steps):
        np.matmul(run.recurrent, run.state_columns[k], out=product_columns)
        h = states[k + 1, :hidden]
        np.add(run.projected[k], product, out=h)
        if nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0.0, out=h)
    return run.outputs(batch_first), states[:, :hidden]


def _rows(a):
    """a (T, N, features), a view, copied into a pooled array as rows (T N, features)."""
    rows = workspace.empty(a.shape, a.dtype)
    np.copyto(rows, a)
    return rows.reshape(-1, a.shape[-1])


def _incoming(grad_out, batch_first, shape, dtype):
    """The gradient of the outputs as (T, H, D, N), feature-major in the order of the iterations."""
    steps, hidden, directions, batch = shape
    incoming = workspace.empty(shape, dtype)
    grad_steps = _time_major(grad_out, batch_first)
    for d in range(directions):
        incoming[:, :, d] = _in_steps(grad_steps[:, :, d * hidden: (d + 1) * hidden], d).transpose(0, 2, 1)
    return incoming


def _gradients(carried, d_hidden, d_inputs, before, x, weights, batch_first, needs):
    """dC/dx, dC/dh0 and each direction's four weight gradients, from the gradients of every step.

    Args:
        carried: dC/dh0, (H, D, N).
        d_hidden: (T, G H, D, N), the gradient of h W_hh + b_hh at every iteration.
        d_inputs: per direction the parts (T, ., N) whose concatenation is the gradient of x W_ih + b_ih
            at every iteration.
        before: (T, H, D, N), the state each iteration read.
        x, weights, batch_first, needs: as the VJP has them.
    """
    steps, width, _, batch = d_hidden.shape
    x_steps = _time_major(x, batch_first)
    x_rows = np.reshape(x_steps, (steps * batch, x_steps.shape[2]))
    grad_x_rows = None
    grads = []
    for d, (W_ih, *_) in enumerate(weights):
        wanted = needs[2 + 4 * d: 6 + 4 * d]
        # Back to rows (T N, features) once: then each gradient over all steps is one product or sum.
        hidden_rows = _rows(d_hidden[:, :, d].transpose(0, 2, 1))
        input_rows = None
        if needs[0] or wanted[0] or wanted[2]:
            # In time order, as x_rows: the backward direction's iterations run backwards in time.
            input_rows = workspace.empty((steps, batch, width), d_hidden.dtype)
            np.concatenate([_in_steps(part, d).transpose(0, 2, 1) for part in d_inputs[d]], axis=2, out=input_rows)
            input_rows = input_rows.reshape(steps * batch, width)
        if needs[0]:
            term = input_rows @ W_ih.T
            grad_x_rows = term if grad_x_rows is None else grad_x_rows + term
        before_rows = _rows(before[:, :, d].transpose(0, 2, 1)) if wanted[1] else None
        grads += [x_rows.T @ input_rows if wanted[0] else None,
                  before_rows.T @ hidden_rows if wanted[1] else None,
                  column_sums(input_rows) if wanted[2] else None,
                  column_sums(hidden_rows) if wanted[3] else None]
    grad_x = None
    if needs[0]:
        grad_x = _time_major(grad_x_rows.reshape(x_steps.shape), batch_first)
    return (grad_x, np.transpose(carried, (1, 2, 0)) if needs[1] else None, *grads)


def gru_sequence_vjp(grad_out, residual, x, weights, batch_first: bool, needs):
    """dC/dx, dC/dh0, then dC/dW_ih, dC/dW_hh, dC/db_ih, dC/db_hh of each direction, from g = dC/doutputs.

    Backpropagation through time with GRUCell's equations. The factors of each step's gradients that
    do not depend on the incoming gradient ((1 - z)(1 - n^2), (h - n) z (1 - z), (h W_hn + b_hn) r (1 - r))
    are computed for all steps at once before the loop; the loop carries dC/dh back a step at a time and
    stores each step's [da_r, da_z, r da_n] and da_n. The weight, bias and input gradients are then one
    product (or column sum) over all T N rows.

    Args:
        grad_out: the gradient of ``gru_sequence``'s outputs, of their shape.
        residual: ``gru_sequence``'s residual.
        x, weights, batch_first: as given to ``gru_sequence``.
        needs: which of the 2 + 4 D gradients are wanted (the others are returned as None).
    """
    gates, hidden_n, states = residual
    steps, three_hidden, directions, batch = gates.shape
    hidden = three_hidden // 3
    dtype = gates.dtype
    r, z, n = gates[:, :hidden], gates[:, hidden: 2 * hidden], gates[:, 2 * hidden:]
    before = states[:steps]
    # (1 - z)(1 - n^2), (h - n) z (1 - z), (h W_hn + b_hn) r (1 - r), in place: no fresh temporaries.
    shape = (steps, hidden, directions, batch)
    through_n, through_z, through_r, slope = (workspace.empty(shape, dtype) for _ in range(4))
    np.multiply(n, n, out=through_n)
    np.subtract(1.0, through_n, out=through_n)
    np.subtract(1.0, z, out=slope)
    np.multiply(through_n, slope, out=through_n)
    np.multiply(slope, z, out=slope)
    np.subtract(before, n, out=through_z)
    np.multiply(through_z, slope, out=through_z)
    np.subtract(1.0, r, out=through_r)
    np.multiply(through_r, r, out=through_r)
    np.multiply(through_r, hidden_n, out=through_r)
    del slope
    incoming = _incoming(grad_out, batch_first, shape, dtype)
    # [da_r, da_z, r da_n]: the gradient of h W_hh + b_hh; da_n beside it, for x W_ih + b_ih.
    d_hidden = workspace.empty((steps, 3 * hidden, directions, batch), dtype)
    d_n = workspace.empty(shape, dtype)
    W_hh = _block_diagonal([direction[1].astype(dtype, copy=False) for direction in weights])
    g = np.empty((hidden, directions, batch), dtype)
    carried = np.zeros((hidden, directions, batch), dtype)
    direct = np.empty((hidden, directions, batch), dtype)
    hidden_columns = d_hidden.reshape(steps, 3 * hidden * directions, batch)
    carried_columns = carried.reshape(hidden * directions, batch)
    for k in range(steps - 1, -1, -1):
        np.add(incoming[k], carried, out=g)
        da_n = np.multiply(g, through_n[k], out=d_n[k])
        d_step = d_hidden[k]
        np.multiply(da_n, through_r[k], out=d_step[:hidden])
        np.multiply(g, through_z[k], out=d_step[hidden: 2 * hidden])
        np.multiply(da_n, r[k], out=d_step[2 * hidden:])
        np.matmul(W_hh, hidden_columns[k], out=carried_columns)
        np.multiply(g, z[k], out=direct)
        np.add(carried, direct, out=carried)
    d_inputs = [(d_hidden[:, : 2 * hidden, d], d_n[:, :, d]) for d in range(directions)]
    return _gradients(carried, d_hidden, d_inputs, before, x, weights, batch_first, needs)


def rnn_sequence_vjp(grad_out, residual, x, weights, nonlinearity: str, batch_first: bool, needs):
    """The gradients of ``rnn_sequence`` as ``gru_sequence_vjp`` gives them: the slope f'(a) of every step
    from its state (1 - h^2, or h > 0 for ReLU) at once, then three calls a step: g = dC/dh, da = g f'(a),
    dC/dh_prev = da W_hh^T."""
    states = residual
    steps = states.shape[0] - 1
    _, hidden, directions, batch = shape = (steps,) + states.shape[1:]
    dtype = states.dtype
    after = states[1:]
    slope = workspace.empty(shape, dtype)
    if nonlinearity == "tanh":
        np.multiply(after, after, out=slope)
        np.subtract(1.0, slope, out=slope)
    else:
        np.greater(after, 0.0, out=slope)
    incoming = _incoming(grad_out, batch_first, shape, dtype)
    d_hidden = workspace.empty(shape, dtype)
    W_hh = _block_diagonal([direction[1].astype(dtype, copy=False) for direction in weights])
    g = np.empty((hidden, directions, batch), dtype)
    carried = np.zeros((hidden, directions, batch), dtype)
    hidden_columns = d_hidden.reshape(steps, hidden * directions, batch)
    carried_columns = carried.reshape(hidden * directions, batch)
    for k in range(steps - 1, -1, -1):
        np.add(incoming[k], carried, out=g)
        np.multiply(g, slope[k], out=d_hidden[k])
        np.matmul(W_hh, hidden_columns[k], out=carried_columns)
    d_inputs = [(d_hidden[:, :, d],) for d in range(directions)]
    return _gradients(carried, d_hidden, d_inputs, states[:steps], x, weights, batch_first, needs)

"""Recurrent primitives: one fused GRU time step.

Small recurrent networks are bound by per-op overhead, not arithmetic (PERFORMANCE.md): a GRU step
written with elementary ops is about 18 of them, each recorded and walked back. As one primitive it
is one op, and its VJP is the hand-derived backpropagation-through-time step below. A test checks
that it equals the same cell written with elementary primitives, to second order.
"""

from __future__ import annotations

import numpy as np

from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import sigmoid, tanh
from nablanet.autodiff.ops.shape import concatenate

__all__ = ["gru_cell"]


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


def gru_cell(x, h, W_ih, W_hh, b_ih, b_hh):
    """One GRU step h' from input x (N, in) and state h (N, H); gates [r, z, n] as PyTorch."""
    n_in, three_h = np.shape(W_ih.data if hasattr(W_ih, "_data") else W_ih)
    hidden = three_h // 3
    for name, value, shape in (("h", h, (np.shape(x.data if hasattr(x, "_data") else x)[0], hidden)),
                               ("W_hh", W_hh, (hidden, three_h)), ("b_ih", b_ih, (three_h,)), ("b_hh", b_hh, (three_h,))):
        got = np.shape(value.data if hasattr(value, "_data") else value)
        if got != shape:
            raise ValueError(f"gru_cell: {name} has shape {got}, expected {shape} for W_ih of shape {(n_in, three_h)}")
    return GRUCell.apply(x, h, W_ih, W_hh, b_ih, b_hh)

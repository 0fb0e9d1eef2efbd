"""Helpers of the layer tests: a layer as a function of its input and parameters (for check_grads), and the
comparison of a layer with its PyTorch twin (values, the input's and every parameter's gradient)."""

from __future__ import annotations

import numpy
import torch

import nablanet.nn as nn
from nablanet import Tensor


def layer_as_function(layer, x):
    """f(x, *params) = layer(x) with the given parameter values, for check_grads; and its arguments."""
    names = [name for name, _ in layer.named_parameters()]

    def f(x_value, *values):
        return nn.functional_call(layer, dict(zip(names, values)), x_value)

    return f, [x] + [p.data for p in layer.parameters()]


def copy_parameters(theirs, pairs):
    """Give torch's parameters ours' values: ``pairs`` maps torch parameter names to (our Parameter, transform)."""
    with torch.no_grad():
        for name, (ours, transform) in pairs.items():
            theirs.get_parameter(name).copy_(torch.tensor(transform(ours.data)))


def assert_matches_torch(ours, theirs, inputs, pairs, *, rtol=1e-8, atol=1e-10, seed=0, call=None):
    """ours(*inputs) against theirs(*inputs): the output, the gradients of sum(output * w) for a random w with
    respect to each float input and to every parameter in ``pairs`` (torch name -> (our Parameter, transform
    from ours to torch's layout)). ``call(module, *inputs)`` calls a module (default: module(*inputs)) and
    returns the output to compare. The parameters are copied to torch first."""
    call = call or (lambda module, *args: module(*args))
    copy_parameters(theirs, pairs)
    theirs.zero_grad()
    rng = numpy.random.default_rng(seed)
    ours_inputs = [Tensor(x, requires_grad=True) if _is_float(x) else x for x in inputs]
    out = call(ours, *ours_inputs)
    weights = rng.standard_normal(out.shape)
    for p in ours.parameters():
        p.grad = None
    (out * weights).sum().backward()
    torch_inputs = [torch.tensor(x, requires_grad=True) if _is_float(x) else _as_torch(x) for x in inputs]
    reference = call(theirs, *torch_inputs)
    (reference * torch.tensor(weights)).sum().backward()
    numpy.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=rtol, atol=atol, err_msg="output")
    for k, (a, b) in enumerate(zip(ours_inputs, torch_inputs)):
        if isinstance(a, Tensor):
            numpy.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {k}")
    for name, (parameter, transform) in pairs.items():
        numpy.testing.assert_allclose(transform(parameter.grad), theirs.get_parameter(name).grad.numpy(), rtol=rtol,
                                      atol=atol, err_msg=f"gradient of {name}")
    return out


def _is_float(x):
    return isinstance(x, numpy.ndarray) and x.dtype.kind == "f"


def _as_torch(x):
    return torch.as_tensor(x) if isinstance(x, numpy.ndarray) else x


def same(v):
    return v

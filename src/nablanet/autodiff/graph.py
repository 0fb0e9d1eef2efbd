"""Reverse mode: order the recorded graph, walk it backwards, accumulate gradients."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops, state
from nablanet.autodiff.tensor import Tensor


def topological_order(root: Tensor, stop: frozenset = frozenset()) -> list[Tensor]:
    """Tensors that ``root`` depends on through recorded ops, inputs before the results made from them.

    Only tensors that require gradients are visited; the walk does not go past tensors in ``stop``
    (the inputs a gradient is wanted for) nor past leaves. Iterative, so deep graphs (long RNN
    unrolls) do not hit Python's recursion limit.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._op is None or id(node) in stop:
            continue
        for parent in node._inputs:
            if isinstance(parent, Tensor) and parent._requires_grad and id(parent) not in visited:
                stack.append((parent, False))
    return order


def _depends_on(order: list[Tensor], targets: frozenset) -> set:
    """ids of the tensors in ``order`` through which a gradient can reach one of ``targets``."""
    reaching = set()
    for node in order:
        if id(node) in targets:
            reaching.add(id(node))
        elif node._op is not None:
            for parent in node._inputs:
                if isinstance(parent, Tensor) and id(parent) in reaching:
                    reaching.add(id(node))
                    break
    return reaching


def sum_to_shape(grad, shape: tuple):
    """Sum a gradient computed in a broadcast shape back to an input's ``shape``.

    This is the one place where broadcasting is undone: a rule may return gradients in the broadcast
    shape of its output and never calls this itself.
    """
    grad_shape = np.shape(grad)
    if grad_shape == tuple(shape):
        return grad
    extra = len(grad_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad_shape[extra + i] != 1
    )
    return ops.reshape(ops.sum(grad, axis=axes), shape)


def run_backward(
    root: Tensor,
    seed,
    targets: list[Tensor] | None = None,
    create_graph: bool = False,
    box: bool = False,
) -> dict:
    """Propagate ``seed`` = dC/d(root) backwards through the recorded graph.

    Args:
        root: the output tensor.
        seed: the upstream gradient, of root's shape.
        targets: the tensors whose gradients are wanted. ``None`` means every leaf that requires a
            gradient (what ``Tensor.backward`` does).
        create_graph: evaluate the VJP rules on Tensors so that they are themselves recorded and the
            gradients can be differentiated again.
        box: evaluate the rules on (unrecorded) Tensors even when no graph is wanted, so that their
            operations pass through the engine and are counted by ``count_ops``.

    Returns:
        dict mapping id(tensor) -> (tensor, gradient), for the targets (or the leaves) reached.
    """
    target_ids = frozenset(id(t) for t in targets) if targets is not None else frozenset()
    order = topological_order(root, target_ids)
    if targets is not None:
        reaching = _depends_on(order, target_ids)
    else:
        reaching = None
    wrap = create_graph or box
    grads = {id(root): seed}
    results = {}
    for node in reversed(order):
        grad_out = grads.pop(id(node), None)
        if grad_out is None:
            continue
        if node._op is None or id(node) in target_ids:
            results[id(node)] = (node, grad_out)
            continue
        op = node._op
        inputs = node._inputs
        needs = tuple(
            isinstance(a, Tensor) and a._requires_grad and (reaching is None or id(a) in reaching)
            for a in inputs
        )
        if not any(needs):
            continue
        if create_graph:
            out, args = node, inputs
        elif box:
            out = Tensor(node._data)
            args = [Tensor(a._data) if isinstance(a, Tensor) else a for a in inputs]
            if not isinstance(grad_out, Tensor):
                grad_out = Tensor(grad_out)
        else:
            out = node._data
            args = [a._data if isinstance(a, Tensor) else a for a in inputs]
        if op._vjp_takes_needs:
            input_grads = op.vjp(grad_out, out, *args, needs=needs, **node._settings)
        else:
            input_grads = op.vjp(grad_out, out, *args, **node._settings)
        for parent, need, grad in zip(inputs, needs, input_grads):
            if not need or grad is None:
                continue
            grad = sum_to_shape(grad, parent.shape)
            if grad.dtype != parent.dtype:
                # A float32 input mixed with float64 constants still gets a float32 gradient (as in PyTorch).
                grad = ops.astype(grad, parent.dtype)
            previous = grads.get(id(parent))
            if previous is None:
                grads[id(parent)] = grad
            else:
                if state.counter is not None and not wrap:
                    state.counter.record_accumulate(grad)
                grads[id(parent)] = previous + grad
    return results


def backward(root: Tensor, grad=None, create_graph: bool = False) -> None:
    """``Tensor.backward``: accumulate gradients into the ``.grad`` of every leaf that requires one."""
    if not root._requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not depend on any tensor with requires_grad=True, "
            "so there is nothing to differentiate"
        )
    if grad is None:
        if root.size != 1:
            raise RuntimeError(
                f"backward() on a non-scalar tensor of shape {root.shape} needs an upstream gradient: "
                "pass grad= of that shape, or reduce the output first (e.g. .sum())"
            )
        grad = np.ones_like(root._data)
    else:
        grad = grad._data if isinstance(grad, Tensor) and not create_graph else grad
        if np.shape(grad) != root.shape:
            raise ValueError(f"backward(): grad has shape {np.shape(grad)} but the tensor has shape {root.shape}")
    if create_graph and not isinstance(grad, Tensor):
        grad = Tensor(grad)
    results = run_backward(root, grad, None, create_graph=create_graph)
    for leaf, g in results.values():
        if not create_graph and isinstance(g, Tensor):
            g = g._data
        if isinstance(g, np.ndarray) and g.dtype != leaf.dtype:
            g = g.astype(leaf.dtype)
        leaf.grad = g if leaf.grad is None else leaf.grad + g

"""Reverse mode: order the recorded graph, walk it backwards, accumulate gradients."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import batching, ops, state
from nablanet.autodiff.jit import tracing
from nablanet.autodiff.tensor import Tensor


def collect(root: Tensor, stop: frozenset = frozenset()) -> tuple[list[Tensor], list[Tensor]]:
    """The recorded graph below ``root``: (op results, in reverse creation order; leaves reached).

    Only tensors that require gradients are followed; the walk stops at leaves and at tensors in
    ``stop`` (the inputs a gradient is wanted for), which are returned with the leaves. Iterative, so
    deep graphs (long RNN unrolls) do not hit Python's recursion limit. Results are ordered by their
    creation number, newest first: every consumer of a value then comes before the value itself.
    """
    nodes = []
    leaves = []
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._op is None or id(node) in stop:
            leaves.append(node)
            continue
        nodes.append(node)
        for parent, need in zip(node._inputs, node._needs):
            if need and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    nodes.sort(key=_creation_number, reverse=True)
    return nodes, leaves


def _creation_number(node: Tensor) -> int:
    return node._seq


def _reaching(nodes: list[Tensor], targets: frozenset) -> set:
    """ids of the tensors through which a gradient can reach one of ``targets``."""
    reaching = set(targets)
    for node in reversed(nodes):
        for parent in node._inputs:
            if id(parent) in reaching:
                reaching.add(id(node))
                break
    return reaching


def sum_to_shape(grad, shape: tuple, op_name: str = "an op"):
    """Sum a gradient computed in a broadcast shape back to an input's ``shape``.

    This is the one place where broadcasting is undone: a rule may return gradients in the broadcast
    shape of its output and never calls this itself. A gradient whose shape does not broadcast to the
    input's is a wrong rule, and is refused rather than reshaped until it fits.
    """
    grad_shape = np.shape(grad)
    if grad_shape == tuple(shape):
        return grad
    extra = len(grad_shape) - len(shape)
    if extra < 0 or any(g != n and n != 1 for g, n in zip(grad_shape[extra:], shape)):
        raise ValueError(f"{op_name}: its reverse rule returned a gradient of shape {grad_shape} for an input of "
                         f"shape {tuple(shape)}, which is not a broadcast of it")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad_shape[extra + i] != 1
    )
    return ops.reshape(ops.sum(grad, axis=axes), shape)


def cast_gradient(grad, dtype):
    """A gradient in its input's dtype: float32 stays float32 beside float64 constants (as in PyTorch),
    and a real input of a complex computation gets the real part of its cotangent (JAX's convention:
    the imaginary part pairs with a direction the input cannot move in)."""
    if np.iscomplexobj(grad) and not np.issubdtype(dtype, np.complexfloating):
        grad = ops.real(grad)
        if grad.dtype == dtype:
            return grad
    return ops.astype(grad, dtype)


def run_backward(
    root: Tensor,
    seed,
    targets: list[Tensor] | None = None,
    create_graph: bool = False,
    box: bool = False,
    connect_outer: bool = False,
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
        connect_outer: record the pass (as create_graph) when the graph reaches leaves that require
            gradients other than the targets (Tensors a transformed function closes over), so the
            gradients keep their dependence on them. Then ``connected`` in the result says whether it did.

    Returns:
        dict mapping id(tensor) -> (tensor, gradient), for the targets (or the leaves) reached; with
        ``connect_outer``, the pair (that dict, connected).
    """
    target_ids = frozenset(id(t) for t in targets) if targets is not None else frozenset()
    nodes, leaves = collect(root, target_ids)
    # Filtering is needed only when other leaves (say, parameters the function closes over) are reached.
    needs_filter = targets is not None and any(id(leaf) not in target_ids for leaf in leaves)
    if connect_outer:
        connected = needs_filter and any(id(leaf) not in target_ids and leaf._requires_grad for leaf in leaves)
        if connected and not create_graph:
            create_graph = True
            if not isinstance(seed, Tensor):
                seed = Tensor(seed)
        return _propagate(root, seed, nodes, leaves, target_ids, needs_filter, create_graph, box), connected
    return _propagate(root, seed, nodes, leaves, target_ids, needs_filter, create_graph, box)


def _propagate(root, seed, nodes, leaves, target_ids, needs_filter, create_graph, box) -> dict:
    """The reverse pass proper over the collected graph (see run_backward)."""
    reaching = _reaching(nodes, target_ids) if needs_filter else None
    wrap = create_graph or box
    tracer = state.tracer
    if tracer is not None:
        # nablanet.jit names what the reverse pass computes apart (printing, count_ops).
        saved_phase, tracer.phase = tracer.phase, "reverse"
        try:
            return _propagate_nodes(root, seed, nodes, leaves, target_ids, reaching, create_graph, box)
        finally:
            tracer.phase = saved_phase
    return _propagate_nodes(root, seed, nodes, leaves, target_ids, reaching, create_graph, box)


def _propagate_nodes(root, seed, nodes, leaves, target_ids, reaching, create_graph, box) -> dict:
    wrap = create_graph or box
    grads = {id(root): seed}
    for node in nodes:
        grad_out = grads.pop(id(node), None)
        if grad_out is None:
            continue
        op = node._op
        inputs = node._inputs
        needs = node._needs
        if reaching is not None:
            needs = [need and id(a) in reaching for need, a in zip(needs, inputs)]
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
            out, args = node._data, node._raw
        if state.batch_depth:
            input_grads = batching.call_rule(op.vjp, (grad_out, out, *args), {**node._settings, "needs": needs})
        elif state.tracer is not None and not wrap:
            # nablanet.jit: the rule on arrays is one equation of the program, replayed by calling it
            # again, so the kernels it runs on its own buffers are repeated as they are.
            input_grads = state.tracer.rule(op, (grad_out, out, *args), {**node._settings, "needs": needs})
        else:
            input_grads = op.vjp(grad_out, out, *args, needs=needs, **node._settings)
        for parent, need, grad in zip(inputs, needs, input_grads):
            if not need or grad is None:
                continue
            expected = parent._data
            if grad.shape != expected.shape:
                grad = sum_to_shape(grad, expected.shape, op.name)
            if grad.dtype != expected.dtype:
                grad = cast_gradient(grad, expected.dtype)
            key = id(parent)
            previous = grads.get(key)
            if previous is None:
                grads[key] = grad
            else:
                if state.counter is not None and not wrap:
                    state.counter.record_accumulate(grad)
                grads[key] = previous + grad
    return {id(leaf): (leaf, grads[id(leaf)]) for leaf in leaves if id(leaf) in grads}


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
            g = cast_gradient(g, leaf.dtype)
        # Through the hook, a compiled step sets (or accumulates into) .grad at each replay too.
        # Its result is a value of the program, so that a later step reading .grad reads this one.
        leaf._grad = tracing.call(_accumulate_grad, leaf, g)


def _accumulate_grad(leaf, g):
    leaf.grad = g if leaf.grad is None else leaf.grad + g
    return leaf.grad

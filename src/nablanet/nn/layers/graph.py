"""The functional model API: Graph, a network as a DAG of named layers with several inputs and outputs, and the
layers that join branches (Add, Concatenate), as Keras' functional models are built."""

from __future__ import annotations

import numpy as np

from nablanet.autodiff import ops
from nablanet.checks import check_int
from nablanet.nn.layers.registry import register_layer
from nablanet.nn.module import Module

__all__ = ["Graph", "Add", "Concatenate"]


def _shape(x):
    return tuple(np.shape(x.data if hasattr(x, "_data") else x))


@register_layer("add")
class Add(Module):
    """The sum of its inputs, all of one shape: y = x_1 + ... + x_k (a Graph's join of residual branches).

    Example:
        >>> Add()(np.ones(2), np.ones(2)).tolist()
        [2.0, 2.0]
    """

    def forward(self, *inputs):
        if not inputs:
            raise ValueError("Add: needs at least one input")
        shapes = [_shape(x) for x in inputs]
        if len(set(shapes)) > 1:
            raise ValueError(f"Add: the inputs must have one shape, got {shapes}")
        total = inputs[0]
        for x in inputs[1:]:
            total = total + x
        return total


@register_layer("concatenate")
class Concatenate(Module):
    """Its inputs joined along ``axis`` (default the last: the features of (N, ..., features)).

    Example:
        >>> Concatenate()(np.ones((2, 1)), np.zeros((2, 3))).shape
        (2, 4)
    """

    def __init__(self, axis: int = -1):
        self.axis = check_int("Concatenate", "axis", axis, minimum=None)

    def forward(self, *inputs):
        if not inputs:
            raise ValueError("Concatenate: needs at least one input")
        return ops.concatenate(list(inputs), axis=self.axis)


def _names(owner, what, names) -> list:
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{owner}: {what} must be a name or a list of names, got {names!r}")
    return list(names)


def _outputs(owner, outputs):
    """The outputs as given: one name, a list of names (a tuple out), or a dict of names (a dict out)."""
    if isinstance(outputs, dict):
        if not all(isinstance(key, str) and isinstance(name, str) for key, name in outputs.items()):
            raise TypeError(f"{owner}: a dict of outputs maps output names to node names, got {outputs!r}")
        return list(outputs.values())
    return _names(owner, "outputs", outputs)


@register_layer("graph")
class Graph(Module):
    """A network as a directed acyclic graph of named layers: several inputs, several outputs, branches that
    split and join (skip connections, two-tower models, multi-task heads), as Keras' functional models::

        Graph(inputs=["image", "meta"],
              nodes={"a": (Dense(4, 8, activation="tanh"), "image"),
                     "b": (Dense(2, 8, activation="tanh"), "meta"),
                     "joined": (Concatenate(), ["a", "b"]),
                     "value": (Dense(16, 1), "joined"),
                     "classes": (Dense(16, 3), "joined")},
              outputs={"value": "value", "classes": "classes"})

    Each node is a layer and the names it is applied to, inputs or other nodes, in that order
    (``layer(*their values)``). The graph runs each node once, in an order where every node follows the
    nodes it reads (in any order given; a cycle or an unknown name is refused when it is built), so a
    value that several nodes read is computed once and its gradient is the sum of theirs. The model's
    forward takes the inputs positionally or by name (so fit's tuples and dicts of inputs reach it), and
    returns one array (outputs a name), a tuple (a list of names) or a dict (a dict of names), which
    fit's several outputs take. Saved and rebuilt as any layer (its config holds its nodes' configs).

    Args:
        inputs: the names of the inputs, in the order forward takes them positionally.
        nodes: node name -> (layer, name or list of names it reads).
        outputs: a node's or input's name, a list of them, or a dict (output name -> node name).

    Attributes:
        nodes: node name -> layer (their parameters are named ``nodes.<name>.<parameter>``).

    Example:
        >>> from nablanet.nn import Dense
        >>> model = Graph(["x"], {"h": (Dense(3, 3, activation="tanh", rng=0), "x"), "y": (Add(), ["x", "h"])}, "y")
        >>> model(np.ones((2, 3), dtype=np.float32)).shape
        (2, 3)
    """

    def __init__(self, inputs, nodes, outputs):
        owner = "Graph"
        self.inputs = _names(owner, "inputs", inputs)
        if len(set(self.inputs)) != len(self.inputs) or not self.inputs:
            raise ValueError(f"{owner}: inputs must be one or more distinct names, got {self.inputs}")
        if not isinstance(nodes, dict):
            raise TypeError(f"{owner}: nodes must be a dict of name -> (layer, input names), got a "
                            f"{type(nodes).__name__}")
        self.nodes, self._reads = {}, {}
        for name, node in nodes.items():
            if name in self.inputs:
                raise ValueError(f"{owner}: the node {name!r} has the name of an input")
            if not isinstance(node, (tuple, list)) or len(node) != 2 or not isinstance(node[0], Module):
                raise TypeError(f"{owner}: node {name!r} must be (layer, input names), got {node!r}")
            self.nodes[name] = node[0]
            self._reads[name] = _names(owner, f"the inputs of node {name!r}", node[1])
        self.outputs = outputs
        self._order = self._topological_order(_outputs(owner, outputs))
        # The recorded arguments in the form JSON gives back (lists, not tuples), so that a graph rebuilt from
        # its config prints and saves as the original.
        self._arguments.update(inputs=list(self.inputs), nodes={
            name: [self.nodes[name], node[1] if isinstance(node[1], str) else list(node[1])]
            for name, node in nodes.items()})

    @classmethod
    def state_spec(cls, inputs, nodes, outputs):
        for name, (layer, _) in nodes.items():
            for key, spec in layer:
                yield f"nodes.{name}.{key}", spec

    def _topological_order(self, outputs) -> list:
        known = set(self.inputs) | set(self.nodes)
        for name, reads in self._reads.items():
            for read in reads:
                if read not in known:
                    raise ValueError(f"Graph: node {name!r} reads {read!r}, which is neither an input nor a node; "
                                     f"the inputs are {self.inputs}, the nodes {list(self.nodes)}")
        for name in outputs:
            if name not in known:
                raise ValueError(f"Graph: the output {name!r} is neither an input nor a node")
        order, state = [], {}  # state: 1 while a node's inputs are being visited, 2 once it is placed

        def visit(name, path):
            if name in self.inputs or state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = path[path.index(name):] + [name]
                raise ValueError(f"Graph: the nodes form a cycle, {' -> '.join(cycle)}; a graph must be acyclic")
            state[name] = 1
            for read in self._reads[name]:
                visit(read, path + [name])
            state[name] = 2
            order.append(name)

        for name in self.nodes:
            visit(name, [])
        return order

    def forward(self, *args, **kwargs):
        if len(args) > len(self.inputs):
            raise TypeError(f"Graph: takes {len(self.inputs)} inputs ({', '.join(self.inputs)}), got {len(args)}")
        values = dict(zip(self.inputs, args))
        for name, value in kwargs.items():
            if name not in self.inputs:
                raise TypeError(f"Graph: no input named {name!r}; the inputs are {self.inputs}")
            if name in values:
                raise TypeError(f"Graph: the input {name!r} is given twice")
            values[name] = value
        missing = [name for name in self.inputs if name not in values]
        if missing:
            raise TypeError(f"Graph: missing inputs {missing}")
        for name in self._order:
            values[name] = self.nodes[name](*(values[read] for read in self._reads[name]))
        if isinstance(self.outputs, dict):
            return {key: values[name] for key, name in self.outputs.items()}
        if isinstance(self.outputs, str):
            return values[self.outputs]
        return tuple(values[name] for name in self.outputs)

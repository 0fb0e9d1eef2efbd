"""Containers of arrays (pytrees): tuples, lists, dicts and namedtuples, nested, flattened to leaves and back.

The transforms take and return any nesting of these, as JAX's do, so a network's parameters can be
handed to ``grad`` as a dict and come back as a dict of gradients of the same shape. Everything that
is not a container is a leaf (an array, a Tensor, a number). ``None`` is an empty container, as in
JAX: it has no leaves and comes back as ``None``. Dict keys are visited in sorted order (JAX's rule),
so two dicts with the same keys flatten alike whatever order they were built in.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["tree_flatten", "tree_unflatten", "tree_map", "tree_leaves", "tree_structure", "TreeDef"]


@dataclass(frozen=True)
class TreeDef:
    """The structure of a pytree without its leaves: a kind, its keys (for dicts) and its children."""

    kind: str  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
    children: tuple = ()
    keys: tuple = ()
    node_type: type | None = None

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(child.num_leaves for child in self.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(repr(c) for c in self.children)
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.keys, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return f"[{inner}]"
        if self.kind == "namedtuple":
            return f"{self.node_type.__name__}({inner})"
        return f"({inner}{',' if len(self.children) == 1 else ''})"


LEAF = TreeDef("leaf")


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree) -> tuple[list, TreeDef]:
    """(leaves in order, the structure), so that ``tree_unflatten(structure, leaves) == tree``.

    Example:
        >>> leaves, structure = tree_flatten({"W": 1.0, "b": (2.0, 3.0)})
        >>> leaves, structure
        ([1.0, 2.0, 3.0], {'W': *, 'b': (*, *)})
    """
    if not isinstance(tree, (tuple, list, dict)) and tree is not None:
        return [tree], LEAF  # the common case, one array: no walk
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves: list) -> TreeDef:
    if tree is None:
        return TreeDef("none")
    if _is_namedtuple(tree):
        return TreeDef("namedtuple", tuple(_flatten(c, leaves) for c in tree), node_type=type(tree))
    if isinstance(tree, tuple):
        return TreeDef("tuple", tuple(_flatten(c, leaves) for c in tree))
    if isinstance(tree, list):
        return TreeDef("list", tuple(_flatten(c, leaves) for c in tree))
    if isinstance(tree, dict):
        try:
            keys = tuple(sorted(tree))
        except TypeError:
            raise TypeError(f"a dict in a pytree needs sortable keys, got {list(tree)!r}") from None
        return TreeDef("dict", tuple(_flatten(tree[k], leaves) for k in keys), keys=keys, node_type=type(tree))
    leaves.append(tree)
    return LEAF


def tree_unflatten(structure: TreeDef, leaves) -> object:
    """The pytree of ``structure`` with ``leaves`` in place of its leaves (the inverse of tree_flatten)."""
    if structure is LEAF and len(leaves) == 1:
        return leaves[0]
    leaves = list(leaves)
    if len(leaves) != structure.num_leaves:
        raise ValueError(f"tree_unflatten: the structure {structure!r} has {structure.num_leaves} leaves, "
                         f"got {len(leaves)}")
    iterator = iter(leaves)
    return _unflatten(structure, iterator)


def _unflatten(structure: TreeDef, leaves):
    kind = structure.kind
    if kind == "leaf":
        return next(leaves)
    if kind == "none":
        return None
    children = [_unflatten(c, leaves) for c in structure.children]
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "namedtuple":
        return structure.node_type(*children)
    node_type = structure.node_type or dict
    return node_type(zip(structure.keys, children))


def tree_leaves(tree) -> list:
    """The leaves of a pytree, in order."""
    return tree_flatten(tree)[0]


def tree_structure(tree) -> TreeDef:
    """The structure of a pytree."""
    return tree_flatten(tree)[1]


def tree_map(f, tree, *rest):
    """f applied leaf by leaf, over one pytree or several of the same structure.

    Example:
        >>> tree_map(lambda a, b: a + b, {"x": 1.0, "y": [2.0]}, {"x": 10.0, "y": [20.0]})
        {'x': 11.0, 'y': [22.0]}
    """
    leaves, structure = tree_flatten(tree)
    others = []
    for other in rest:
        other_leaves, other_structure = tree_flatten(other)
        if other_structure != structure:
            raise ValueError(f"tree_map: structures differ: {structure!r} and {other_structure!r}")
        others.append(other_leaves)
    return tree_unflatten(structure, [f(*args) for args in zip(leaves, *others)])

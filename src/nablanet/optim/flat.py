"""An optimizer's parameters grouped by dtype, each group's gradients, steps and state in flat arrays.

``Optimizer.step`` runs its rule once per group on these arrays instead of once per parameter
(``nablanet.kernels.optimizers`` says why that is faster). The parameters' own arrays are not in
them: ``p.data`` stays the array it was, read and written in place, so references to it that
users and other code hold stay live. The state is: after the first step, ``optimizer.state.m[i]``
is a view of the group's flat array of m, the same array at every step. A state whose arrays are
not those views any more (``load_state_dict``, an assigned ``optimizer.state``), or a parameter
whose array changed shape or dtype, makes the optimizer build its groups again from them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nablanet.kernels.optimizers import FlatLayout

__all__ = ["FlatGroup", "FlatGroups"]


class FlatGroup:
    """The parameters of one dtype: their indices, and flat arrays for the gradient, the step and the state.

    Attributes:
        indices: the parameters' positions in the optimizer's list.
        grad, step, mask: flat arrays (the gradients gathered each step, the step d_t, a bool scratch).
        grad_views, step_views: each parameter's part of ``grad`` and ``step``.
        buffers: one flat array per state buffer, in the order of the optimizer's buffer names.
        buffer_views: for each of them, each parameter's part (what the optimizer's state holds).
    """

    def __init__(self, indices, thetas, state, names):
        self.indices = list(indices)
        self.layout = FlatLayout([thetas[i].shape for i in self.indices], thetas[self.indices[0]].dtype)
        self.grad, self.step = self.layout.empty(), self.layout.empty()
        self.grad_views, self.step_views = self.layout.views(self.grad), self.layout.views(self.step)
        self.mask = np.empty(self.layout.size, dtype=bool)
        self.buffers, self.buffer_views = [], []
        for name in names:
            flat, views = self.layout.gather([getattr(state, name)[i] for i in self.indices])
            self.buffers.append(flat)
            self.buffer_views.append(views)


class FlatGroups:
    """All of an optimizer's groups (one per dtype, in order of first appearance); iterates over them."""

    def __init__(self, thetas, state, names):
        self.names = tuple(names)
        self.count = len(thetas)
        by_dtype = {}
        for i, theta in enumerate(thetas):
            by_dtype.setdefault(theta.dtype, []).append(i)
        self.groups = [FlatGroup(indices, thetas, state, self.names) for indices in by_dtype.values()]
        # The gradient views in the parameters' order, for the global norm of clip_norm.
        self._grad_views = [None] * self.count
        for group in self.groups:
            for i, view in zip(group.indices, group.grad_views):
                self._grad_views[i] = view

    def __iter__(self):
        return iter(self.groups)

    def adopt(self, state):
        """``state`` with the groups' views in place of its arrays (the values are the same)."""
        fields = {}
        for n, name in enumerate(self.names):
            arrays = list(getattr(state, name))
            for group in self.groups:
                for i, view in zip(group.indices, group.buffer_views[n]):
                    arrays[i] = view
            fields[name] = tuple(arrays)
        return dataclasses.replace(state, **fields)

    def fits(self, thetas, state, names) -> bool:
        """Whether these groups still hold this state and fit these parameters' shapes and dtypes."""
        if tuple(names) != self.names or len(thetas) != self.count:
            return False
        for group in self.groups:
            dtype, shapes = group.layout.dtype, group.layout.shapes
            for i, shape in zip(group.indices, shapes):
                if thetas[i].shape != shape or thetas[i].dtype != dtype:
                    return False
            for name, views in zip(self.names, group.buffer_views):
                arrays = getattr(state, name)
                if any(arrays[i] is not view for i, view in zip(group.indices, views)):
                    return False
        return True

    def gather(self, grads, clip_value=None) -> None:
        """Copy each parameter's gradient into its group's flat array, clipped to [-clip_value, clip_value] if set."""
        for group in self.groups:
            for i, view in zip(group.indices, group.grad_views):
                if clip_value is None:
                    np.copyto(view, grads[i])
                else:
                    np.clip(grads[i], -clip_value, clip_value, out=view)

    def gradients_in_order(self) -> list:
        return self._grad_views

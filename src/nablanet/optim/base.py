"""The optimizer contract (init_state / pure update) and the stateful step() built on it.

An optimizer is a rule theta_t = decay theta_{t-1} - d_t, with the step d_t a function of the
gradients g_1..g_t (decay is 1 but for AdamW). Each subclass writes that rule once, as a function of
NumPy arrays that takes its output buffers (``out=``, in ``nablanet.kernels.optimizers``):

* ``update(grads, state, params)`` calls it with freshly allocated outputs and mutates nothing
  (functional use, as optax);
* ``step()`` calls the same rule with the state's and the parameters' own arrays as outputs, so a
  training step allocates nothing (after the first, which creates the flat arrays below). Over
  the real floating parameters, all with a gradient, it runs the rule once per dtype on flat
  arrays (``nablanet.optim.flat``): the state's arrays are then views of one flat array per
  buffer, and each step gathers the gradients into one; ``p.data`` is never replaced.

Scalars are combined in Python floats before the array passes (e.g. Adam's bias corrections), and
Python floats never upcast arrays (NumPy 2, NEP 50): float32 parameters keep float32 state and updates.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nablanet.autodiff.jit import tracing
from nablanet.kernels import optimizers as optimizer_kernels
from nablanet.optim import clip as _clip
from nablanet.optim import schedules as _schedules
from nablanet.optim.flat import FlatGroups
# flush_denormals lives with the other process-wide switches; this import path is the one it had.
from nablanet.runtime import flush_denormals

__all__ = ["Optimizer", "flush_denormals"]


# --- validation helpers (plain messages: what was expected, what was got) --------------------------
def check_positive(name: str, value) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def check_nonnegative(name: str, value) -> float:
    value = float(value)
    if not value >= 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_unit_interval(name: str, value) -> float:
    """A decay rate in [0, 1): momentum, beta1, beta2, alpha."""
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _check_lr(lr):
    if callable(lr):
        return lr
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"lr must be a float or a schedule (a callable of the step count), got {type(lr).__name__}")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return float(lr)


def _as_param_list(params) -> list:
    from nablanet.autodiff.tensor import Tensor

    if isinstance(params, (Tensor, np.ndarray)):
        raise TypeError("params must be an iterable of Parameters (e.g. model.parameters()), got a single array")
    params = list(params)
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{i}] must be a Parameter (a Tensor with requires_grad=True), "
                            f"got {type(p).__name__}")
        if id(p) in seen:
            raise ValueError(f"params[{i}] appears more than once in the parameter list")
        seen.add(id(p))
    return params


class Optimizer:
    """Base class: hyperparameters, the learning rate (float or schedule), clipping, and step().

    Subclasses define:

    * ``State``: a frozen dataclass whose last field is ``t`` (updates done so far) and whose other
      fields are tuples of arrays, one per parameter, or None when an option does not need them;
    * ``_buffer_names()``: the state fields in use with the current hyperparameters;
    * ``_scalars(t, lr)``: the Python-float coefficients of update number t + 1;
    * ``_direction(g, buffers, out_buffers, out_step, scalars)``: calls the rule, which writes the
      new state into ``out_buffers`` and the step d_t into ``out_step``; ``step()`` runs it on a
      whole group's flat arrays at once (elementwise rules only). Or, instead,
      ``_apply(g, theta, buffers, out_buffers, out_theta, scratch, scalars)``: the whole update of
      one parameter, writing theta_t into ``out_theta`` (any rule; run parameter by parameter);
    * ``_decay(lr)``: the factor of theta_{t-1} (default 1; AdamW's 1 - eta_t wd).

    Subnormal numbers: every ``FLUSH_EVERY`` (16) updates, the entries of the state below the
    smallest normal number of their dtype (1.2e-38 in float32, 2.2e-308 in float64) are set to 0
    (``kernels.optimizers.flush_subnormals``). Arithmetic on them is slow on x86 CPUs, and the
    state of a parameter whose gradient stays 0 decays into them and stays there; as 0 they change
    no update by more than 1e-38 relative to eps. Nothing of the process changes (the CPU's FTZ/DAZ
    bits are ``runtime.flush_denormals``'s, asked for separately), and the parameters are left alone.

    Args:
        params: iterable of Parameters (or None for purely functional use of ``init_state``/``update``).
        lr: learning rate eta, a positive float or a callable ``t -> float`` (see ``optim.schedules``).
        clip_value: if set, gradients are clipped to [-clip_value, clip_value] before the update.
        clip_norm: if set, gradients are rescaled so that their global norm is at most ``clip_norm``
            before the update (after ``clip_value`` if both are set), with PyTorch's
            ``clip_grad_norm_`` rule. Neither option modifies ``p.grad``.
        **hyper: the subclass's hyperparameters (validated by the subclass).
    """

    State: type = None

    def __init__(self, params=None, *, lr, clip_value=None, clip_norm=None, **hyper):
        self.lr = _check_lr(lr)
        self.clip_value = None if clip_value is None else check_positive("clip_value", clip_value)
        self.clip_norm = None if clip_norm is None else check_positive("clip_norm", clip_norm)
        self._hyper_names = tuple(hyper)
        for name, value in hyper.items():
            setattr(self, name, value)
        self.params = None if params is None else _as_param_list(params)
        self.state = None if self.params is None else self.init_state([p.data for p in self.params])
        self._scratch = {}
        self._flat = None

    # --- to be provided by subclasses ------------------------------------------------------------
    # The defaults that raise are the contract itself: a new optimizer that forgets one is told which.
    def _buffer_names(self) -> tuple[str, ...]:
        return ()

    def _initial_value(self, name: str) -> float:
        return 0.0

    def _scalars(self, t: int, lr: float) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define _scalars (its update rule's step-dependent scalars)")

    def _direction(self, g, buffers, out_buffers, out_step, scalars) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _direction or _apply (its update rule)")

    # A subclass that defines _apply runs it instead of _direction (see _rule_by_direction).
    _apply = None

    def _rule_by_direction(self) -> bool:
        """Whether the rule is ``_direction`` (then descend), not a subclass's own ``_apply``."""
        return type(self)._apply is None

    def _decay(self, lr: float) -> float:
        return 1.0

    @property
    def _l2_weight_decay(self) -> float:
        """The L2 term's factor in the gradient, g <- g + weight_decay theta = g + 2 lambda theta (0: none, AdamW)."""
        return float(getattr(self, "weight_decay", 0.0))

    # --- the contract ----------------------------------------------------------------------------
    def init_state(self, params):
        """The state before the first update: zero (or ``initial_accumulator_value``) buffers, t = 0."""
        params = [_as_array(p) for p in params]
        buffers = {
            name: tuple(np.full_like(theta, _each_part(self._initial_value(name), theta)) for theta in params)
            for name in self._buffer_names()
        }
        return self._make_state(buffers, 0)

    def update(self, grads, state, params):
        """(new_params, new_state) after one update; mutates nothing (not even the gradients).

        ``grads[i]`` may be None: then ``params[i]`` and its state are returned unchanged.
        """
        grads, params = list(grads), [_as_array(theta) for theta in params]
        if len(grads) != len(params):
            raise ValueError(f"update: got {len(grads)} gradients for {len(params)} parameters")
        names = self._buffer_names()
        self._check_state(state, params, names)
        old = [[getattr(state, name)[i] for name in names] for i in range(len(params))]
        new_params, new_buffers = list(params), [list(buffers) for buffers in old]
        active = [i for i, g in enumerate(grads) if g is not None]
        for i in active:
            new_params[i] = np.empty_like(params[i])
            new_buffers[i] = [np.empty_like(buffer) for buffer in old[i]]
        self._update_arrays(
            state.t,
            grads=[self._checked_grad(grads[i], params[i], i) for i in active],
            thetas=[params[i] for i in active],
            buffers=[old[i] for i in active],
            out_buffers=[new_buffers[i] for i in active],
            out_thetas=[new_params[i] for i in active],
            scratches=[np.empty_like(params[i]) for i in active],
            grad_buffers=[np.empty_like(params[i]) if self._needs_grad_buffer() else None for i in active],
        )
        fields = {name: tuple(new_buffers[i][n] for i in range(len(params))) for n, name in enumerate(names)}
        return new_params, self._make_state(fields, state.t + 1)

    def step(self) -> None:
        """One update of the parameters in place from their ``.grad`` (params with no grad are skipped).

        ``p.data`` and the arrays of ``self.state`` are overwritten in place (``self.state`` is then
        replaced only to advance t); keep a snapshot with ``state_dict()``, which copies.

        Notes:
            The step count t is shared by all parameters: a parameter whose grad is None at some step
            still sees t advance (PyTorch keeps a count per parameter; the two agree whenever every
            parameter gets a gradient at every step, the usual case).
        """
        if self.params is None:
            name = type(self).__name__
            raise RuntimeError(f"{name}.step() needs the parameters: build it as {name}(model.parameters(), ...) "
                               "or use init_state()/update() for functional use")
        if tracing.active():
            # nablanet.jit: the update is one opaque call of the gradients, replayed each step (its
            # scalars change with t); it runs this method again, outside the trace.
            tracing.call(_step_with_grads, self, *[p.grad for p in self.params])
            return
        state = self.state
        names = self._buffer_names()
        active = [(i, p) for i, p in enumerate(self.params) if p.grad is not None]
        thetas = [p.data for _, p in active]
        if names and len(active) == len(self.params) and self._rule_by_direction():
            groups = self._flat_groups(thetas, names)
            if groups is not None:
                grads = [self._checked_grad(p.grad, theta, i) for (i, p), theta in zip(active, thetas)]
                self._step_flat(groups, grads, thetas)
                self.state = dataclasses.replace(self.state, t=state.t + 1)
                return
        buffers = []
        for (i, _), theta in zip(active, thetas):
            own = [getattr(state, name)[i] for name in names]
            for name, buffer in zip(names, own):
                if buffer.shape != theta.shape:
                    raise ValueError(f"{name}[{i}] has shape {buffer.shape} but the parameter has shape "
                                     f"{theta.shape}")
            buffers.append(own)
        kept = [self._scratch_for(i, theta) for (i, _), theta in zip(active, thetas)]
        self._update_arrays(
            state.t,
            grads=[self._checked_grad(p.grad, p.data, i) for i, p in active],
            thetas=thetas,
            buffers=buffers,
            out_buffers=buffers,  # in place: the rule reads each input before writing it
            out_thetas=thetas,
            scratches=[scratch for scratch, _ in kept],
            grad_buffers=[grad_buffer for _, grad_buffer in kept],
        )
        self.state = dataclasses.replace(state, t=state.t + 1)

    def _update_arrays(self, t, *, grads, thetas, buffers, out_buffers, out_thetas, scratches, grad_buffers) -> None:
        """The core shared by update() and step(); every argument is a list over the parameters to update.

        Order (as PyTorch with clip_grad_value_ / clip_grad_norm_ called before step): clip by value,
        clip by global norm, add the L2 term, apply the rule. The clipped gradient goes to
        ``grad_buffers`` (one per parameter, kept by step()), never into the caller's arrays.
        """
        lr = self._lr_at(t)
        scalars, decay = self._scalars(t, lr), self._decay(lr)
        by_direction = self._rule_by_direction()
        for k, theta in enumerate(thetas):
            if np.iscomplexobj(theta):
                _as_real_pairs(k, grads, thetas, buffers, out_buffers, out_thetas, scratches, grad_buffers)
        if self.clip_value is not None:
            for k, g in enumerate(grads):
                grads[k] = np.clip(g, -self.clip_value, self.clip_value, out=grad_buffers[k])
        coefficient = 1.0 if self.clip_norm is None else _clip.norm_clip_coefficient(grads, self.clip_norm)[0]
        weight_decay = self._l2_weight_decay
        for k, (g, theta, scratch) in enumerate(zip(grads, thetas, scratches)):
            if coefficient != 1.0:
                g = np.multiply(g, coefficient, out=grad_buffers[k])
            if weight_decay != 0.0:
                np.multiply(theta, weight_decay, out=scratch)
                g = np.add(g, scratch, out=grad_buffers[k])
            if by_direction:
                self._direction(g, buffers[k], out_buffers[k], scratch, scalars)
                optimizer_kernels.descend(theta, scratch, out_thetas[k], decay)
            else:
                self._apply(g, theta, buffers[k], out_buffers[k], out_thetas[k], scratch, scalars)
            if _flush_due(t):
                for buffer in out_buffers[k]:
                    optimizer_kernels.flush_subnormals(buffer, scratch, np.empty(buffer.shape, dtype=bool))

    def _flat_groups(self, thetas, names):
        """The flat arrays step() runs the rule on (built again when the parameters or the state's
        arrays are no longer theirs); None when a parameter is not a real floating array."""
        groups = self._flat
        if groups is not None and groups.fits(thetas, self.state, names):
            return groups
        if not all(theta.dtype.kind == "f" for theta in thetas):
            return None
        for name in names:
            for i, (buffer, theta) in enumerate(zip(getattr(self.state, name), thetas)):
                if buffer.shape != theta.shape:
                    raise ValueError(f"{name}[{i}] has shape {buffer.shape} but the parameter has shape "
                                     f"{theta.shape}")
        self._flat = groups = FlatGroups(thetas, self.state, names)
        self.state = groups.adopt(self.state)
        return groups

    def _step_flat(self, groups, grads, thetas) -> None:
        """The order of ``_update_arrays`` (clip by value, by global norm, the L2 term, the rule),
        each pass over a whole group's flat arrays."""
        t = self.state.t
        lr = self._lr_at(t)
        scalars, decay = self._scalars(t, lr), self._decay(lr)
        groups.gather(grads, self.clip_value)
        if self.clip_norm is not None:
            coefficient = _clip.norm_clip_coefficient(groups.gradients_in_order(), self.clip_norm)[0]
        else:
            coefficient = 1.0
        weight_decay = self._l2_weight_decay
        for group in groups:
            if coefficient != 1.0:
                np.multiply(group.grad, coefficient, out=group.grad)
            if weight_decay != 0.0:
                for i, step_view in zip(group.indices, group.step_views):
                    np.multiply(thetas[i], weight_decay, out=step_view)
                np.add(group.grad, group.step, out=group.grad)
            self._direction(group.grad, group.buffers, group.buffers, group.step, scalars)
            for i, step_view in zip(group.indices, group.step_views):
                optimizer_kernels.descend(thetas[i], step_view, thetas[i], decay)
            if _flush_due(t):
                for buffer in group.buffers:
                    # The gathered gradient is no longer needed: it is the flush's scratch.
                    optimizer_kernels.flush_subnormals(buffer, group.grad, group.mask)

    def zero_grad(self) -> None:
        """Set ``p.grad = None`` for every parameter (the next backward writes fresh gradients)."""
        tracing.clear_grads(self.params or ())

    @property
    def lr_now(self) -> float:
        """The learning rate the next update will use (after the schedule)."""
        return self._lr_at(0 if self.state is None else self.state.t)

    # --- saving and resuming ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume bit for bit, as plain arrays (``np.savez(..., allow_pickle=False)``).

        Keys: ``optimizer`` (class name), ``t``, the hyperparameters, ``clip_value``/``clip_norm`` when
        set, ``lr`` (a float) or ``lr_schedule`` and ``lr_schedule.<field>`` (a schedule from
        ``optim.schedules``; any other callable is not saved and must be passed again to the
        constructor), and one ``<buffer>.<i>`` array (a copy) per state buffer and parameter.
        """
        if self.state is None:
            raise RuntimeError("state_dict: no state yet (build the optimizer with params, or call load_state_dict)")
        out = {"optimizer": np.array(type(self).__name__), "t": np.array(self.state.t, dtype=np.int64)}
        out.update(_lr_to_arrays(self.lr))
        for name in self._hyper_names:
            out[name] = np.array(getattr(self, name))
        for name in ("clip_value", "clip_norm"):
            if getattr(self, name) is not None:
                out[name] = np.array(getattr(self, name))
        for name in self._buffer_names():
            for i, buffer in enumerate(getattr(self.state, name)):
                out[f"{name}.{i}"] = np.array(buffer, copy=True)
        return out

    def load_state_dict(self, state: dict) -> None:
        """Restore hyperparameters, learning rate, clipping, step count and buffers from ``state_dict()``.

        Buffers are copied (and cast to the parameters' dtype when the optimizer has parameters).
        """
        state = dict(state)
        saved_name = str(np.asarray(state.get("optimizer", "")))
        if saved_name != type(self).__name__:
            saved_name = saved_name or "an unknown optimizer"
            raise ValueError(f"load_state_dict: the state was saved by {saved_name}, not {type(self).__name__}")
        missing = [name for name in ("t", *self._hyper_names) if name not in state]
        if missing:
            raise KeyError(f"load_state_dict: missing keys {missing}")
        for name in self._hyper_names:
            setattr(self, name, np.asarray(state[name]).item())
        self.lr = _lr_from_arrays(state, self.lr)
        for name in ("clip_value", "clip_norm"):
            setattr(self, name, float(np.asarray(state[name])) if name in state else None)
        names = self._buffer_names()
        buffers = {}
        for name in names:
            count = len(self.params) if self.params is not None else _count_prefixed(state, name)
            keys = [f"{name}.{i}" for i in range(count)]
            absent = [key for key in keys if key not in state]
            if absent:
                raise KeyError(f"load_state_dict: missing keys {absent}")
            arrays = []
            for i, key in enumerate(keys):
                source = np.asarray(state[key])
                if self.params is not None:
                    theta = self.params[i].data
                    if source.shape != theta.shape:
                        raise ValueError(f"load_state_dict: {key} has shape {source.shape} but parameter {i} "
                                         f"has shape {theta.shape}")
                    arrays.append(np.array(source, dtype=theta.dtype, copy=True, order="C"))
                else:
                    arrays.append(np.array(source, copy=True, order="C"))
            buffers[name] = tuple(arrays)
        self.state = self._make_state(buffers, int(np.asarray(state["t"])))

    # --- shared machinery ------------------------------------------------------------------------
    def _make_state(self, buffers: dict, t: int):
        return self.State(**buffers, t=t)

    def _lr_at(self, t: int) -> float:
        # float(): a schedule returning a NumPy float64 scalar would otherwise upcast float32 arrays.
        return float(self.lr(t)) if callable(self.lr) else self.lr

    def _needs_grad_buffer(self) -> bool:
        return self.clip_value is not None or self.clip_norm is not None or self._l2_weight_decay != 0.0

    def _scratch_for(self, i: int, theta: np.ndarray):
        """One scratch array per parameter (plus one for the clipped/decayed gradient if needed), kept."""
        kept = self._scratch.get(i)
        need_grad_buffer = self._needs_grad_buffer()
        stale = kept is None or kept[0].shape != theta.shape or kept[0].dtype != theta.dtype
        if stale or (need_grad_buffer and kept[1] is None):
            kept = (np.empty_like(theta), np.empty_like(theta) if need_grad_buffer else None)
            self._scratch[i] = kept
        return kept

    def _checked_grad(self, g, theta, i):
        g = _as_array(g)
        if g.shape != theta.shape:
            raise ValueError(f"gradient {i} has shape {g.shape} but its parameter has shape {theta.shape}")
        return g

    def _check_state(self, state, params, names):
        if not isinstance(state, self.State):
            raise TypeError(f"{type(self).__name__}.update expects a {self.State.__name__}, "
                            f"got {type(state).__name__}")
        for name in names:
            buffers = getattr(state, name)
            if buffers is None or len(buffers) != len(params):
                have = "none" if buffers is None else len(buffers)
                raise ValueError(f"{self.State.__name__}.{name} has {have} arrays for {len(params)} parameters "
                                 "(was the state made with other hyperparameters?)")

    def __repr__(self):
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in ("lr", *self._hyper_names))
        return f"{type(self).__name__}({settings})"


def _step_with_grads(optimizer, *grads) -> None:
    """``optimizer.step()`` with these gradients as the parameters' ``grad`` (a compiled step's update)."""
    for p, g in zip(optimizer.params, grads):
        p.grad = g
    optimizer.step()


def _flush_due(t: int) -> bool:
    """Whether update number t + 1 ends by flushing the state's subnormal numbers (see Optimizer)."""
    return (t + 1) % optimizer_kernels.FLUSH_EVERY == 0


def _each_part(value, theta):
    """A buffer's starting value; for a complex parameter, the value of each of its two real parts."""
    return complex(value, value) if np.iscomplexobj(theta) else value


def _as_real_pairs(k, grads, thetas, buffers, out_buffers, out_thetas, scratches, grad_buffers) -> None:
    """A complex parameter as the pairs of its real and imaginary parts (views of the same memory), as
    torch.optim does with view_as_real: every rule then steps the two parts as real numbers.

    The gradient the engine gives is JAX's, dL/dx - i dL/dy; the pair the rules need is (dL/dx,
    dL/dy), its conjugate's parts. (Stepping along -g itself would climb in the imaginary part.)
    """
    def pairs(a):
        # atleast_1d: a 0-d array cannot change its item size, a 1-element view of it can.
        return None if a is None else np.atleast_1d(a).view(a.real.dtype)

    grads[k] = pairs(np.conj(grads[k]))
    thetas[k], out_thetas[k] = pairs(thetas[k]), pairs(out_thetas[k])
    buffers[k] = [pairs(b) for b in buffers[k]]
    out_buffers[k] = [pairs(b) for b in out_buffers[k]]
    scratches[k], grad_buffers[k] = pairs(scratches[k]), pairs(grad_buffers[k])


def _as_array(x) -> np.ndarray:
    """The ndarray of a Tensor/Parameter (its value, without going through __array__), or asarray(x)."""
    if type(x) is np.ndarray:
        return x  # a gradient as backward() leaves it: the import below costs more than a small update
    from nablanet.autodiff.tensor import Tensor

    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _lr_to_arrays(lr) -> dict:
    if not callable(lr):
        return {"lr": np.array(lr, dtype=np.float64)}
    recorded = _schedules.schedule_to_arrays(lr)
    if not recorded:
        return {}
    out = {"lr_schedule": np.array(recorded.pop("name"))}
    out.update({f"lr_schedule.{key}": np.array(value) for key, value in recorded.items()})
    return out


def _lr_from_arrays(state: dict, current):
    if "lr" in state:
        return float(np.asarray(state["lr"]))
    if "lr_schedule" in state:
        prefix = "lr_schedule."
        values = {key[len(prefix):]: np.asarray(value).item()
                  for key, value in state.items() if key.startswith(prefix)}
        return _schedules.schedule_from_arrays(str(np.asarray(state["lr_schedule"])), values)
    return current  # a custom callable: keep the one given to the constructor


def _count_prefixed(state: dict, name: str) -> int:
    count = 0
    while f"{name}.{count}" in state:
        count += 1
    return count

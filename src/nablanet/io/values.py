"""What a valid model holds beyond its structure: finite numbers, the signs its layers need, an optimizer
state that can be stepped from, random generators that are not stuck.

Each check returns a problem (a predicate of the entry: "holds NaN or infinity") or None; ``load``
refuses the file with it and ``save`` refuses to write it, so the two never disagree.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from nablanet.nn.module import ArraySpec

# A stuck generator repeats one word; a working one does so 16 times in a row with probability 2^-960.
_GENERATOR_PROBE_WORDS = 16


def array_problem(array: np.ndarray, spec: ArraySpec | None = None) -> str | None:
    """Why ``array`` cannot be a model's (or optimizer's) array, or None."""
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        return "holds NaN or infinity"
    if spec is not None and spec.nonnegative and array.dtype.kind in "fi" and (array < 0).any():
        return "holds negative values, which its layer does not allow"
    return None


def generator_problem(bit_generator) -> str | None:
    """Why a numpy bit generator is unusable (an all-zero Mersenne Twister state draws only zeros), or None.

    The check draws from a copy: the generator itself is left where it was.
    """
    copy = type(bit_generator)()
    copy.state = bit_generator.state
    words = copy.random_raw(_GENERATOR_PROBE_WORDS)
    if np.all(words == words[0]):
        return (f"is stuck: its next {_GENERATOR_PROBE_WORDS} outputs are all {int(words[0])} "
                "(an all-zero Mersenne Twister key, for example)")
    return None


def optimizer_problem(optimizer, state: dict) -> tuple[str, str] | None:
    """(entry key, problem) for the first entry of ``state`` (``optimizer.state_dict()``) that makes the
    optimizer unusable, or None.

    Numbers must be finite; a buffer that the update rule keeps nonnegative whatever the gradient's sign
    (a running sum or mean of squares: Adam's v and v_max, Adagrad's G, RMSprop's v, whatever the
    optimizer calls it) must hold no negative value; and one update from the state with zero gradients
    must give finite parameters and buffers. That entry is found by resetting each buffer of the
    parameter in turn to its initial value.
    """
    for key, array in state.items():
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return key, "holds NaN or infinity"
    if not np.isfinite(optimizer.lr_now):
        return ("lr_schedule" if "lr_schedule" in state else "lr"), f"gives the learning rate {optimizer.lr_now}"
    params = [p.data for p in optimizer.params]
    fields = [f.name for f in dataclasses.fields(optimizer.state) if isinstance(getattr(optimizer.state, f.name), tuple)]
    name = type(optimizer).__name__
    for field in _nonnegative_buffers(optimizer, fields):
        for i, buffer in enumerate(getattr(optimizer.state, field)):
            if buffer.dtype.kind in "fi" and (buffer < 0).any():
                return f"{field}.{i}", f"holds negative values, which {name}'s update never gives it"
    for i, theta in enumerate(params):
        if _steps_finitely(optimizer, optimizer.state, params, i, fields):
            continue
        initial = optimizer.init_state([theta])
        for field in fields:
            buffers = list(getattr(optimizer.state, field))
            buffers[i] = getattr(initial, field)[0]
            if _steps_finitely(optimizer, dataclasses.replace(optimizer.state, **{field: tuple(buffers)}), params, i,
                               fields):
                return f"{field}.{i}", (f"is not a state {name} can step from: an update with a zero gradient "
                                        "gives NaN or infinity")
        return f"{fields[0]}.{i}" if fields else "lr", (f"is not a state {name} can step from: an update with a "
                                                        "zero gradient gives NaN or infinity")
    return None


def _nonnegative_buffers(optimizer, fields: list) -> list:
    """The buffers that one update from the initial state leaves >= 0 for a gradient g and for -g alike."""
    theta = np.linspace(-1.0, 1.0, 8)
    g = np.random.default_rng(0).standard_normal(8)
    nonnegative = set(fields)
    try:
        start = optimizer.init_state([theta])
        with np.errstate(all="ignore"):
            for gradient in (g, -g):
                _, state = optimizer.update([gradient], start, [theta])
                nonnegative &= {field for field in fields if (getattr(state, field)[0] >= 0).all()}
    except Exception:  # an optimizer that cannot step a probe parameter: only the finite-step check applies
        return []
    return [field for field in fields if field in nonnegative]


def _steps_finitely(optimizer, state, params: list, i: int, fields: list) -> bool:
    grads = [None] * len(params)
    grads[i] = np.zeros_like(params[i])
    with np.errstate(all="ignore"):
        new_params, new_state = optimizer.update(grads, state, params)
    arrays = [new_params[i]] + [getattr(new_state, name)[i] for name in fields]
    return all(np.isfinite(array).all() for array in arrays)

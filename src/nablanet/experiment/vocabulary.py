"""The library's names that configs use, read from its registries: optimizers, schedules, layer types, losses, activations.

Each name a config may give is looked up where the thing is registered (``nablanet.optim.OPTIMIZERS``,
``nablanet.optim.SCHEDULES``, ``nablanet.nn.LAYERS``), at the moment the config is checked, so an
optimizer, schedule or layer a user registers is a valid config name from then on.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["OPTIMIZERS", "SCHEDULES", "LAYERS", "LOSS_NAMES", "Names"]


class Names(Sequence):
    """A live, read-only sequence of names: ``read()`` is asked again on every use, so names registered
    after import are included (``"adam" in OPTIMIZERS``, ``", ".join(OPTIMIZERS)``)."""

    def __init__(self, read):
        self._read = read

    def __getitem__(self, index):
        return self._read()[index]

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, name) -> bool:
        return name in self._read()

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self):
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(self._read())


def _optimizer_names() -> tuple:
    from nablanet import optim

    # L-BFGS steps with a closure over the whole data set, which a config's minibatch loop does not give.
    return tuple(name for name, record in optim.OPTIMIZERS.items() if not record.needs_closure)


def _schedule_names() -> tuple:
    from nablanet import optim

    return tuple(optim.SCHEDULES)


def _layer_names() -> tuple:
    import nablanet.nn as nn

    # Sequential's arguments are layers, which a flat [[model.layers]] table cannot hold.
    return tuple(record.cls.__name__ for record in nn.LAYERS.values() if record.cls is not nn.Sequential)


def optimizer_record(name):
    """The registry record of a config's optimizer name."""
    from nablanet import optim

    return optim.optimizer_record(name)


def schedule_record(name):
    """The registry record of a config's schedule name."""
    from nablanet import optim

    return optim.schedule_record(name)


def layer_record(kind: str):
    """The registry record of a config's layer type (any case), or None for a name configs cannot use."""
    import nablanet.nn as nn

    record = nn.LAYERS.get(kind) if isinstance(kind, str) else None
    return None if record is None or record.cls is nn.Sequential else record


#: Optimizer names of [optimizer] name (nablanet.optim.OPTIMIZERS without the closure-driven L-BFGS).
OPTIMIZERS = Names(_optimizer_names)
#: Schedule names of [optimizer.schedule] name (nablanet.optim.SCHEDULES).
SCHEDULES = Names(_schedule_names)
#: Layer types of [[model.layers]] (class names of the registered layers, any case; nablanet.nn.LAYERS).
LAYERS = Names(_layer_names)
# Layer arguments a config cannot set: the inferred size, the seed (from the run's seed), the dtype
# (model.dtype) and the recurrent layers' return_state (the model must return one array).
_NOT_FROM_CONFIG = {"self", "rng", "dtype", "return_state"}



def _loss_names() -> tuple:
    from nablanet.nn import LOSSES, loss_record

    # Not a loss that takes inputs besides (predictions, targets): fit cannot give them.
    return ("auto", *(name for name in LOSSES if not loss_record(name).inputs))


def _activation_names() -> tuple:
    from nablanet.nn import ACTIVATIONS

    return tuple(ACTIVATIONS)


def activation_options() -> tuple:
    """The keyword options any registered activation takes (alpha, approximate, axis, ...): the keys an
    Activation layer's table may hold beside its activation."""
    from nablanet.nn import ACTIVATIONS

    names = {"alpha"}
    for record in ACTIVATIONS.records.values():
        names.update(record.options)
    return tuple(sorted(names))


def loss_record(name):
    """The registry record of a config's train.loss (not "auto")."""
    from nablanet.nn import loss_record as record_of

    return record_of(name)


def activation_record(name):
    """The registry record of a config's activation name."""
    from nablanet.nn import activation_record as record_of

    return record_of(name)


#: train.loss names: auto and nablanet.nn.LOSSES' names and aliases (of the losses fit can train with).
LOSS_NAMES = Names(_loss_names)

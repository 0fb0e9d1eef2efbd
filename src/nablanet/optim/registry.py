"""The optimizer registry: each optimizer's name, class and hyperparameters, declared beside its class.

``@register_optimizer("adam")`` over a class (in ``optimizers.py``, ``lbfgs.py``, or a user's module)
makes it known by that name to everything that takes an optimizer by name: the TOML config's
``[optimizer] name``, the scikit-learn estimators' ``solver``, ``fit(optimizer="adam")`` (through
``as_optimizer``), ``get_optimizer``. It is also found by its class name, which is what
``Optimizer.state_dict()`` records. Names are compared without regard to case, as Keras' are
(``"Adam"``, ``"adam"`` and ``"ADAM"`` are one optimizer).

Example:
    >>> import numpy as np
    >>> from nablanet import Tensor
    >>> w = Tensor(np.zeros(2), requires_grad=True)
    >>> get_optimizer("momentum", [w], lr=0.1)
    Momentum(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)
    >>> record = optimizer_record("adam")
    >>> record.cls.__name__, record.lr, list(record.hyperparameters)[:3]
    ('Adam', 0.001, ['beta1', 'beta2', 'betas'])
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from nablanet.registry import Registry, check_arguments, signature_defaults

__all__ = ["OptimizerRecord", "OPTIMIZERS", "register_optimizer", "optimizer_record", "get_optimizer",
           "needs_closure", "as_optimizer"]


def needs_closure(optimizer) -> bool:
    """Whether ``optimizer.step`` (a class or an instance) requires a closure that re-evaluates the cost.

    L-BFGS does (its line search evaluates the cost at trial points); a ``closure=None`` that may be
    left out, as torch's first-order optimizers have, does not count.

    Example:
        >>> from nablanet.optim import LBFGS, SGD
        >>> needs_closure(LBFGS), needs_closure(SGD)
        (True, False)
    """
    closure = inspect.signature(optimizer.step).parameters.get("closure")
    return closure is not None and closure.default is inspect.Parameter.empty


@dataclass(frozen=True)
class OptimizerRecord:
    """What the library knows of an optimizer besides its class.

    Attributes:
        name: the name configs and estimators use ("adam"); lower case by convention.
        cls: the class; ``cls(parameters, lr=..., **hyperparameters)`` builds it.
        aliases: more names for the same record.
        full_batch: meant to see the whole training set at every step (plain gradient descent,
            L-BFGS); a trainer that honours it uses one batch of all samples.
        adaptive: scales its own step per coordinate from gradient statistics (Adagrad, RMSprop,
            Adam); scikit-learn's ``learning_rate`` schedules ('invscaling', 'adaptive') apply to the
            other optimizers only.

    Derived from the class's constructor (so they cannot disagree with it): ``lr``, the default
    learning rate eta; ``hyperparameters``, name -> default of its other keyword arguments;
    ``needs_closure``, whether ``step`` takes a closure that re-evaluates the cost (L-BFGS), which
    ``fit`` drives with one closure over the whole training set per epoch and a config's minibatch
    loop does not.
    """

    name: str
    cls: type
    aliases: tuple = ()
    full_batch: bool = False
    adaptive: bool = False

    @property
    def lr(self):
        """The default learning rate of the constructor (None if ``lr`` is required)."""
        default = self._arguments()["lr"]
        return None if default is inspect.Parameter.empty else default

    @property
    def hyperparameters(self) -> dict:
        """name -> default of the constructor's keyword arguments other than the parameters and ``lr``."""
        return {name: default for name, default in self._arguments().items() if name != "lr"}

    @property
    def needs_closure(self) -> bool:
        """Whether ``step`` needs a closure that recomputes the loss (L-BFGS's line search does)."""
        return needs_closure(self.cls)

    def build(self, parameters=None, **hyperparameters):
        """``cls(parameters, **hyperparameters)``, with a clear error for a hyperparameter it does not take."""
        check_arguments(f"optimizer {self.name!r} ({self.cls.__name__})", hyperparameters, self._arguments())
        return self.cls(parameters, **hyperparameters)

    def _arguments(self) -> dict:
        # The first constructor argument is the parameters, whatever its name.
        first = next(iter(inspect.signature(self.cls).parameters))
        return signature_defaults(self.cls, skip=(first,))


#: name -> OptimizerRecord, in registration order; ``OPTIMIZERS["Adam"]`` (class name) works too, and
#: every name in any case (Keras' optimizer names are case-insensitive, and so are ours).
OPTIMIZERS = Registry("optimizer", fold_case=True)


def register_optimizer(name: str, cls: type | None = None, *, aliases=(), full_batch: bool = False,
                       adaptive: bool = False):
    """Make an optimizer class known by ``name``: as a decorator, or called with the class.

    The class must take the parameters as its first argument and ``lr`` as a keyword, as
    ``nablanet.optim.Optimizer``'s subclasses do; see ``OptimizerRecord`` for the other arguments.

    Example:
        >>> from nablanet.optim import SGD
        >>> @register_optimizer("halving_sgd")
        ... class HalvingSGD(SGD):
        ...     '''SGD at half the given learning rate.'''
        ...     def __init__(self, params=None, *, lr=1e-2, momentum=0.0):
        ...         super().__init__(params, lr=lr / 2, momentum=momentum)
        >>> get_optimizer("halving_sgd", lr=0.2).lr
        0.1
        >>> OPTIMIZERS.remove("halving_sgd")
    """
    def add(cls):
        _check_optimizer_class(name, cls)
        OPTIMIZERS.add(OptimizerRecord(name, cls, tuple(aliases), bool(full_batch), bool(adaptive)))
        return cls

    return add if cls is None else add(cls)


def optimizer_record(name) -> OptimizerRecord:
    """The record of an optimizer name, alias, class name or class; ValueError naming the known ones."""
    return OPTIMIZERS.lookup(name)


def get_optimizer(name, parameters=None, **hyperparameters):
    """The optimizer called ``name`` over ``parameters`` (None: for ``init_state``/``update`` only).

    Args:
        name: a registered name ("sgd", "adam", ...), alias or class name.
        parameters: iterable of Parameters, e.g. ``model.parameters()``.
        **hyperparameters: ``lr`` and the optimizer's own (``momentum``, ``beta1``, ...); the
            class's defaults for those not given.
    """
    return optimizer_record(name).build(parameters, **hyperparameters)


def as_optimizer(spec, parameters, **hyperparameters):
    """The optimizer that ``spec`` stands for, over ``parameters``: what ``fit(optimizer=...)`` accepts.

    Args:
        spec: an optimizer (returned as it is); a registered name, alias or class name, in any case
            (``"adam"``, Keras' habit), built with the class's defaults for what is not given; or a dict
            ``{"name": "adam", "lr": 1e-2, "beta1": 0.8}``, the name and hyperparameters together, as a
            TOML config's ``[optimizer]`` table. Anything else is returned as it is, for the caller to
            judge.
        parameters: iterable of Parameters, e.g. ``model.parameters()``; used only for a name or a dict.
        **hyperparameters: ``lr`` (eta: a float or a schedule of nablanet.optim.schedules) and the
            optimizer's own (``momentum``, ``beta1``, ...), for a spec given by name or dict; a setting
            given both here and in the dict is an error, as is any setting with a built optimizer.

    Raises:
        ValueError: an unknown name (the message lists the known ones), a hyperparameter the optimizer
            does not take (listing those it takes: the learning rate is ``lr``, as in PyTorch, not Keras'
            ``learning_rate``), a dict without ``name``, a setting given twice, or settings for an
            optimizer already built.

    Example:
        >>> import numpy as np
        >>> from nablanet import Tensor
        >>> w = Tensor(np.zeros(2), requires_grad=True)
        >>> as_optimizer("Adam", [w], lr=0.01)
        Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-08, weight_decay=0.0, amsgrad=False)
        >>> as_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.9}, [w]).momentum
        0.9
    """
    if isinstance(spec, str):
        return get_optimizer(spec, parameters, **hyperparameters)
    if isinstance(spec, dict):
        settings = dict(spec)
        if "name" not in settings:
            raise ValueError(f"an optimizer given as a dict needs its 'name' (e.g. {{'name': 'adam', 'lr': 1e-3}}), "
                             f"got the keys {sorted(settings)}")
        name = settings.pop("name")
        twice = sorted(set(settings) & set(hyperparameters))
        if twice:
            raise ValueError(f"optimizer {name!r}: {', '.join(twice)} given both in the dict and as a keyword; "
                             "give each once")
        return get_optimizer(name, parameters, **settings, **hyperparameters)
    if hyperparameters:
        given = ", ".join(f"{key}={value!r}" for key, value in hyperparameters.items())
        built = type(spec).__name__
        raise ValueError(f"{given} applies to an optimizer given by name (optimizer=\"adam\") or dict; this {built} "
                         f"is built already: set it where it is built, {built}(model.parameters(), {given})")
    return spec


def _check_optimizer_class(name, cls) -> None:
    if not isinstance(cls, type):
        raise TypeError(f"register_optimizer({name!r}): expected a class, got {type(cls).__name__}")
    try:
        parameters = inspect.signature(cls).parameters
    except ValueError:  # a builtin class
        parameters = {}
    if "lr" not in parameters or not callable(getattr(cls, "step", None)):
        raise TypeError(f"register_optimizer({name!r}): {cls.__name__} must take an lr keyword and have a step() "
                        "method, as nablanet.optim.Optimizer's subclasses do")

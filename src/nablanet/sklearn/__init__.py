"""scikit-learn estimators on nablanet: MLPClassifier and MLPRegressor, and the notes' linear baselines.

In the order a fit uses them: ``_params`` (the parameters: names accepted, checks, docs, and their
translation into nablanet's terms, alpha into lambda in ``l2_from_alpha``), ``_output`` (the output
layer: activation, loss in scikit-learn's conventions, targets), ``_base`` (the network estimator: the
network, training by ``nablanet.train.fit`` with the library's callbacks, L-BFGS, predictions,
pickling), then the estimators: ``mlp`` (MLPClassifier, MLPRegressor) and ``linear`` (LinearRegression,
Ridge, LogisticRegression). ``nablanet.estimators`` and ``from nablanet import MLPClassifier`` are
the same classes.
"""

from importlib.util import find_spec

if find_spec("sklearn") is None:  # pragma: no cover - depends on the environment
    raise ImportError("nablanet.sklearn needs scikit-learn (pip install scikit-learn, or nablanet[data])")

from nablanet.sklearn.linear import LinearRegression, LogisticRegression, Ridge
from nablanet.sklearn.mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "LinearRegression", "Ridge", "LogisticRegression"]

"""Matplotlib figures of training: learning curves, sweeps, activations, decision boundaries, gradients.

Every function takes plain data (lists, arrays, dicts), returns a ``matplotlib.figure.Figure`` and
never calls ``plt.show()``: save it with :func:`save`, or let a notebook display it. Figures are
made with ``matplotlib.figure.Figure`` directly rather than ``pyplot``, so no global figure registry
grows and no display or backend is needed. Matplotlib is imported only when a figure is drawn, so
the rest of nablanet works without it (``pip install nablanet[plot]`` installs it).

One family per module: ``training`` (learning curves, gradient norms per layer), ``sweeps``
(hyperparameter heatmaps), ``activations`` (activation functions and their derivatives), ``fits``
(decision boundaries, universal approximation), ``confusion`` (confusion matrices), ``images`` (rows
of images: originals, reconstructions, fields), ``saving``
(atomic writes); ``_figures`` holds what they share.
"""

from nablanet.plot.activations import activation_functions
from nablanet.plot.confusion import confusion_matrix
from nablanet.plot.fits import decision_boundary, universal_approximation
from nablanet.plot.images import image_rows
from nablanet.plot.saving import save
from nablanet.plot.sweeps import hyperparameter_heatmap
from nablanet.plot.training import gradient_norms, learning_curves

__all__ = [
    "learning_curves", "hyperparameter_heatmap", "activation_functions", "decision_boundary",
    "universal_approximation", "gradient_norms", "confusion_matrix", "image_rows", "save",
]

"""Runnable demonstrations of the lecture notes' examples (`nablanet demo NAME`).

Each demo is a module holding the experiment as plain functions and two entry points:

- ``run(out_dir, quick=False, seed=0) -> dict`` prints the demo's tables, writes its PNG files into
  ``out_dir`` (created if missing) and returns the numbers it printed plus the paths written under
  ``"files"``, so that tests check the claims on exactly what a reader sees;
- ``main(argv=None) -> int`` is the command line around ``run``: ``--out DIR`` (default
  ``./nablanet-demos/``), ``--quick`` (a smaller run of a few seconds that still shows the claim)
  and ``--seed`` (every random draw of the demo comes from it).

:data:`DEMOS` maps each demo's name to its module. Figures need matplotlib (``pip install
'nablanet[plot]'``), imported only when a figure is drawn; the glorot_bengio demo reads
scikit-learn's digits (``pip install 'nablanet[data]'``).

The longer scripts of ``examples/`` (autoencoder, vae, transformer_sort, mc_dropout, unet_darcy) share
:func:`example_parser` (``--seed``, ``--quick``, ``--plot PATH``) and :func:`save_example_figure`.
"""

from __future__ import annotations

__all__ = ["DEMOS", "DEFAULT_OUT", "command_line", "example_parser", "format_table", "output_directory", "save_figure",
           "save_example_figure"]

from nablanet.demos import (
    activations,
    autodiff,
    gates,
    glorot_bengio,
    perceptron,
    universal_approximation,
)
from nablanet.demos._common import (DEFAULT_OUT, command_line, example_parser, format_table, output_directory,
                                    save_example_figure, save_figure)

DEMOS = {
    "autodiff": autodiff,
    "gates": gates,
    "perceptron": perceptron,
    "universal_approximation": universal_approximation,
    "glorot_bengio": glorot_bengio,
    "activations": activations,
}

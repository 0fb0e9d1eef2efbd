"""The `nablanet` command: train, evaluate, predict, summary, sweep and demo, as argparse subcommands.

``nablanet train`` with no arguments is the README's main job: a network on scikit-learn's digits
(installed with the ``data`` extra), trained with a progress bar, its test accuracy printed, the model
and its learning curves saved in a new folder under ``./nablanet-runs/``. Everything else is a TOML
config (see nablanet.experiment) or ``--set KEY=VALUE`` overrides of one.

A user's mistake (a missing file, an unknown config key, data of the wrong shape, labels that do not
fit the loss) ends the command with one line on stderr naming the problem and exit status 1; argparse
usage errors exit with 2. Other exceptions are bugs and keep their traceback; ``--debug`` shows the
traceback of user errors too.

One module per subcommand (``train``, ``evaluate``, ``predict``, ``summary``, ``sweep`` with its
worker processes in ``sweep_worker``, ``demo``); ``parser`` holds the argparse definitions, ``entry``
the entry point and its error handling, ``runs`` the run folders and saved runs the subcommands
share, ``tables`` the text and CSV tables they print and write.
"""

from nablanet.cli.entry import main
from nablanet.cli.parser import build_parser

__all__ = ["main", "build_parser"]

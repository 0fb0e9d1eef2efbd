"""The argparse parser of `nablanet` and its subcommands: arguments, help texts and the handler of each."""

from __future__ import annotations

import argparse
import os
import textwrap
from pathlib import Path

import nablanet
from nablanet.cli import demo, evaluate, predict, summary, sweep, train

# Marks the place in `nablanet demo --help` where the list of demos goes, so that the demo modules
# are imported only when that help is shown (a broken or slow demo must not slow down `train`).
_DEMO_LIST = "\x00demos"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `nablanet` and its subcommands."""
    from nablanet import experiment as config

    parser = argparse.ArgumentParser(
        prog="nablanet",
        description="Neural networks on NumPy, with every derivative its own. Run `nablanet train` to train a "
                    "network on the digits data and save it; `nablanet COMMAND --help` for each command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors (for bug reports)")
    parser.add_argument("--version", action="version", version=f"nablanet {nablanet.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    threads_help = ("BLAS threads for the matrix products (default 1, fastest for networks of this size; "
                    "0: the BLAS library's default)")
    set_help = ("override a config key, the value read as TOML (strings need no quotes): --set optimizer.lr=0.01 "
                "--set 'model.hidden=[64, 64]'; repeatable")

    train_parser = commands.add_parser(
        "train", help="train a network from a TOML config (default: digits) and save it",
        description=textwrap.fill(
            "Train the network described by CONFIG (every key has a default: with no CONFIG, a network on "
            "scikit-learn's digits), print the test scores, and save the model, the learning curves and the "
            "resolved config in a new folder <out>/<name>-<timestamp>/.", width=100, break_on_hyphens=False),
        epilog="config keys (table.key = default):\n" + config.reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train_parser.add_argument("config", nargs="?", metavar="CONFIG",
                              help="a TOML config file (default: built-in defaults), or a data file (.csv, .npz) to "
                                   "train on with the defaults: `nablanet train data.csv` predicts its last column")
    train_parser.add_argument("--target", metavar="COLUMN",
                              help="the CSV column to predict (data.target), e.g. --target species")
    train_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    _add_run_folder_options(train_parser, "run")
    train_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    train_parser.add_argument("--threads", type=_count, default=1, metavar="N", help=threads_help)
    train_parser.set_defaults(handler=train.run)

    evaluate_parser = commands.add_parser(
        "evaluate", help="loss and metrics of a saved model on a data set",
        description="Print the loss and metrics of MODEL on DATA, prepared as the training data were "
                    "(the scaling saved with the model).",
    )
    evaluate_parser.add_argument("model", metavar="MODEL", type=Path, help="a model file written by `nablanet train`")
    evaluate_parser.add_argument("data", metavar="DATA",
                                 help="a built-in data set name or a .csv/.npz file or MNIST folder")
    _add_data_options(evaluate_parser)
    evaluate_parser.set_defaults(handler=evaluate.run)

    predict_parser = commands.add_parser(
        "predict", help="write a saved model's predictions on a data set to CSV",
        description="Write MODEL's predictions on DATA to a CSV file: the predicted class and the class "
                    "probabilities for classification, the predicted values for regression, and the target "
                    "when DATA has one.",
    )
    predict_parser.add_argument("model", metavar="MODEL", type=Path, help="a model file written by `nablanet train`")
    predict_parser.add_argument("data", metavar="DATA",
                                help="a built-in data set name or a .csv/.npz file or MNIST folder "
                                     "(a CSV without the target column is all features)")
    predict_parser.add_argument("--out", type=Path, default=Path("predictions.csv"), metavar="FILE",
                                help="the CSV file to write (default: predictions.csv)")
    _add_data_options(predict_parser)
    predict_parser.set_defaults(handler=predict.run)

    summary_parser = commands.add_parser(
        "summary", help="layers, output shapes, parameters and operations of a saved model",
        description="Print MODEL's layers with their output shapes, parameter counts and floating-point "
                    "operations per sample (nablanet.count_ops on a one-sample forward and backward pass).",
    )
    summary_parser.add_argument("model", metavar="MODEL", type=Path, help="a model file (nablanet.io.save)")
    summary_parser.add_argument("--input-shape", metavar="SHAPE",
                                help="shape of one sample, e.g. 1,28,28, for a model that does not record it")
    summary_parser.set_defaults(handler=summary.run)

    sweep_parser = commands.add_parser(
        "sweep", help="grid, random or TPE search over config keys with k-fold cross-validation",
        description="Train CONFIG once per setting of the keys listed in its [sweep] table (dotted paths such "
                    "as \"optimizer.lr\" = [1e-3, 1e-2, 1e-1]), score each by k-fold cross-validation on the "
                    "training part and by the test part: in local processes, on a Dask cluster or as the trials "
                    "of an Optuna study that processes on many machines share. Writes sweep.csv (a row as each "
                    "setting is scored, so that --resume continues a stopped sweep), best.toml (the best setting's "
                    "config) and, when two keys vary, heatmaps of the scores.",
        epilog="[sweep] settings: search = \"grid\" | \"random\" | \"tpe\", n_iter = 10 (random, tpe), folds = 5, "
               "score = \"auto\", scheduler = \"\" (dask), storage = \"\", study = \"\", pruner = \"median\", "
               "heartbeat = 60 (optuna). Random and TPE search also take {uniform = [a, b]}, "
               "{loguniform = [a, b]}, {randint = [a, b]}. docs/cluster.md shows a sweep on a Dask cluster and "
               "an Optuna study shared by SLURM array jobs.",
    )
    sweep_parser.add_argument("config", metavar="CONFIG", help="a TOML config file with a [sweep] table")
    sweep_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    sweep_parser.add_argument("--executor", choices=sweep.EXECUTORS, default=None,
                              help="where the fits run: local processes (the default), a Dask cluster (the default "
                                   "with a scheduler), or an Optuna study's trials (the default with --storage, "
                                   "--join or search = \"tpe\")")
    sweep_parser.add_argument("--jobs", type=int, default=None, metavar="N",
                              help=f"processes to train in, or workers of the local Dask cluster (default: the "
                                   f"number of cores, {os.cpu_count()})")
    sweep_parser.add_argument("--scheduler", metavar="ADDRESS",
                              help="run the fits on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 "
                                   "(= --set sweep.scheduler=ADDRESS); --executor dask without one starts a local "
                                   "cluster")
    sweep_parser.add_argument("--storage", metavar="URL",
                              help="keep the trials in an Optuna study at the database URL, e.g. "
                                   "sqlite:///study.db or postgresql://host/db (= --set sweep.storage=URL; default: "
                                   "study.db in the sweep's folder)")
    sweep_parser.add_argument("--join", action="store_true",
                              help="take part in the Optuna study if another process made it (else make it): run "
                                   "its trials until none is left, in its folder (--out DIR, or <out>/<name>-sweep)")
    where = sweep_parser.add_mutually_exclusive_group()
    _add_run_folder_options(sweep_parser, "sweep", out_group=where)
    where.add_argument("--resume", type=Path, metavar="DIR",
                       help="continue the stopped sweep in DIR: the settings already scored are not trained again")
    sweep_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep_parser.add_argument("--threads", type=_count, default=1, metavar="N", help=threads_help + " per process")
    sweep_parser.set_defaults(handler=sweep.run)

    demo_parser = commands.add_parser(
        "demo", help="run a demonstration of the lecture notes (list them with `nablanet demo`)",
        description="Run the demo NAME with its own options (e.g. `nablanet demo gates --quick`; "
                    "`nablanet demo NAME --help` for them). Without NAME, list the demos.",
        epilog=_DEMO_LIST, formatter_class=_DemoHelpFormatter,
    )
    demo_parser.add_argument("name", nargs="?", metavar="NAME", help="the demo to run")
    demo_parser.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help="options passed to the demo")
    demo_parser.set_defaults(handler=demo.run)

    autodiff = commands.add_parser(
        "autodiff",
        help="differentiate the notes' examples exp(x^2) and sqrt(x^2+exp(x^2)) (= `nablanet demo autodiff`)",
        description="Print value, reverse-mode, forward-mode and analytic derivatives and operation counts "
                    "for the lecture notes' worked examples.",
    )
    autodiff.set_defaults(handler=demo.run, name="autodiff", arguments=[])
    return parser


def _count(text: str) -> int:
    """An integer >= 0 for --threads (argparse reports anything else as a usage error)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _add_run_folder_options(parser, what: str, out_group=None) -> None:
    """--out DIR (in ``out_group``, e.g. a group of options it excludes, if given), --overwrite, --allow-outside."""
    (out_group or parser).add_argument("--out", type=Path, metavar="DIR",
                                       help=f"write the {what}'s files into DIR (created if needed; refused if it "
                                            f"holds files)")
    parser.add_argument("--overwrite", action="store_true",
                        help="with --out DIR: write into DIR even if it holds files (of another run)")
    parser.add_argument("--allow-outside", action="store_true",
                        help="let the config's out and name put the run folder outside the current directory")


def _add_data_options(parser) -> None:
    parser.add_argument("--split", choices=("test", "train", "all"), default=None,
                        help="which part of DATA: its test part as split for training (the default when DATA is the "
                             "model's training data), the training part, or all of it (the default otherwise)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a data key of the model's config, e.g. --set data.target=species")


class _DemoHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Puts the list of demos, imported only now, in place of the _DEMO_LIST epilog."""

    def add_text(self, text):
        if text is _DEMO_LIST:
            text = demo.demo_list()
        super().add_text(text)

"""The `nablanet` command: train, evaluate, predict, summary, sweep and demo, as argparse subcommands.

``nablanet train`` with no arguments is the README's main job: a network on scikit-learn's digits
(installed with the ``data`` extra), trained with a progress bar, its test accuracy printed, the model
and its learning curves saved in a new folder under ``./nablanet-runs/``. Everything else is a TOML
config (see nablanet.config) or ``--set KEY=VALUE`` overrides of one.

A user's mistake (a missing file, an unknown config key, data of the wrong shape, labels that do not
fit the loss) ends the command with one line on stderr naming the problem and exit status 1; argparse
usage errors exit with 2. Other exceptions are bugs and keep their traceback; ``--debug`` shows the
traceback of user errors too.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import csv
import datetime
import inspect
import json
import math
import os
import sys
import textwrap
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser"]

# Marks the place in `nablanet demo --help` where the list of demos goes, so that the demo modules
# are imported only when that help is shown (a broken or slow demo must not slow down `train`).
_DEMO_LIST = "\x00demos"
_MODEL_FILE = "model.npz"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `nablanet` and its subcommands."""
    from nablanet import config

    parser = argparse.ArgumentParser(
        prog="nablanet",
        description="Neural networks on NumPy, with every derivative its own. Run `nablanet train` to train a "
                    "network on the digits data and save it; `nablanet COMMAND --help` for each command.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors (for bug reports)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    threads_help = ("BLAS threads for the matrix products (default 1, fastest for networks of this size; "
                    "0: the BLAS library's default)")
    set_help = ("override a config key, the value read as TOML (strings need no quotes): --set optimizer.lr=0.01 "
                "--set 'model.hidden=[64, 64]'; repeatable")

    train = commands.add_parser(
        "train", help="train a network from a TOML config (default: digits) and save it",
        description=textwrap.fill(
            "Train the network described by CONFIG (every key has a default: with no CONFIG, a network on "
            "scikit-learn's digits), print the test scores, and save the model, the learning curves and the "
            "resolved config in a new folder <out>/<name>-<timestamp>/.", width=100, break_on_hyphens=False),
        epilog="config keys (table.key = default):\n" + config.reference(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("config", nargs="?", metavar="CONFIG", help="a TOML config file (default: built-in defaults)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    train.add_argument("--out", type=Path, metavar="DIR", help="write the run's files into DIR (created if needed)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=_count, default=1, metavar="N", help=threads_help)
    train.set_defaults(handler=_train)

    evaluate = commands.add_parser(
        "evaluate", help="loss and metrics of a saved model on a data set",
        description="Print the loss and metrics of MODEL on DATA, prepared as the training data were "
                    "(the scaling saved with the model).",
    )
    evaluate.add_argument("model", metavar="MODEL", type=Path, help="a model file written by `nablanet train`")
    evaluate.add_argument("data", metavar="DATA", help="a built-in data set name or a .csv/.npz file or MNIST folder")
    _add_data_options(evaluate, set_help)
    evaluate.set_defaults(handler=_evaluate)

    predict = commands.add_parser(
        "predict", help="write a saved model's predictions on a data set to CSV",
        description="Write MODEL's predictions on DATA to a CSV file: the predicted class and the class "
                    "probabilities for classification, the predicted values for regression, and the target "
                    "when DATA has one.",
    )
    predict.add_argument("model", metavar="MODEL", type=Path, help="a model file written by `nablanet train`")
    predict.add_argument("data", metavar="DATA", help="a built-in data set name or a .csv/.npz file or MNIST folder "
                                                      "(a CSV without the target column is all features)")
    predict.add_argument("--out", type=Path, default=Path("predictions.csv"), metavar="FILE",
                         help="the CSV file to write (default: predictions.csv)")
    _add_data_options(predict, set_help)
    predict.set_defaults(handler=_predict)

    summary = commands.add_parser(
        "summary", help="layers, output shapes, parameters and operations of a saved model",
        description="Print MODEL's layers with their output shapes, parameter counts and floating-point "
                    "operations per sample (nablanet.count_ops on a one-sample forward and backward pass).",
    )
    summary.add_argument("model", metavar="MODEL", type=Path, help="a model file (nablanet.io.save)")
    summary.add_argument("--input-shape", metavar="SHAPE",
                         help="shape of one sample, e.g. 1,28,28, for a model that does not record it")
    summary.set_defaults(handler=_summary)

    sweep = commands.add_parser(
        "sweep", help="grid or random search over config keys with k-fold cross-validation",
        description="Train CONFIG once per setting of the keys listed in its [sweep] table (dotted paths such "
                    "as \"optimizer.lr\" = [1e-3, 1e-2, 1e-1]), score each by k-fold cross-validation on the "
                    "training part and by the test part, in parallel processes. Writes sweep.csv (one row per "
                    "setting) and, when two keys vary, heatmaps of the scores.",
        epilog="[sweep] settings: search = \"grid\" | \"random\", n_iter = 10 (random), folds = 5, score = \"auto\". "
               "Random search also takes {uniform = [a, b]}, {loguniform = [a, b]}, {randint = [a, b]}.",
    )
    sweep.add_argument("config", metavar="CONFIG", help="a TOML config file with a [sweep] table")
    sweep.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=set_help)
    sweep.add_argument("--jobs", type=int, default=None, metavar="N",
                       help=f"processes to train in (default: the number of cores, {os.cpu_count()})")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="write the sweep's files into DIR")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    sweep.add_argument("--threads", type=_count, default=1, metavar="N", help=threads_help + " per process")
    sweep.set_defaults(handler=_sweep)

    demo = commands.add_parser(
        "demo", help="run a demonstration of the lecture notes (list them with `nablanet demo`)",
        description="Run the demo NAME with its own options (e.g. `nablanet demo gates --quick`; "
                    "`nablanet demo NAME --help` for them). Without NAME, list the demos.",
        epilog=_DEMO_LIST, formatter_class=_DemoHelpFormatter,
    )
    demo.add_argument("name", nargs="?", metavar="NAME", help="the demo to run")
    demo.add_argument("arguments", nargs=argparse.REMAINDER, metavar="...", help="options passed to the demo")
    demo.set_defaults(handler=_demo)

    autodiff = commands.add_parser(
        "autodiff",
        help="differentiate the notes' examples exp(x^2) and sqrt(x^2+exp(x^2)) (= `nablanet demo autodiff`)",
        description="Print value, reverse-mode, forward-mode and analytic derivatives and operation counts "
                    "for the lecture notes' worked examples.",
    )
    autodiff.set_defaults(handler=_demo, name="autodiff", arguments=[])
    return parser


def _count(text: str) -> int:
    """An integer >= 0 for --threads (argparse reports anything else as a usage error)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _add_data_options(parser, set_help: str) -> None:
    parser.add_argument("--split", choices=("test", "train", "all"), default=None,
                        help="which part of DATA: its test part as split for training (the default when DATA is the "
                             "model's training data), the training part, or all of it (the default otherwise)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a data key of the model's config, e.g. --set data.target=species")


class _DemoHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Puts the list of demos, imported only now, in place of the _DEMO_LIST epilog."""

    def add_text(self, text):
        if text is _DEMO_LIST:
            text = _demo_list()
        super().add_text(text)


def _demo_list() -> str:
    from nablanet.demos import DEMOS

    width = max(len(name) for name in DEMOS)
    lines = ["demos:"]
    for name, module in DEMOS.items():
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        lines.append(f"  {name:<{width}}  {summary}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Entry point and error handling
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    """Run the `nablanet` command with ``argv`` (default: the process's arguments); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(_expand_alias(sys.argv[1:] if argv is None else [str(a) for a in argv]))
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with _blas_threads(getattr(args, "threads", 1)):
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"nablanet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug or not _is_user_error(error):
            raise
        print(f"nablanet {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


@contextlib.contextmanager
def _blas_threads(count: int):
    """Limit the BLAS library to ``count`` threads while a command runs (0: leave it as it is).

    A network's matrix products are small (a batch of 32 rows times a few hundred units), too small
    for threads to pay off; and OpenBLAS threads wait for work by spinning, so on a machine whose
    cores are busy with anything else they slow training down several times (measured: the main job
    took 13 s with one thread and 93 s with the default on two loaded cores).
    """
    if count == 0:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        # threadpoolctl comes with scikit-learn (the data extra); without it the library's default stays.
        yield
        return
    with threadpool_limits(limits=count, user_api="blas"):
        yield


def _expand_alias(argv: list) -> list:
    """`nablanet autodiff ...` is `nablanet demo autodiff ...` (the command of the first release)."""
    position = next((i for i, arg in enumerate(argv) if not arg.startswith("-")), None)
    if position is not None and argv[position] == "autodiff":
        return argv[:position] + ["demo"] + argv[position:]
    return argv


def _is_user_error(error: Exception) -> bool:
    """Mistakes in what the user gave (files, keys, data), as opposed to bugs, which keep their traceback."""
    from nablanet.train import TrainingDivergedError

    if isinstance(error, ImportError):
        # A missing optional dependency: the library's message says which extra to install.
        return "pip install" in str(error)
    return isinstance(error, (ValueError, KeyError, OSError, TrainingDivergedError))


def _one_line(error: Exception) -> str:
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    elif isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


# ----------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------

def _train(args) -> int:
    from nablanet import config as cfg

    config = cfg.load_config(args.config, args.set)
    data = cfg.load_data(config)
    task = cfg.make_task(config, data.y_all)
    n_test = 0 if data.X_test is None else len(data.X_test)
    print(f"data: {data.description}: {len(data.X_train)} for training, {n_test} for testing "
          f"({data.test_description})")
    with _run_folder(args.out, config, "") as out_dir:
        return _train_in(out_dir, config, data, task, args)


def _train_in(out_dir: Path, config, data, task, args) -> int:
    from nablanet import config as cfg
    from nablanet import io
    from nablanet.train import evaluate

    monitor = None
    if config.get("train.monitor"):
        from nablanet.diagnostics import TrainingMonitor

        monitor = TrainingMonitor()
    model, history, preprocessor = cfg.fit_config(config, data.X_train, data.y_train, task,
                                                  progress=False if args.no_progress else None,
                                                  callbacks=[monitor] if monitor else ())
    print(f"model: {_describe_model(model)}")
    print(f"trained {len(history)} epochs{_early_stop_note(history, config)}; "
          f"{_format_scores({k: v[-1] for k, v in history.history.items() if k in ('loss', 'val_loss')})}")

    if data.X_test is not None:
        X_eval, y_eval, part, note = data.X_test, data.y_test, "test", ""
    else:
        X_eval, y_eval, part, note = data.X_train, data.y_train, "training", " (there is no test part)"
    scores = evaluate(model, preprocessor.transform(X_eval), y_eval, task.loss, task.metrics)
    print(f"{part} scores on {len(X_eval)} samples{note}: {_format_scores(scores)}")

    saved_config = _portable(config)
    metadata = {
        "nablanet_cli": 1,
        "config": saved_config,
        "task": task.to_dict(),
        "preprocessing": preprocessor.to_dict(),
        "data": {"description": data.description, "test": data.test_description,
                 "feature_names": data.feature_names},
        "scores": {"part": part, **scores},
        "epochs": len(history),
    }
    written = [io.save(out_dir / _MODEL_FILE, model, metadata=metadata)]
    (out_dir / "config.toml").write_text(cfg.to_toml(saved_config), encoding="utf-8")
    written.append(out_dir / "config.toml")
    written.append(_write_history(history, out_dir / "history.csv"))
    written.extend(_training_plots(history, model, preprocessor, X_eval, y_eval, task, out_dir))
    if monitor is not None:
        written.extend(_monitor_files(monitor, out_dir))
    print(f"saved in {out_dir}/: " + ", ".join(path.name for path in written))
    print(f"next: nablanet evaluate {out_dir / _MODEL_FILE} {_data_argument(config)}   |   "
          f"nablanet summary {out_dir / _MODEL_FILE}")
    return 0


def _monitor_files(monitor, out_dir: Path) -> list:
    """The training monitor's report (printed and saved) and its per-layer plot."""
    from nablanet import plot

    report = monitor.report()
    print(report)
    path = out_dir / "monitor.txt"
    path.write_text(report + "\n", encoding="utf-8")
    return [path, plot.save(monitor.plot(), out_dir / "monitor.png")]


def _portable(config) -> dict:
    """The config's values to save with a run: its name filled in, a data file's path made absolute.

    Relative paths in a config are relative to the config file; the saved copy lives elsewhere (the run
    folder, the model file), so its path must not depend on where it is read from.
    """
    from nablanet.config import DATASETS

    values = json.loads(json.dumps(config.values))
    values["name"] = config.run_name
    if values["data"]["source"] not in DATASETS:
        values["data"]["source"] = str(Path(values["data"]["source"]).expanduser().resolve())
    return values


@contextlib.contextmanager
def _run_folder(out: Path | None, config, kind: str):
    """``--out DIR``, or a new folder ``<config out>/<name>[-sweep]-<timestamp>`` (numbered if it exists).

    The folder is made before the work starts (so that a folder that cannot be written fails at once)
    and removed again if the work fails before writing anything into it.
    """
    if out is not None:
        folder = Path(out)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(config.get("out")) / f"{config.run_name}{kind}-{stamp}"
        folder, number = base, 1
        while folder.exists():
            number += 1
            folder = base.with_name(f"{base.name}-{number}")
    existed = folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        if not existed and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _data_argument(config) -> str:
    source = config.get("data.source")
    return source if " " not in source else f'"{source}"'


def _describe_model(model) -> str:
    parts = [repr(layer).replace("\n", " ") for layer in getattr(model, "layers", [model])]
    return " -> ".join(parts) + f"  ({model.num_parameters():,} parameters)"


def _early_stop_note(history, config) -> str:
    epochs = config.get("train.epochs")
    if len(history) < epochs:
        return f" (early stopping: no improvement of {config.get('train.early_stopping.monitor')} for " \
               f"{config.get('train.early_stopping.patience')} epochs)"
    return ""


def _format_scores(scores: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in scores.items() if np.ndim(value) == 0)


def _write_history(history, path: Path) -> Path:
    keys = [key for key in history.keys() if all(np.ndim(v) == 0 for v in history[key])]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch"] + keys)
        for row, epoch in enumerate(history.epoch):
            writer.writerow([epoch + 1] + [repr(float(history[key][row])) for key in keys])
    return path


def _training_plots(history, model, preprocessor, X_eval, y_eval, task, out_dir: Path) -> list:
    """The learning curves (and the confusion matrix for classification) as PNGs; none without matplotlib."""
    try:
        from nablanet import plot

        written = [plot.save(plot.learning_curves(history), out_dir / "learning_curves.png")]
        if task.kind == "classification":
            from nablanet.train import confusion_matrix, predict

            threshold = 0.0 if task.loss in ("binary_cross_entropy_with_logits", "hinge") else 0.5
            matrix = confusion_matrix(predict(model, preprocessor.transform(X_eval)), y_eval,
                                      num_classes=task.n_classes, threshold=threshold)
            written.append(plot.save(plot.confusion_matrix(matrix), out_dir / "confusion_matrix.png"))
    except ImportError as error:
        print(f"note: no plots ({error})", file=sys.stderr)
        return []
    return written


# ----------------------------------------------------------------------------------------------
# evaluate, predict: a saved model on a data source
# ----------------------------------------------------------------------------------------------

class _SavedRun:
    """A model file with what `nablanet train` recorded: config, task, preprocessing."""

    def __init__(self, path: Path):
        from nablanet import config as cfg
        from nablanet import io

        checkpoint = io.load_checkpoint(path)
        self.model = checkpoint.model
        metadata = checkpoint.metadata
        self.from_cli = "nablanet_cli" in metadata
        if self.from_cli:
            self.values = metadata["config"]
            self.task = cfg.Task.from_dict(metadata["task"])
            self.preprocessor = cfg.Preprocessor.from_dict(metadata["preprocessing"])
        else:
            # A model saved with nablanet.io.save by a program: no scaling, default data settings.
            self.values = cfg.load_config(overrides=["data.standardize=false"]).values
            self.task = None
            self.preprocessor = None

    def data(self, source: str, split: str | None, overrides, *, require_targets: bool):
        """``(X, y, description)`` of ``source`` read with the training config's data settings."""
        from nablanet import config as cfg

        trained_on = self.values["data"]["source"]
        same = self.from_cli and _same_source(source, trained_on)
        # The training data's own settings (e.g. a CSV's target column) apply to other files too; the
        # settings that do not apply to the new source go back to their defaults.
        data_values = dict(self.values["data"]) if same else self._carried_data_settings(source)
        values = dict(self.values, data=data_values)
        config = cfg.Config(values).with_values({"data.source": trained_on if same else source})
        config = config.with_values(dict(cfg.parse_override(item) for item in overrides)) if overrides else config
        split = split or ("test" if same else "all")
        if split == "all":
            X, y, X_test, y_test, _, description = cfg.read_source(dict(config.get("data"), seed=config.get("seed")),
                                                                    require_targets=require_targets)
            if X_test is not None:
                X, y = np.concatenate([X, X_test]), np.concatenate([y, y_test])
            return X, y, f"{description}, all of it"
        data = cfg.load_data(config)
        if split == "test":
            if data.X_test is None:
                raise ValueError(f"{source} has no test part (data.test_size = 0 in training); use --split all")
            return data.X_test, data.y_test, f"{data.description}, test part ({data.test_description})"
        return data.X_train, data.y_train, f"{data.description}, training part"

    def _carried_data_settings(self, source: str) -> dict:
        from nablanet import config as cfg

        defaults = cfg.load_config().values["data"]
        carried = {key: self.values["data"][key] for key in ("target", "delimiter", "header", "x_key", "y_key",
                                                             "flatten", "input_shape", "standardize")}
        if source in cfg.DATASETS:
            carried = {key: carried[key] for key in ("input_shape", "standardize")}
        return dict(defaults, **carried)

    def prepared(self, X) -> np.ndarray:
        if self.preprocessor is None:
            return np.asarray(X)
        return self.preprocessor.transform(X)


def _same_source(source: str, trained_on: str) -> bool:
    from nablanet.config import DATASETS

    if source in DATASETS or trained_on in DATASETS:
        return source == trained_on
    return Path(source).expanduser().resolve() == Path(trained_on).expanduser().resolve()


def _evaluate(args) -> int:
    from nablanet.train import evaluate

    run = _SavedRun(args.model)
    X, y, description = run.data(args.data, args.split, args.set, require_targets=True)
    task = _task(run, y)
    scores = evaluate(run.model, run.prepared(X), y, task.loss, task.metrics)
    print(f"{description}: {len(X)} samples")
    width = max(len(name) for name in scores)
    for name, value in scores.items():
        if np.ndim(value) == 0:
            print(f"  {name:<{width}}  {value:.6g}")
    return 0


def _task(run: _SavedRun, y):
    from nablanet import config as cfg

    if run.task is not None:
        return run.task
    # A model without the CLI's record: the loss follows from its outputs and the labels.
    return cfg.make_task(cfg.Config(run.values), y, "the data")


def _predict(args) -> int:
    from nablanet.train import predict

    run = _SavedRun(args.model)
    X, y, description = run.data(args.data, args.split, args.set, require_targets=False)
    outputs = predict(run.model, run.prepared(X))
    outputs = outputs.reshape(len(outputs), -1)
    task = run.task if run.task is not None or y is None else _task(run, y)
    header, columns = [], []
    if y is not None:
        targets = np.asarray(y).reshape(len(y), -1)
        header += ["target"] if targets.shape[1] == 1 else [f"target_{j}" for j in range(targets.shape[1])]
        columns.append(targets)
    if task is not None and task.kind == "classification":
        probabilities, classes = _class_probabilities(outputs, task)
        header += ["predicted_class"] + [f"probability_{k}" for k in range(probabilities.shape[1])]
        columns += [classes[:, None], probabilities]
    else:
        header += ["prediction"] if outputs.shape[1] == 1 else [f"prediction_{j}" for j in range(outputs.shape[1])]
        columns.append(outputs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in zip(*(column.tolist() for column in columns)):
            writer.writerow([_csv_number(value) for part in row for value in part])
    print(f"wrote {len(X)} predictions on {description} to {args.out}")
    return 0


def _class_probabilities(outputs: np.ndarray, task) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and predicted classes from the network's outputs.

    Several outputs are logits: softmax. One output is a probability when the network ends in a
    sigmoid (binary_cross_entropy), otherwise a logit (binary_cross_entropy_with_logits) or a hinge
    margin, of which the sigmoid is taken; the class is 1 where the probability exceeds 1/2.
    """
    if outputs.shape[1] == 1:
        values = outputs[:, 0].astype(np.float64)
        p = values if task.output_activation == "sigmoid" else 1.0 / (1.0 + np.exp(-values))
        return np.column_stack([1.0 - p, p]), (p > 0.5).astype(np.int64)
    logits = outputs.astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))  # max-subtracted against overflow
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities, probabilities.argmax(axis=1)


def _csv_number(value) -> str:
    # Seven significant digits: what a float32 output holds.
    if isinstance(value, float):
        return format(value, ".7g")
    return str(value)


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------

def _summary(args) -> int:
    from nablanet import count_ops, io
    from nablanet.autodiff.state import no_grad

    checkpoint = io.load_checkpoint(args.model)
    model = checkpoint.model.eval()
    sample_shape = _sample_shape(model, checkpoint.metadata, args.input_shape)
    dtype = model.parameters()[0].data.dtype if model.parameters() else np.float32
    x = np.zeros((1,) + sample_shape, dtype=dtype)
    layers = list(model.layers) if hasattr(model, "layers") else [model]
    names = [f"layers.{i}" for i in range(len(layers))] if hasattr(model, "layers") else ["model"]
    rows = []
    for name, layer in zip(names, layers):
        forward = count_ops(layer, x).forward_total
        with no_grad():
            out = layer(x)
        x = np.asarray(out.data if hasattr(out, "_data") else out)
        rows.append([f"{name} ({type(layer).__name__})", _describe_layer(layer), str((None,) + x.shape[1:]),
                     f"{layer.num_parameters():,}", f"{forward:,}"])
    whole = count_ops(model, np.zeros((1,) + sample_shape, dtype=dtype))
    print(f'Model: "{args.model}"  (input: one sample of shape {sample_shape}, {np.dtype(dtype).name})')
    print(_table(["Layer (type)", "Settings", "Output shape", "Params", "Forward ops"], rows))
    print(f"Total params: {model.num_parameters():,}")
    print(f"Operations per sample: forward {whole.forward_total:,}, backward (gradient) {whole.reverse_total:,}, "
          f"total {whole.total:,}")
    return 0


def _sample_shape(model, metadata: dict, given: str | None) -> tuple:
    if given:
        try:
            shape = tuple(int(part) for part in given.replace("x", ",").split(",") if part.strip())
        except ValueError:
            raise ValueError(f"--input-shape must be integers separated by commas, e.g. 1,28,28; "
                             f"got {given!r}") from None
        if not shape or min(shape) < 1:
            raise ValueError(f"--input-shape must be positive integers, got {given!r}")
        return shape
    preprocessing = metadata.get("preprocessing") if isinstance(metadata, dict) else None
    if preprocessing:
        if preprocessing["input_shape"]:
            return tuple(preprocessing["input_shape"])
        if preprocessing.get("n_features"):
            return (preprocessing["n_features"],)
    first = next((module for module in model.modules() if hasattr(module, "W")), None)
    if first is not None and type(first).__name__ in ("Dense", "RBF") and first.W.data.ndim == 2:
        return (first.W.data.shape[0],)
    raise ValueError("cannot tell the input shape of this model (its first layer is not Dense); give it with "
                     "--input-shape, e.g. --input-shape 1,28,28")


def _describe_layer(layer) -> str:
    text = layer.extra_repr() if hasattr(layer, "extra_repr") else ""
    return text if len(text) <= 48 else text[:45] + "..."


def _table(headers, rows) -> str:
    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    lines = [rule, "  ".join(f"{h:<{w}}" if i < 3 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(headers, widths))),
             rule.replace("-", "=")]
    for row in rows:
        lines.append("  ".join(f"{c:<{w}}" if i < 3 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths))))
    lines.append(rule)
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# sweep
# ----------------------------------------------------------------------------------------------

# The data of a sweep, set once per worker process by _init_worker (or in the main process).
_SWEEP_DATA = {}


def _init_worker(data, threads: int) -> None:
    _SWEEP_DATA["data"] = data
    if threads:
        # A spawned worker starts with the BLAS library's default: limit it as the main process is.
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return
        _SWEEP_DATA["limits"] = threadpool_limits(limits=threads, user_api="blas")


def _sweep_task(config, setting: dict, task, fold) -> float:
    """Train one setting on one fold (or, with ``fold=None``, on the whole training part); return its score."""
    from nablanet import config as cfg
    from nablanet.train import TrainingDivergedError, evaluate

    data = _SWEEP_DATA["data"]
    run_config = config.with_values(setting)
    score, _ = cfg.score_names(run_config, task)
    if fold is None:
        X_train, y_train, X_score, y_score = data.X_train, data.y_train, data.X_test, data.y_test
    else:
        train_rows, score_rows = fold
        X_train, y_train = data.X_train[train_rows], data.y_train[train_rows]
        X_score, y_score = data.X_train[score_rows], data.y_train[score_rows]
    try:
        model, _, preprocessor = cfg.fit_config(run_config, X_train, y_train, task, progress=False)
    except TrainingDivergedError:
        return math.nan
    if X_score is None:
        return math.nan
    metrics = [] if score == "loss" else [score]
    scores = evaluate(model, preprocessor.transform(X_score), y_score, task.loss, metrics)
    return float(scores["loss" if score == "loss" else next(iter(k for k in scores if k != "loss"))])


def _sweep(args) -> int:
    from nablanet import config as cfg
    from nablanet.preprocessing import k_fold

    config = cfg.load_config(args.config, args.set)
    keys, settings = cfg.sweep_settings(config)
    # Every setting is checked before anything trains: a bad value fails now, not after hours.
    for setting in settings:
        config.with_values(setting)
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    data = cfg.load_data(config)
    task = cfg.make_task(config, data.y_all)
    folds = config.get("sweep.folds")
    stratify = data.y_train if task.kind == "classification" and np.ndim(data.y_train) == 1 else None
    if stratify is not None and np.min(np.unique(stratify, return_counts=True)[1]) < folds:
        stratify = None
    splits = k_fold(data.X_train, n_splits=folds, stratify=stratify, shuffle=True, rng=config.get("seed"))
    n_test = 0 if data.X_test is None else len(data.X_test)
    print(f"sweep: {len(settings)} settings of {', '.join(keys)} x {folds} folds (+1 test fit each) on "
          f"{data.description}; {len(data.X_train)} training, {n_test} test samples; {jobs} processes")
    with _run_folder(args.out, config, "-sweep") as out_dir:
        return _sweep_in(out_dir, config, keys, settings, data, task, splits, jobs, args)


def _sweep_in(out_dir: Path, config, keys, settings, data, task, splits, jobs, args) -> int:
    from nablanet import config as cfg

    score, higher_is_better = cfg.score_names(config, task)
    folds = len(splits)

    work = [(i, fold) for i in range(len(settings)) for fold in list(range(folds)) + [None]]
    results = {}
    progress = _progress(len(work), "sweep", disabled=args.no_progress)
    if jobs == 1:
        _SWEEP_DATA["data"] = data
        try:
            for i, fold in work:
                results[i, fold] = _sweep_task(config, settings[i], task, None if fold is None else splits[fold])
                progress.update()
        finally:
            _SWEEP_DATA.clear()
    else:
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, initializer=_init_worker, initargs=(data, args.threads),
                mp_context=_spawn_context()) as pool:
            futures = {pool.submit(_sweep_task, config, settings[i], task, None if fold is None else splits[fold]):
                       (i, fold) for i, fold in work}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
                    progress.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    progress.close()

    rows = []
    for i, setting in enumerate(settings):
        fold_scores = np.array([results[i, fold] for fold in range(folds)])
        row = dict(setting)
        row[f"cv_{score}_mean"] = float(np.mean(fold_scores))
        row[f"cv_{score}_std"] = float(np.std(fold_scores))
        if data.X_test is not None:
            row[f"test_{score}"] = results[i, None]
        rows.append(row)
    written = [_write_rows(rows, out_dir / "sweep.csv")]
    (out_dir / "config.toml").write_text(cfg.to_toml(_portable(config)), encoding="utf-8")
    written.append(out_dir / "config.toml")
    written.extend(_sweep_heatmaps(rows, keys, score, data.X_test is not None, config, out_dir))
    _print_sweep(rows, keys, score, higher_is_better)
    print(f"saved in {out_dir}/: " + ", ".join(path.name for path in written))
    return 0


def _spawn_context():
    import multiprocessing

    # Fresh interpreters rather than forks: a fork of a process with threads (tqdm's monitor, BLAS) can
    # deadlock, and spawn behaves the same on Linux, macOS and Windows.
    return multiprocessing.get_context("spawn")


def _progress(total: int, description: str, disabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="fit", disable=disabled, file=sys.stderr, leave=False)


def _write_rows(rows: list, path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_number(value) if isinstance(value, float) else json.dumps(value)
                             if isinstance(value, (list, dict)) else value for key, value in row.items()})
    return path


def _sweep_heatmaps(rows, keys, score, has_test, config, out_dir: Path) -> list:
    varying = [key for key in keys if len({json.dumps(row[key]) for row in rows}) > 1]
    if len(varying) != 2 or config.get("sweep.search") != "grid":
        what = "a random search" if config.get("sweep.search") == "random" else f"{len(varying)} keys vary"
        print(f"note: no heatmap: they are drawn for a grid search over exactly two keys (here {what})")
        return []
    try:
        from nablanet import plot

        values = [f"cv_{score}_mean"] + ([f"test_{score}"] if has_test else [])
        written = []
        for value in values:
            figure = plot.hyperparameter_heatmap(rows, varying[0], varying[1], value)
            written.append(plot.save(figure, out_dir / f"heatmap_{value}.png"))
    except ImportError as error:
        print(f"note: no heatmaps ({error})", file=sys.stderr)
        return []
    return written


def _print_sweep(rows, keys, score, higher_is_better: bool) -> None:
    mean_key = f"cv_{score}_mean"

    def rank(row):
        value = row[mean_key]
        return (math.isnan(value), -value if higher_is_better else value)

    ordered = sorted(rows, key=rank)
    headers = list(rows[0])
    cells = [[_short(row[key]) for key in headers] for row in ordered]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(f"{h:>{w}}" for h, w in zip(headers, widths)))
    for row in cells:
        print("  ".join(f"{c:>{w}}" for c, w in zip(row, widths)))
    best = ordered[0]
    setting = ", ".join(f"{key}={_short(best[key])}" for key in keys)
    test_key = f"test_{score}"
    test_text = f", test {score} {best[test_key]:.4g}" if test_key in best else ""
    print(f"best by cross-validation: {setting} ({score} {best[mean_key]:.4g} +- {best[f'cv_{score}_std']:.2g}"
          f"{test_text})")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# ----------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------

def _demo(args) -> int:
    from nablanet.demos import DEMOS

    if args.name is None:
        print(_demo_list())
        print("run one with: nablanet demo NAME [--quick] [--out DIR]")
        return 0
    if args.name not in DEMOS:
        raise ValueError(f"unknown demo {args.name!r}; the demos are {', '.join(DEMOS)}")
    demo_main = DEMOS[args.name].main
    if inspect.signature(demo_main).parameters:
        status = demo_main(list(args.arguments))
    elif args.arguments:
        raise ValueError(f"the {args.name} demo takes no options, got {' '.join(args.arguments)}")
    else:
        status = demo_main()
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())

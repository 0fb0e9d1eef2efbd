"""`nablanet train`: train the network a config describes, print its scores and save the run's files."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from nablanet.cli.runs import MODEL_FILE, portable, run_folder


def run(args) -> int:
    """Train from the config ``args.config`` (default: digits) with ``args.set`` overrides; save in a run folder.

    With no arguments this is the README's main job: a network on scikit-learn's digits, trained with
    a progress bar, its test accuracy printed, the model, the resolved config, the history and the
    learning curves saved in a new folder under ``./nablanet-runs/``. ``args.config`` may also be a data
    file (``nablanet train data.csv``), trained on with the defaults.

    Under an MPI launcher (``mpiexec -n N nablanet train``, ``srun``) the ranks train one model
    together (fit's ``distributed="mpi"``); rank 0 alone prints and writes the run folder.
    """
    from nablanet.distributed import under_mpi

    if under_mpi():
        return _run_on_ranks(args)
    return _run(args)


def _run(args, distributed: str | None = None) -> int:
    from nablanet import experiment as cfg

    config = _config(args)
    data = cfg.load_data(config)
    task = cfg.make_task(config, data.y_all)
    n_test = 0 if data.X_test is None else len(data.X_test)
    print(f"data: {data.description}: {len(data.X_train)} for training, {n_test} for testing "
          f"({data.test_description})")
    with run_folder(args.out, config, "", overwrite=args.overwrite,
                    allow_outside=args.allow_outside) as out_dir:
        return _train_in(out_dir, config, data, task, args, distributed)


def _run_on_ranks(args) -> int:
    """``nablanet train`` as one rank of an MPI job: rank 0 runs the command, the others only train with it."""
    from nablanet.cli.entry import _is_user_error, _one_line
    from nablanet.distributed import mpi_world

    comm = mpi_world()
    try:
        if comm.Get_rank() == 0:
            return _run(args, distributed="mpi")
        return _train_only(args)
    except Exception as error:
        # A rank that stops alone leaves the others waiting in their next all-reduce, and itself in MPI's
        # finalization: say why in the command's one line (a bug keeps its traceback), then end every rank.
        if args.debug or not _is_user_error(error):
            traceback.print_exc()
        else:
            print(f"nablanet train: error (rank {comm.Get_rank()}): {_one_line(error)}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # MPI_Abort tears the whole job down at once, and mpiexec can drop output it has not yet forwarded: the
        # pause lets the line reach the user's terminal first (it costs nothing on the way that succeeds).
        time.sleep(0.5)
        comm.Abort(1)
        return 1


def _train_only(args) -> int:
    """The part of a rank other than 0: the same data and network, trained with rank 0; nothing printed or written."""
    from nablanet import experiment as cfg

    with open(os.devnull, "w", encoding="utf-8") as quiet, contextlib.redirect_stdout(quiet):
        config = _config(args)
        data = cfg.load_data(config)
        task = cfg.make_task(config, data.y_all)
        cfg.fit_config(config, data.X_train, data.y_train, task, progress=False, feature_names=data.feature_names,
                       classes=data.classes, distributed="mpi")
    return 0


def _config(args):
    """The run's config: CONFIG.toml with the overrides, or for a data file (``nablanet train data.csv``) the
    defaults with it as data.source and, for a CSV, its last column as the target unless one is named."""
    from nablanet import experiment as cfg
    from nablanet.datasets.registry import FILE_FORMATS
    from nablanet.experiment.data import source_reader

    target = [] if args.target is None else [("data.target", args.target)]
    # A data file by its suffix (.csv, .npz); anything else, folders included, is a config file.
    data_suffixes = {suffix for record in FILE_FORMATS.values() for suffix in record.suffixes}
    if args.config is None or Path(args.config).suffix.lower() not in data_suffixes:
        return cfg.load_config(args.config, target + list(args.set))
    config = cfg.load_config(None, [("data.source", str(args.config))] + target + list(args.set))
    table = source_reader(config.get("data.source"), config.get("data.format")).name == "csv"
    if "data.target" in config.given or not table or not Path(config.get("data.source")).is_file():
        return config
    from nablanet.datasets.files import csv_column_names

    names = csv_column_names(config.get("data.source"), delimiter=config.get("data.delimiter"),
                             header=config.get("data.header"))
    return config.with_values({"data.target": names[-1] if config.get("data.header") else len(names) - 1})


def _train_in(out_dir: Path, config, data, task, args, distributed: str | None = None) -> int:
    from nablanet import experiment as cfg
    from nablanet import io
    from nablanet.train import evaluate

    monitor = None
    if config.get("train.monitor"):
        from nablanet.diagnostics import TrainingMonitor

        monitor = TrainingMonitor()
    model, history, preprocessor = cfg.fit_config(config, data.X_train, data.y_train, task,
                                                  progress=False if args.no_progress else None,
                                                  callbacks=[monitor] if monitor else (),
                                                  feature_names=data.feature_names, classes=data.classes,
                                                  distributed=distributed)
    if preprocessor.classes_ is not None or preprocessor.encoder_ is not None:
        print(f"preprocessing: {preprocessor.summary()}")
    print(f"model: {_describe_model(model)}")
    if distributed is not None:
        from nablanet.distributed import mpi_world

        print(f"trained data-parallel on {mpi_world().Get_size()} ranks (MPI)")
    print(f"trained {len(history)} epochs{_early_stop_note(history, config)}; "
          f"{_format_scores({k: v[-1] for k, v in history.history.items() if k in ('loss', 'val_loss')})}")

    if data.X_test is not None:
        X_eval, y_eval, part, note = data.X_test, data.y_test, "test", ""
    else:
        X_eval, y_eval, part, note = data.X_train, data.y_train, "training", " (there is no test part)"
    scores = evaluate(model, preprocessor.transform(X_eval), y_eval, task.loss, task.metrics)
    print(f"{part} scores on {len(X_eval)} samples{note}: {_format_scores(scores)}")

    saved_config = portable(config)
    metadata = {
        "nablanet_cli": 1,
        "config": saved_config,
        "task": task.to_dict(),
        "data": {"description": data.description, "test": data.test_description},
        "scores": {"part": part, **scores},
        "epochs": len(history),
    }
    written = [io.save(out_dir / MODEL_FILE, model, metadata=metadata, preprocessing=preprocessor)]
    (out_dir / "config.toml").write_text(cfg.to_toml(saved_config), encoding="utf-8")
    written.append(out_dir / "config.toml")
    written.append(_write_history(history, out_dir / "history.csv"))
    written.extend(_training_plots(history, model, preprocessor, X_eval, y_eval, task, out_dir,
                                   label_names=data.label_names))
    if monitor is not None:
        written.extend(_monitor_files(monitor, out_dir))
    print(f"saved in {out_dir}/: " + ", ".join(path.name for path in written))
    print(f"next: nablanet evaluate {out_dir / MODEL_FILE} {_data_argument(config)}   |   "
          f"nablanet summary {out_dir / MODEL_FILE}")
    return 0


def _monitor_files(monitor, out_dir: Path) -> list:
    """The training monitor's report (printed and saved) and its per-layer plot."""
    from nablanet import plot

    report = monitor.report()
    print(report)
    path = out_dir / "monitor.txt"
    path.write_text(report + "\n", encoding="utf-8")
    return [path, plot.save(monitor.plot(), out_dir / "monitor.png")]


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


def _training_plots(history, model, preprocessor, X_eval, y_eval, task, out_dir: Path, *,
                    label_names=None) -> list:
    """The learning curves (and the confusion matrix for classification, its ticks the class names: of text
    targets, or the ``label_names`` a data set gives its labels 0, 1, ...) as PNGs; none without matplotlib."""
    try:
        from nablanet import plot

        written = [plot.save(plot.learning_curves(history), out_dir / "learning_curves.png")]
        if task.kind == "classification":
            from nablanet.train import confusion_matrix, predict

            matrix = confusion_matrix(predict(model, preprocessor.transform(X_eval)), y_eval,
                                      num_classes=task.n_classes, threshold=_class_threshold(task.loss))
            # The text targets' classes, else the names the data set gives its numbered labels (iris' species);
            # names that do not number the classes fall back to 0 .. K-1 rather than losing the run's plots.
            names = label_names if preprocessor.classes_ is None else [str(name) for name in preprocessor.classes_]
            if names is not None and len(names) != len(matrix):
                names = None
            figure = plot.confusion_matrix(matrix, class_names=names)
            written.append(plot.save(figure, out_dir / "confusion_matrix.png"))
    except ImportError as error:
        print(f"note: no plots ({error})", file=sys.stderr)
        return []
    return written


def _class_threshold(loss: str) -> float:
    """Where a one-output classifier trained with ``loss`` switches class: 0 for a logit or margin, else 1/2."""
    from nablanet.nn import loss_record

    threshold = loss_record(loss).threshold
    return 0.5 if threshold is None else threshold

"""`nablanet sweep`: grid, random or TPE search over config keys, scored by k-fold cross-validation, on the
local pool, a Dask cluster or an Optuna study; written a row at a time, and resumed where it stopped."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from nablanet.cli.runs import RUN_MARKER, portable, run_folder
from nablanet.cli.sweep_executors import DaskCluster, LocalPool
from nablanet.cli.sweep_record import (
    RECORD, TABLE, append_row, first_difference, holding, identity, read_record, rows_done, setting_key, write_file,
    write_table,
)
from nablanet.cli.sweep_worker import SweepFits
from nablanet.cli.tables import text_table

EXECUTORS = ("local", "dask", "optuna")


def run(args) -> int:
    """Train the config ``args.config`` once per setting of its [sweep] table and fold; write sweep.csv."""
    from nablanet import experiment as cfg
    from nablanet.preprocessing import k_fold

    flags = [(f"sweep.{key}", value) for key, value in (("scheduler", args.scheduler), ("storage", args.storage))
             if value is not None]
    config = cfg.load_config(args.config, [*args.set, *flags])
    keys, settings = cfg.sweep_settings(config)
    # Every setting is checked before anything trains: a bad value fails now, not after hours.
    for setting in settings:
        config.with_values(setting)
    kind = executor_kind(args, config)
    if kind == "optuna" and args.jobs is not None:
        raise ValueError("--jobs is for the local and dask executors: the optuna executor runs one trial at a time "
                         "in each process; start more processes with --join to run trials side by side")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    data = cfg.load_data(config)
    task = cfg.make_task(config, data.y_all)
    if kind == "optuna":
        from nablanet.cli.sweep_optuna import pruning_monitor

        # Checked before the folder is claimed: a sweep that cannot prune leaves nothing behind.
        pruning_monitor(config, task, cfg.score_names(config, task)[0])
    folds = config.get("sweep.folds")
    stratify = data.y_train if task.kind == "classification" and np.ndim(data.y_train) == 1 else None
    if stratify is not None and np.min(np.unique(stratify, return_counts=True)[1]) < folds:
        stratify = None
    splits = k_fold(data.X_train, n_splits=folds, stratify=stratify, shuffle=True, rng=config.get("seed"))
    fits = SweepFits(config, settings, data, task, list(splits))
    _, higher_is_better = cfg.score_names(config, task)
    out, rejoin = _folder(args, config, kind)
    with run_folder(out, config, "-sweep", overwrite=args.overwrite, allow_outside=args.allow_outside,
                    rejoin=rejoin) as out_dir:
        # One process at a time runs a sweep recorded in its table; the processes of a study share it.
        with holding(out_dir, RUN_MARKER, exclusive=kind != "optuna"):
            with _executor(kind, args, config, out_dir, jobs, higher_is_better) as executor:
                return _sweep_in(out_dir, fits, keys, executor, args)


def executor_kind(args, config) -> str:
    """``--executor``, or the one the other options imply: dask for a scheduler, optuna for a storage,
    --join or TPE search, else the local pool. An option that another executor needs is refused."""
    options = {
        "dask": [name for name, given in (("--scheduler (sweep.scheduler)", config.get("sweep.scheduler")),) if given],
        "optuna": [name for name, given in (("--storage (sweep.storage)", config.get("sweep.storage")),
                                            ("--join", args.join),
                                            ("sweep.search = \"tpe\"", config.get("sweep.search") == "tpe"))
                   if given],
    }
    implied = [name for name, given in options.items() if given]
    if args.executor is None and len(implied) > 1:
        raise ValueError(f"{options['dask'][0]} and {options['optuna'][0]} are for two executors, dask and optuna; "
                         f"choose one")
    kind = args.executor or (implied[0] if implied else "local")
    for other, given in options.items():
        if other != kind and given:
            raise ValueError(f"{given[0]} is for the {other} executor, not {kind} (--executor {kind})")
    return kind


def _folder(args, config, kind: str):
    """The --out of the sweep's folder, and whether (and how) a folder holding a sweep may be entered again.

    ``--resume DIR`` continues the sweep in DIR; ``--join`` takes part in a study, in its folder if
    it has one (``--out DIR``, or ``<out>/<name>-sweep`` where every joining process finds it). Both
    enter a folder that holds a run only if it is this sweep's; a plain sweep is refused there, as
    run_folder refuses every run.
    """
    current = identity(portable(config))

    def rejoin(folder: Path) -> None:
        saved = folder / "config.toml"
        if not saved.is_file():
            return   # claimed by a sweep that stopped before it wrote anything
        from nablanet.experiment.toml import read_toml

        difference = first_difference(identity(read_toml(saved)), current)
        if difference is not None:
            raise ValueError(f"{folder} holds the sweep of another config ({difference}); resume it with the config "
                             f"it was started with, or sweep into another folder")
        record = (read_record(folder) or {}).get("record")
        wanted = "study" if kind == "optuna" else TABLE
        if record is not None and record != wanted:
            raise ValueError(f"{folder} holds a sweep kept in its {record}, which the {kind} executor would not "
                             f"read; resume it with --executor {'optuna' if record == 'study' else 'local or dask'}")

    if args.resume is not None:
        if not (args.resume / RUN_MARKER).is_file():
            raise FileNotFoundError(f"--resume {args.resume}: holds no sweep to resume (no {RUN_MARKER} in it); "
                                    f"start one with --out {args.resume}")
        return args.resume, rejoin
    return args.out, rejoin if args.join else None


def _study_name(config) -> str:
    return config.get("sweep.study") or config.run_name


def _executor(kind: str, args, config, out_dir: Path, jobs: int, higher_is_better: bool):
    if kind == "local":
        return LocalPool(jobs, args.threads)
    if kind == "dask":
        return DaskCluster(config.get("sweep.scheduler"), jobs, args.threads)
    from nablanet.cli.sweep_optuna import OptunaStudy

    # Without a storage the study is a file of the sweep's folder, so that --resume DIR finds it.
    storage = config.get("sweep.storage") or f"sqlite:///{(out_dir / 'study.db').resolve()}"
    return OptunaStudy(storage, _study_name(config), config, identity(portable(config)),
                       join=args.join or args.resume is not None, higher_is_better=higher_is_better)


def _sweep_in(out_dir: Path, fits: SweepFits, keys, executor, args) -> int:
    from nablanet import experiment as cfg

    config, settings, data = fits.config, fits.settings, fits.data
    score, higher_is_better = cfg.score_names(config, fits.task)
    table = out_dir / TABLE
    done = {} if executor.record == "study" else rows_done(table, keys, settings)
    todo = [i for i in range(len(settings)) if i not in done]
    n_test = 0 if data.X_test is None else len(data.X_test)
    resumed = f"; {len(done)} already scored in {table}" if done else ""
    drawn = "TPE " if config.get("sweep.search") == "tpe" else ""
    print(f"sweep: {len(settings)} {drawn}settings of {', '.join(keys)} x {len(fits.splits)} folds (+1 test fit "
          f"each) on {data.description}; {len(data.X_train)} training, {n_test} test samples; "
          f"{executor.describe()}{resumed}")
    write_file(out_dir / "config.toml", cfg.to_toml(portable(config)))
    record = {"record": executor.record}
    if executor.record == "study":
        record.update(storage=executor.url, study=executor.study_name)
    write_file(out_dir / RECORD, json.dumps(record) + "\n")
    rows = list(done.values())
    for row in executor.rows(fits, todo, score=score, progress=not args.no_progress):
        # Each row is on disk as soon as its trial is scored: a sweep stopped now resumes from here.
        append_row(table, row)
        rows.append(row)
    rows = executor.table(rows)
    order = {setting_key(setting, keys): i for i, setting in enumerate(settings) if setting}
    rows.sort(key=lambda row: order.get(setting_key(row, keys), len(order)))
    written = [out_dir / "config.toml"]
    if not rows:
        print("no trial finished: nothing to tabulate", file=sys.stderr)
        return 0
    if executor.complete():
        # The finished table in the order of the settings, whatever order the trials finished in.
        write_table(rows, table)
    written.append(table)
    ranked = _ranked(rows, score, higher_is_better)
    write_file(out_dir / "best.toml", cfg.to_toml(_best_config(config, {key: ranked[0][key] for key in keys})))
    written.append(out_dir / "best.toml")
    written.extend(_sweep_heatmaps(rows, keys, score, data.X_test is not None, config, out_dir))
    _print_sweep(ranked, keys, score)
    for note in executor.notes():
        print(f"note: {note}")
    print(f"saved in {out_dir}/: " + ", ".join(path.name for path in written))
    return 0


def _sweep_heatmaps(rows, keys, score, has_test, config, out_dir: Path) -> list:
    varying = [key for key in keys if len({json.dumps(row[key]) for row in rows}) > 1]
    if len(varying) != 2 or config.get("sweep.search") != "grid":
        search = config.get("sweep.search")
        what = f"a {search} search" if search != "grid" else f"{len(varying)} keys vary"
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


def _best_config(config, setting: dict) -> dict:
    """The config with the best setting, as a file for `nablanet train best.toml`: the keys the sweep's
    config gave (its data path made absolute) and the setting's, without [sweep]; the rest are defaults."""
    best = config.with_values(setting)
    values = portable(best)
    given = {"name": values["name"]}
    for path in best.given:
        parts = path.split(".")
        if parts[0] == "sweep":
            continue
        value = values
        for part in parts:
            value = value[part]
        node = given
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict):
            # A table given empty, such as [train.early_stopping], switches its feature on.
            node.setdefault(parts[-1], {})
        else:
            node[parts[-1]] = value
    return given


def _ranked(rows, score, higher_is_better: bool) -> list:
    """The rows best first by their cross-validation score (NaN, a diverged setting, last)."""
    mean_key = f"cv_{score}_mean"

    def rank(row):
        value = row[mean_key]
        return (math.isnan(value), -value if higher_is_better else value)

    return sorted(rows, key=rank)


def _print_sweep(ordered, keys, score) -> None:
    mean_key = f"cv_{score}_mean"
    headers = list(ordered[0])
    print(text_table(headers, [[_short(row[key]) for key in headers] for row in ordered]))
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

"""`nablanet sweep`: grid or random search over config keys, scored by k-fold cross-validation in parallel processes."""

from __future__ import annotations

import concurrent.futures
import csv
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

from nablanet.cli.runs import portable, run_folder
from nablanet.cli.sweep_worker import SweepFits, score_in_worker, start_worker
from nablanet.cli.tables import csv_number, text_table


def run(args) -> int:
    """Train the config ``args.config`` once per setting of its [sweep] table and fold; write sweep.csv."""
    from nablanet import experiment as cfg
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
    fits = SweepFits(config, settings, data, task, list(splits))
    with run_folder(args.out, config, "-sweep", overwrite=args.overwrite,
                    allow_outside=args.allow_outside) as out_dir:
        return _sweep_in(out_dir, fits, keys, jobs, args)


def _sweep_in(out_dir: Path, fits: SweepFits, keys, jobs: int, args) -> int:
    from nablanet import experiment as cfg

    config, settings, data = fits.config, fits.settings, fits.data
    score, higher_is_better = cfg.score_names(config, fits.task)
    folds = len(fits.splits)
    results = _run_fits(fits, jobs, args.threads, progress=not args.no_progress)

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
    (out_dir / "config.toml").write_text(cfg.to_toml(portable(config)), encoding="utf-8")
    written.append(out_dir / "config.toml")
    written.extend(_sweep_heatmaps(rows, keys, score, data.X_test is not None, config, out_dir))
    _print_sweep(rows, keys, score, higher_is_better)
    print(f"saved in {out_dir}/: " + ", ".join(path.name for path in written))
    return 0


def _run_fits(fits: SweepFits, jobs: int, threads: int, *, progress: bool) -> dict:
    """``{(setting, fold): score}`` for every setting and fold (fold ``None``: the test fit), in ``jobs`` processes."""
    work = [(i, fold) for i in range(len(fits.settings)) for fold in list(range(len(fits.splits))) + [None]]
    results = {}
    bar = _progress(len(work), "sweep", disabled=not progress)
    if jobs == 1:
        for i, fold in work:
            results[i, fold] = fits.score(i, fold)
            bar.update()
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, initializer=start_worker,
                                                    initargs=(fits, threads), mp_context=_spawn_context()) as pool:
            futures = {pool.submit(score_in_worker, i, fold): (i, fold) for i, fold in work}
            try:
                for future in concurrent.futures.as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    bar.close()
    return results


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
            writer.writerow({key: csv_number(value) if isinstance(value, float) else json.dumps(value)
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

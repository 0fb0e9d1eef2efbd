"""Where a sweep's trials run: one interface (settings in, rows out, each as soon as it is scored), and its
local process pool and Dask implementations (the Optuna study is in sweep_optuna.py)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys

from nablanet.cli.sweep_record import trial_row
from nablanet.cli.sweep_worker import SweepFits, score_in_worker, score_on_dask, start_worker

#: Seconds to wait for a Dask scheduler to answer before saying there is none at the address.
CONNECT_TIMEOUT = 5


class Executor:
    """Runs the trials of a sweep, each one setting's k fold fits and its test fit, and yields their rows.

    Subclasses implement ``rows``; a trial's row is made by ``sweep_record.trial_row`` whatever ran it,
    so that the table, the heatmaps and the best setting are the same for every executor.
    """

    #: The word of ``--executor`` for it.
    name = ""
    #: What keeps the finished trials: ``"sweep.csv"`` (the table), or ``"study"`` (an Optuna study).
    record = "sweep.csv"

    def describe(self) -> str:
        """Where the fits run, for the line the sweep starts with."""
        raise NotImplementedError

    def rows(self, fits: SweepFits, todo: list, *, score: str, progress: bool):
        """Score the settings ``fits.settings[i]`` for ``i`` in ``todo``; yield each trial's row as it finishes.

        Rows come in the order the trials finish, not the order of ``todo``.
        """
        raise NotImplementedError

    def table(self, rows: list) -> list:
        """Every row of the sweep, given those this process knows of (read back and just scored)."""
        return rows

    def complete(self) -> bool:
        """Whether every trial of the sweep has finished (in this or, for a shared study, other processes)."""
        return True

    def notes(self) -> list:
        """Lines to print under the table: what else happened to the trials."""
        return []

    def close(self) -> None:
        """Let go of the processes, the cluster or the storage it holds."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class LocalPool(Executor):
    """The fits in ``jobs`` spawned processes of this machine (in this process for ``jobs=1``)."""

    name = "local"

    def __init__(self, jobs: int, threads: int):
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        self.jobs, self.threads = jobs, threads

    def describe(self) -> str:
        return f"{self.jobs} process{'es' if self.jobs > 1 else ''}"

    def rows(self, fits: SweepFits, todo: list, *, score: str, progress: bool):
        work = _work(fits, todo)
        bar = _progress(len(work), disabled=not progress)
        trials = _Trials(fits, score)
        try:
            if self.jobs == 1:
                for setting, fold in work:
                    row = trials.add(setting, fold, fits.score(setting, fold))
                    bar.update()
                    if row is not None:
                        yield row
                return
            with concurrent.futures.ProcessPoolExecutor(max_workers=self.jobs, initializer=start_worker,
                                                        initargs=(fits, self.threads),
                                                        mp_context=_spawn_context()) as pool:
                futures = {pool.submit(score_in_worker, setting, fold): (setting, fold) for setting, fold in work}
                try:
                    for future in concurrent.futures.as_completed(futures):
                        row = trials.add(*futures[future], future.result())
                        bar.update()
                        if row is not None:
                            yield row
                finally:
                    # Interrupted (or stopped by whoever reads the rows): the fits not started never start.
                    for future in futures:
                        future.cancel()
        finally:
            bar.close()


class DaskCluster(Executor):
    """The fits as tasks of a Dask cluster: the scheduler at ``address``, or a LocalCluster of ``jobs`` workers.

    The sweep's data go to every worker once (``Client.scatter``), then each fit is one task. The
    workers need nablanet installed, and the data files the config names at the same paths.
    """

    name = "dask"

    def __init__(self, address: str, jobs: int, threads: int):
        distributed = _import_distributed()
        self.address, self.threads, self.cluster = address, threads, None
        if address:
            try:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as error:
                raise ConnectionError(f"--scheduler {address}: no Dask scheduler answered there within "
                                      f"{CONNECT_TIMEOUT} s ({' '.join(str(error).split())}); start one with "
                                      f"`dask scheduler` or check the address") from None
        else:
            if jobs < 1:
                raise ValueError(f"--jobs must be at least 1, got {jobs}")
            import logging

            # One process per worker, one thread each: the fits are NumPy loops that hold the GIL.
            with _environment_kept():
                self.cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = distributed.Client(self.cluster)

    def describe(self) -> str:
        workers = len(self.client.scheduler_info().get("workers", {}))
        where = f"the Dask scheduler {self.address}" if self.address else "a local Dask cluster"
        return f"{workers} worker{'s' if workers != 1 else ''} of {where}"

    def rows(self, fits: SweepFits, todo: list, *, score: str, progress: bool):
        distributed = _import_distributed()
        work = _work(fits, todo)
        bar = _progress(len(work), disabled=not progress)
        trials = _Trials(fits, score)
        shared = self.client.scatter(fits, broadcast=True)
        futures = {self.client.submit(score_on_dask, shared, setting, fold, self.threads, pure=False): (setting, fold)
                   for setting, fold in work}
        try:
            for future in distributed.as_completed(list(futures)):
                row = trials.add(*futures[future], future.result())
                bar.update()
                if row is not None:
                    yield row
        finally:
            self.client.cancel(list(futures))
            bar.close()

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            with _environment_kept():
                self.cluster.close()


@contextlib.contextmanager
def _environment_kept():
    """This process's environment variables as they were before the block, whatever it set.

    A LocalCluster's nannies live in this process and set the variables meant for the workers they
    spawn (MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS, PYTHONHASHSEED, ...) in its own os.environ, where
    every later child process, and glibc's malloc of any, would inherit them.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _Trials:
    """Collects the fits of each setting as they come, in any order; a setting's row once all its fits are in."""

    def __init__(self, fits: SweepFits, score: str):
        self.fits, self.score = fits, score
        self.scores = {}

    def add(self, setting: int, fold, value: float) -> dict | None:
        scores = self.scores.setdefault(setting, {})
        scores[fold] = value
        if len(scores) < len(self.fits.splits) + 1:
            return None
        del self.scores[setting]
        return trial_row(self.fits.settings[setting], scores, self.score, self.fits.data.X_test is not None)


def _work(fits: SweepFits, todo: list) -> list:
    """Every fit of the settings ``todo``: ``(setting, fold)``, fold ``None`` for the test fit."""
    return [(setting, fold) for setting in todo for fold in [*range(len(fits.splits)), None]]


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("the dask executor needs Dask's distributed scheduler: "
                          "pip install 'nablanet[dask]'") from None
    return distributed


def _spawn_context():
    import multiprocessing

    # Fresh interpreters rather than forks: a fork of a process with threads (tqdm's monitor, BLAS) can
    # deadlock, and spawn behaves the same on Linux, macOS and Windows.
    return multiprocessing.get_context("spawn")


def _progress(total: int, disabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="sweep", unit="fit", disable=disabled, file=sys.stderr, leave=False)

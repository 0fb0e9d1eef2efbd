"""The Optuna executor of `nablanet sweep`: the trials are an Optuna study's, in a storage that many processes share.

The process that creates the study puts every trial of the budget in its queue (Optuna's waiting
trials): grid and random search with their settings fixed, the very settings the other executors
try; TPE search with nothing fixed, for the sampler to fill in when the trial starts. Every process
(`nablanet sweep --join`, on any machine that reaches the storage) then takes waiting trials one at
a time, with Optuna's ``study.ask()``, until none is left, so the budget is spent exactly and no trial
runs twice. A running trial sends a heartbeat; one whose process died (killed, preempted) falls silent,
and the next process to look marks it failed and queues it again with the same setting. Everything
goes through Optuna's public API: create_study / load_study, enqueue_trial, ask and tell, get_trials by
state, fail_stale_trials and RetryHeartbeatStaleTrialCallback, and RDBStorage's own methods for a
trial's id and its heartbeats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import threading
import time
import warnings
from pathlib import Path

from nablanet.cli.sweep_executors import CONNECT_TIMEOUT, Executor
from nablanet.cli.sweep_record import first_difference, locked, trial_row
from nablanet.cli.sweep_worker import SweepFits

# The study's user attributes: the sweep that made it (config, keys, trials); a trial's row once scored.
SWEEP_ATTR = "nablanet_sweep"
ROW_ATTR = "nablanet_row"
# Which process ran a trial, as host:pid.
PROCESS_ATTR = "nablanet_process"
# On each trial the sweep queues (and so on its retries, which copy it): the index of its setting. A trial
# without it was started by ask() because no queued trial was left for it: beyond the budget, never run.
QUEUED_ATTR = "nablanet_setting"
# On such a trial, why it failed at once.
SURPLUS_ATTR = "nablanet_surplus"
# How long a joining process waits for the process creating the study to queue its trials.
SETUP_WAIT = 60.0
# Tries at opening a new storage that other processes are setting up at the same moment.
SETUP_ATTEMPTS = 5
# Seconds between looks at the study while its last trials run in other processes.
POLL = 1.0


class OptunaStudy(Executor):
    """The trials of an Optuna study in ``storage`` named ``study``, run one at a time in this process.

    Args:
        storage: an SQLAlchemy database URL (``sqlite:///study.db``, ``postgresql://...``).
        study: the study's name.
        config: the sweep's config; its ``sweep`` table gives the search space, the pruner, the heartbeat.
        identity: the config values that decide the results (sweep_record.identity): a process joins
            only a study made by the same.
        join: take part in the study if it already exists (without ``join`` an existing study is refused,
            so that two sweeps never mix by accident); a study that does not exist is created either way.
        higher_is_better: the study's direction, that of the sweep's score.
    """

    name = "optuna"
    record = "study"

    def __init__(self, storage: str, study: str, config, identity: dict, *, join: bool, higher_is_better: bool):
        self.optuna = _import_optuna()
        self.url, self.study_name, self.config, self.identity, self.join = storage, study, config, identity, join
        self.direction = "maximize" if higher_is_better else "minimize"
        self.heartbeat = config.get("sweep.heartbeat")
        self.storage = _open_storage(self.optuna, storage, self.heartbeat)
        self.claim_lock = _claim_lock_path(storage)
        self.study = self.study_id = None
        # Whether the study's queued trials carry QUEUED_ATTR (a study made before they did: every trial counts).
        self.marked = True
        self.pruned = 0

    def describe(self) -> str:
        return f"the Optuna study {self.study_name!r} in {self.url}, trials in this process"

    def rows(self, fits: SweepFits, todo: list, *, score: str, progress: bool):
        optuna = self.optuna
        specs = {key: self.config.get("sweep")[key] for key in _keys(fits)}
        monitor = pruning_monitor(fits.config, fits.task, score)
        self.study = self._open_study(fits, todo, specs)
        self.study_id = self.storage.get_study_id_from_name(self.study_name)
        while (taken := self._next_trial()) is not None:
            trial, trial_id = taken
            with _Heartbeat(self.storage, trial_id, self.heartbeat):
                try:
                    row = self._run(trial, fits, specs, score, monitor)
                except optuna.TrialPruned:
                    self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    self.pruned += 1
                    continue
                except BaseException:
                    # Interrupted or failed: the trial goes back in the queue, for this or another process.
                    _requeue(optuna, self.study, self.study.tell(trial, state=optuna.trial.TrialState.FAIL))
                    raise
            yield row

    def table(self, rows: list) -> list:
        if self.study is None:
            return rows
        return [trial.user_attrs[ROW_ATTR] for trial in self.study.get_trials(deepcopy=False)
                if ROW_ATTR in trial.user_attrs]

    def complete(self) -> bool:
        states = self.optuna.trial.TrialState
        return self.study is None or not self.study.get_trials(deepcopy=False, states=(states.WAITING, states.RUNNING))

    def notes(self) -> list:
        notes = [f"{self.pruned} trial{'s' if self.pruned != 1 else ''} of this process pruned"] if self.pruned else []
        if not self.complete():
            states = self.optuna.trial.TrialState
            running = len(self.study.get_trials(deepcopy=False, states=(states.WAITING, states.RUNNING)))
            notes.append(f"{running} trial{'s' if running != 1 else ''} of the study still to finish in other "
                         f"processes: the table holds the trials finished so far")
        return notes

    def close(self) -> None:
        self.storage.remove_session()
        self.storage.engine.dispose()

    def _open_study(self, fits: SweepFits, todo: list, specs: dict):
        optuna = self.optuna
        tpe = fits.config.get("sweep.search") == "tpe"
        pruner = (optuna.pruners.NopPruner() if self.config.get("sweep.pruner") == "none"
                  else optuna.pruners.MedianPruner())

        def sampler(seed):
            # Grid and random trials have every parameter fixed; the sampler only draws for TPE's.
            if not tpe:
                return optuna.samplers.RandomSampler(seed=seed)
            # constant_liar: a trial still running counts as a poor one, so that processes working at
            # once do not all propose the same setting.
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                study = optuna.create_study(storage=self.storage, study_name=self.study_name,
                                            direction=self.direction, sampler=sampler(fits.config.get("seed")),
                                            pruner=pruner)
            except optuna.exceptions.DuplicatedStudyError:
                if not self.join:
                    raise FileExistsError(f"the study {self.study_name!r} already exists in {self.url}; pass --join "
                                          f"to take part in it (and finish it), or name another with --set "
                                          f"sweep.study=NAME") from None
                # A joining process draws TPE's first settings from its own seed: with the creator's it
                # would propose the same ones.
                study = optuna.load_study(storage=self.storage, study_name=self.study_name, sampler=sampler(None),
                                          pruner=pruner)
                self._check_joined(study)
                return study
        for index in todo:
            setting = fits.settings[index]
            study.enqueue_trial({key: _encode(specs[key], value) for key, value in setting.items()},
                                user_attrs={QUEUED_ATTR: index})
        study.set_user_attr(SWEEP_ATTR, {"config": self.identity, "keys": list(specs), "trials": len(todo),
                                         "marked": True})
        return study

    def _check_joined(self, study) -> None:
        """Wait until the creator has queued the study's trials, and check it is this sweep's study."""
        deadline = time.monotonic() + SETUP_WAIT
        while SWEEP_ATTR not in (attrs := study.user_attrs):
            if time.monotonic() > deadline:
                raise ValueError(f"the study {self.study_name!r} in {self.url} is not a nablanet sweep's, or its "
                                 f"creator stopped before queuing its trials; name another with --set sweep.study=NAME")
            time.sleep(0.5)
        self.marked = attrs[SWEEP_ATTR].get("marked", False)
        difference = first_difference(attrs[SWEEP_ATTR]["config"], self.identity)
        if difference is not None:
            raise ValueError(f"the study {self.study_name!r} in {self.url} is another config's sweep ({difference}); "
                             f"join it with the config that made it, or name another with --set sweep.study=NAME")

    def _next_trial(self):
        """A waiting trial of the study, taken with ``study.ask()`` and now running in this process, with its id
        in the storage (for its heartbeat); None once every trial has finished.

        ask() takes the first waiting trial, but starts a new one when none is left (study.optimize runs
        as many trials as it is told). So a process asks only once it has seen a waiting trial, and the
        processes that share a lock file (those of one machine; for an SQLite database, those of its file
        system) look and ask in turn: two that both saw the last waiting trial would otherwise ask at once,
        and the one that lost would get a trial beyond the budget. Such a trial (processes on machines that
        share no lock) is told failed at once, marked SURPLUS_ATTR, and never run: each setting runs once.

        While trials still run elsewhere and none waits, it looks again every POLL seconds: a trial whose
        process died comes back into the queue once its heartbeat is two intervals old, and must be run.
        """
        optuna = self.optuna
        states = optuna.trial.TrialState
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # Silent trials failed and queued again (the storage's RetryHeartbeatStaleTrialCallback).
                optuna.storages.fail_stale_trials(self.study)
            trial = None
            with _claim_lock(self.claim_lock):
                if self.study.get_trials(deepcopy=False, states=(states.WAITING,)):
                    with warnings.catch_warnings():
                        # Optuna warns that heartbeats are meant for study.optimize; _Heartbeat sends this one's.
                        warnings.filterwarnings("ignore", message="Heartbeat of storage")
                        trial = self.study.ask()
            if trial is not None:
                trial_id = self.storage.get_trial_id_from_study_id_trial_number(self.study_id, trial.number)
                # At once: a running trial with no heartbeat yet is never taken for a dead one, and would stay
                # running for ever if this process died now.
                self.storage.record_heartbeat(trial_id)
                if self.marked and QUEUED_ATTR not in trial.user_attrs:
                    trial.set_user_attr(SURPLUS_ATTR, "started by ask() after another process took the last "
                                                      "queued trial; not run")
                    self.study.tell(trial, state=states.FAIL)
                    continue
                trial.set_user_attr(PROCESS_ATTR, f"{socket.gethostname()}:{os.getpid()}")
                return trial, trial_id
            if not self.study.get_trials(deepcopy=False, states=(states.WAITING, states.RUNNING)):
                return None
            time.sleep(min(self.heartbeat, POLL))

    def _run(self, trial, fits: SweepFits, specs: dict, score: str, monitor: str | None) -> dict:
        """Score the trial's setting: its folds, each reporting to the pruner, then its test fit; tell the study."""
        from nablanet.train import OptunaPruning

        optuna = self.optuna
        values = {key: _suggest(trial, key, spec) for key, spec in specs.items()}
        epochs = fits.config.with_values(values).get("train.epochs")
        scores = {}
        for fold in range(len(fits.splits)):
            callbacks = [] if monitor is None else [OptunaPruning(trial, monitor, step_offset=fold * epochs)]
            scores[fold] = fits.score_values(values, fold, callbacks)
        scores[None] = fits.score_values(values, None)
        row = trial_row(values, scores, score, fits.data.X_test is not None)
        trial.set_user_attr(ROW_ATTR, row)
        value = row[f"cv_{score}_mean"]
        if value != value:
            # A setting whose fits diverged scores NaN, which Optuna does not take as a value.
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)
        return row


def pruning_monitor(config, task, score: str) -> str | None:
    """The History key the pruner watches: the validation value of the sweep's own score (the study's
    pruner compares values in the study's direction, that of the score), or None without pruning.

    Raises:
        ValueError: the fits would not record it (no validation split, or the score not among the metrics).
    """
    if config.get("sweep.pruner") == "none":
        return None
    monitor = "val_loss" if score == "loss" else f"val_{score}"
    if not config.get("train.validation_split"):
        raise ValueError(f"sweep.pruner = \"median\" watches {monitor} after each epoch, which needs validation data: "
                         f"set train.validation_split (e.g. 0.1) or sweep.pruner = \"none\"")
    if score != "loss" and score not in task.metrics:
        raise ValueError(f"sweep.pruner = \"median\" watches {monitor}, which the fits do not record: add "
                         f"\"{score}\" to train.metrics or set sweep.pruner = \"none\"")
    return monitor


class _Heartbeat:
    """Records the trial's heartbeat in the storage now and every ``interval`` seconds, until the block ends."""

    def __init__(self, storage, trial_id: int, interval: int):
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(self.interval):
                return

    def __enter__(self):
        self.storage.record_heartbeat(self.trial_id)
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.thread.join()


def _claim_lock_path(url: str) -> Path:
    """The file that the processes of a storage's studies lock while they look for a waiting trial and ask for it:
    beside an SQLite database (shared by the processes of every machine that shares its file system), else in
    this machine's temporary folder."""
    import sqlalchemy

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        database = Path(parsed.database).resolve()
        return database.with_name(f"{database.name}.nablanet-lock")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"nablanet-optuna-{digest}.lock"


@contextlib.contextmanager
def _claim_lock(path: Path):
    """Hold the lock of ``path`` for the block; without one (a folder that cannot be written, a file system
    without locks), run the block all the same: a lost race then costs a surplus trial, never a rerun."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(stack.enter_context(open(path, "a", encoding="utf-8"))))
        except OSError:
            pass
        yield


def _keys(fits: SweepFits) -> list:
    from nablanet import experiment as cfg

    return cfg.sweep_settings(fits.config)[0]


def _encode(spec, value):
    """A setting's value as the study stores it: a choice from a list as its JSON text (lists may hold lists)."""
    return json.dumps(value) if isinstance(spec, list) else value


def _suggest(trial, key: str, spec):
    """The trial's value of ``key``: fixed when it was queued with one, else drawn by the study's sampler."""
    if isinstance(spec, list):
        return json.loads(trial.suggest_categorical(key, [json.dumps(value) for value in spec]))
    (distribution, (low, high)), = spec.items()
    if distribution == "randint":
        return trial.suggest_int(key, int(low), int(high))
    return float(trial.suggest_float(key, low, high, log=distribution == "loguniform"))


def _requeue(optuna, study, trial) -> None:
    """Queue a trial that did not finish again, with its setting: what Optuna does for a trial gone silent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None)(study, trial)


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("the optuna executor needs Optuna: pip install 'nablanet[optuna]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _open_storage(optuna, url: str, heartbeat: int):
    """Optuna's RDBStorage at ``url``, with heartbeats; an SQLite file's transactions serialized (see below).

    A path, which Optuna's own command line takes for a journal file (JournalStorage), is refused: journals
    record no heartbeats, so the trial of a killed process would stay running, and the study unfinished, for ever.
    """
    import sqlalchemy

    if "://" not in url:
        raise ValueError(f"--storage {url}: is not a database URL; give one such as sqlite:///study.db or "
                         f"postgresql://user@host/db (Optuna's journal files are not taken: they record no "
                         f"heartbeats, so the trial of a killed process would never run again)")
    backend = url.split(":", 1)[0].split("+", 1)[0]
    if backend == "sqlite":
        # Python's sqlite3 then leaves transactions to the BEGIN IMMEDIATE that _serialize_sqlite sends.
        engine_kwargs = {"connect_args": {"isolation_level": None, "timeout": 60}}
    elif backend in ("postgresql", "mysql"):
        engine_kwargs = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    else:
        engine_kwargs = {}
    for attempt in range(SETUP_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=2 * heartbeat,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=None))
            break
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError, ImportError, ValueError,
                OSError) as error:
            # Processes started together on a new database all create its tables: Optuna checks for each
            # table, then creates it, so all but one fail with "already exists"; the next try finds them.
            if attempt + 1 < SETUP_ATTEMPTS and (isinstance(error, sqlalchemy.exc.IntegrityError)
                                                 or "already exists" in str(error)):
                time.sleep(0.2 * (attempt + 1))
                continue
            cause = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConnectionError(f"--storage {url}: cannot open the study's storage ({cause}); give a database "
                                  f"URL such as sqlite:///study.db (its folder must exist) or "
                                  f"postgresql://user@host/db") from None
    if backend == "sqlite":
        _serialize_sqlite(sqlalchemy, storage.engine)
    return storage


def _serialize_sqlite(sqlalchemy, engine) -> None:
    """Begin every transaction of ``engine`` (an SQLite file's) with BEGIN IMMEDIATE, which takes the file's write lock.

    Optuna claims a waiting trial by reading its state and writing RUNNING in one transaction, which
    the "FOR UPDATE" of other databases makes atomic. SQLite has no FOR UPDATE, and Python's sqlite3
    begins a transaction only at its first write, so two processes can both read WAITING and both
    claim the trial (we saw it: two processes emptying one queue of 60 trials both ran trial 0).
    BEGIN IMMEDIATE makes the second process wait for the first to commit, so it reads RUNNING
    (SQLAlchemy's documented recipe for pysqlite). It starts after Optuna has set up its tables,
    which Optuna does on two connections at once: serialized, they would wait for each other.
    """
    @sqlalchemy.event.listens_for(engine, "begin")
    def begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

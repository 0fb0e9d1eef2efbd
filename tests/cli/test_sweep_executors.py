"""nablanet sweep's executors: the same table from the local pool, a Dask cluster and an Optuna study; processes
joining one study; a killed sweep resumed; and each of their user errors in one line."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli import SWEEP_CONFIG, assert_one_line_error, run

REPO = Path(__file__).resolve().parents[2]

# test_cli's sweep of a small network on iris: 2 x 2 settings, 2 folds, 2 epochs; no pruning (the local
# pool does not prune), so that every executor trains the same fits.
CONFIG = SWEEP_CONFIG + 'pruner = "none"\n'
IRIS = SWEEP_CONFIG.split("[train]")[0]

# TPE proposes the learning rates (distinct floats: a setting run twice would show), pruning on val_accuracy.
TPE_CONFIG = IRIS + """
[train]
epochs = 3
batch_size = 16
[sweep]
search = "tpe"
n_iter = 6
folds = 2
"optimizer.lr" = {loguniform = [1e-3, 1e-1]}
"""


def table(folder: Path) -> list:
    with open(folder / "sweep.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def command(*argv) -> list:
    return [sys.executable, "-m", "nablanet", "sweep", *map(str, argv), "--no-progress"]


ENVIRONMENT = dict(os.environ, PYTHONPATH=str(REPO / "src"))


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def local_table(config, tmp_path) -> list:
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", tmp_path / "local", "--no-progress"])
    assert status == 0, stderr
    return table(tmp_path / "local")


# ----------------------------------------------------------------------------------------------
# Every executor, one table
# ----------------------------------------------------------------------------------------------

def test_a_dask_local_cluster_of_two_workers_gives_the_local_pools_table(config, local_table, tmp_path):
    environment = dict(os.environ)
    status, stdout, stderr = run(["sweep", config, "--executor", "dask", "--jobs", 2, "--out", tmp_path / "dask",
                                  "--no-progress"])
    assert status == 0, stderr
    # The cluster's nannies set their workers' variables (MALLOC_TRIM_THRESHOLD_, ...) here: they are undone.
    assert dict(os.environ) == environment
    assert "2 workers of a local Dask cluster" in stdout
    assert table(tmp_path / "dask") == local_table
    assert len(local_table) == 4
    for name in ("best.toml", "heatmap_cv_accuracy_mean.png", "heatmap_test_accuracy.png"):
        assert (tmp_path / "dask" / name).is_file(), name
    assert (tmp_path / "dask" / "best.toml").read_text() == (tmp_path / "local" / "best.toml").read_text()


def test_a_sweep_on_the_scheduler_at_an_address_gives_the_local_pools_table(config, local_table, tmp_path):
    import distributed

    # A scheduler and a worker of this process stand for a cluster's (the fits run in the worker's thread).
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        status, stdout, stderr = run(["sweep", config, "--scheduler", cluster.scheduler_address,
                                      "--out", tmp_path / "remote", "--no-progress"])
    assert status == 0, stderr
    assert f"1 worker of the Dask scheduler {cluster.scheduler_address}" in stdout
    assert table(tmp_path / "remote") == local_table


def test_an_optuna_study_of_a_grid_gives_the_local_pools_table(config, local_table, tmp_path):
    status, stdout, stderr = run(["sweep", config, "--executor", "optuna", "--out", tmp_path / "optuna",
                                  "--no-progress"])
    assert status == 0, stderr
    assert f"sqlite:///{(tmp_path / 'optuna' / 'study.db').resolve()}" in stdout
    assert table(tmp_path / "optuna") == local_table
    assert (tmp_path / "optuna" / "best.toml").read_text() == (tmp_path / "local" / "best.toml").read_text()


def test_best_toml_trains_the_best_setting_to_its_test_score(config, local_table, tmp_path):
    from nablanet import experiment as cfg

    best = max(local_table, key=lambda row: float(row["cv_accuracy_mean"]))
    trained = cfg.load_config(tmp_path / "local" / "best.toml")
    assert trained.get("optimizer.lr") == float(best["optimizer.lr"])
    assert trained.get("train.l2") == float(best["train.l2"])
    status, stdout, stderr = run(["train", tmp_path / "local" / "best.toml", "--out", tmp_path / "best",
                                  "--no-progress"])
    assert status == 0, stderr
    # The sweep's test fit of that setting is this training run: same data split, seed and settings.
    assert f"accuracy {float(best['test_accuracy']):.4g}" in stdout


# ----------------------------------------------------------------------------------------------
# Processes joining one study
# ----------------------------------------------------------------------------------------------

def test_two_joining_processes_share_the_trial_budget_and_run_no_trial_twice(tmp_path):
    import optuna

    (tmp_path / "tpe.toml").write_text(TPE_CONFIG)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    argv = command("tpe.toml", "--storage", storage, "--join")
    processes = [subprocess.Popen(argv, cwd=tmp_path, env=ENVIRONMENT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in results]
    trials = optuna.load_study(study_name="tpe", storage=storage).trials
    # The budget exactly: 6 trials, each finished once, none failed (a claimed trial is never claimed again).
    assert sorted(trial.number for trial in trials) == list(range(6))
    states = [trial.state.name for trial in trials]
    assert set(states) <= {"COMPLETE", "PRUNED"} and states.count("COMPLETE") >= 5
    # Every trial ran in one of the two; on a loaded machine the second can start after the first has
    # claimed all six, so which of them ran trials is timing, not behaviour: the budget is the claim.
    runners = {trial.user_attrs["nablanet_process"] for trial in trials}
    assert runners and runners <= {f"{os.uname().nodename}:{process.pid}" for process in processes}
    # Both wrote into the one folder every joining process finds; its table has each completed trial once.
    rows = table(tmp_path / "nablanet-runs" / "tpe-sweep")
    completed = sorted(float(f"{trial.params['optimizer.lr']:.7g}") for trial in trials if trial.state.name == "COMPLETE")
    assert sorted(float(row["optimizer.lr"]) for row in rows) == completed
    assert len(set(completed)) == len(completed)


def test_a_trial_that_ask_starts_beyond_the_budget_is_failed_and_never_run(config, tmp_path, monkeypatch):
    import optuna

    from nablanet.cli.sweep_optuna import SURPLUS_ATTR

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    ask = optuna.study.Study.ask

    def ask_after_another_process_took_the_queue(study):
        # As a process on another machine (no lock in common) would between this one's look and its ask:
        # it takes every waiting trial, so that ask() finds none and starts a new one.
        monkeypatch.setattr(optuna.study.Study, "ask", ask)
        other = optuna.load_study(study_name=study.study_name, storage=storage)
        while other.get_trials(states=(optuna.trial.TrialState.WAITING,)):
            other.tell(other.ask(), state=optuna.trial.TrialState.PRUNED)
        return ask(study)

    monkeypatch.setattr(optuna.study.Study, "ask", ask_after_another_process_took_the_queue)
    status, _, stderr = run(["sweep", config, "--storage", storage, "--out", tmp_path / "out", "--no-progress"])
    assert status == 0, stderr
    trials = optuna.load_study(study_name="sweep", storage=storage).trials
    assert [trial.state.name for trial in trials] == ["PRUNED"] * 4 + ["FAIL"]
    surplus = trials[-1]
    assert SURPLUS_ATTR in surplus.user_attrs and surplus.params == {} and not surplus.intermediate_values
    assert "nablanet_row" not in surplus.user_attrs


def test_a_study_queued_before_its_trials_were_marked_is_still_run(config, tmp_path):
    import optuna

    from nablanet import experiment as cfg
    from nablanet.cli.runs import portable
    from nablanet.cli.sweep_optuna import SWEEP_ATTR
    from nablanet.cli.sweep_record import identity

    # The study as nablanet made it before it marked the trials it queues: no mark on any trial.
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="sweep", direction="maximize")
    settings = [(lr, l2) for lr in (1e-3, 1e-1) for l2 in (0.0, 1e-2)]
    for lr, l2 in settings:
        study.enqueue_trial({"optimizer.lr": str(lr), "train.l2": str(l2)})
    ran = cfg.load_config(config, [("sweep.storage", storage)])
    sweep = {"config": identity(portable(ran)), "keys": ["optimizer.lr", "train.l2"], "trials": 4}
    study.set_user_attr(SWEEP_ATTR, sweep)
    status, _, stderr = run(["sweep", config, "--storage", storage, "--join", "--out", tmp_path / "out",
                             "--no-progress"])
    assert status == 0, stderr
    trials = optuna.load_study(study_name="sweep", storage=storage).trials
    assert [trial.state.name for trial in trials] == ["COMPLETE"] * 4
    assert [(float(row["optimizer.lr"]), float(row["train.l2"])) for row in table(tmp_path / "out")] == settings


# ----------------------------------------------------------------------------------------------
# A killed sweep, resumed
# ----------------------------------------------------------------------------------------------

def _kill_after_first_row(argv, cwd: Path, table_path: Path, ready=lambda: True) -> int:
    """Start the sweep, SIGKILL it once sweep.csv holds a row and ``ready()``; the number of rows it wrote."""
    process = subprocess.Popen(argv, cwd=cwd, env=ENVIRONMENT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if table_path.is_file() and len(table_path.read_text().splitlines()) >= 2 and ready():
                break
            time.sleep(0.02)
        assert process.poll() is None, f"the sweep ended before it was killed: {process.stderr.read()}"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    return len(table_path.read_text().splitlines()) - 1


# Fits long enough that the kill comes while the sweep is still at work.
SLOW = ["--set", "train.epochs=30"]


def test_a_killed_sweep_resumed_scores_only_the_settings_it_had_not(config, tmp_path):
    out = tmp_path / "killed"
    written = _kill_after_first_row(command(config, "--jobs", 1, "--out", out, *SLOW), tmp_path, out / "sweep.csv")
    assert 1 <= written < 4
    # The refusal of run_folder stands: --out into the stopped sweep's folder is another run's folder.
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", out, "--no-progress", *SLOW])
    assert_one_line_error(status, stderr, f"--out {out}: holds another run")
    status, stdout, stderr = run(["sweep", config, "--jobs", 1, "--resume", out, "--no-progress", *SLOW])
    assert status == 0, stderr
    assert f"{written} already scored in {out / 'sweep.csv'}" in stdout
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", tmp_path / "whole", "--no-progress", *SLOW])
    assert status == 0, stderr
    # The rows written before the kill were kept, not trained again: the table is the uninterrupted sweep's.
    assert table(out) == table(tmp_path / "whole")
    assert len(table(out)) == 4


def test_a_killed_study_resumed_runs_the_killed_trial_again_and_no_finished_one(config, tmp_path):
    import optuna

    out = tmp_path / "study"
    storage = f"sqlite:///{out.resolve() / 'study.db'}"

    def a_trial_runs() -> bool:
        study = optuna.load_study(study_name="sweep", storage=storage)
        return bool(study.get_trials(states=(optuna.trial.TrialState.RUNNING,)))

    argv = command(config, "--executor", "optuna", "--out", out, *SLOW, "--set", "sweep.heartbeat=1")
    written = _kill_after_first_row(argv, tmp_path, out / "sweep.csv", ready=a_trial_runs)
    assert 1 <= written < 4
    status, stdout, stderr = run(["sweep", config, "--executor", "optuna", "--resume", out, "--no-progress", *SLOW,
                                  "--set", "sweep.heartbeat=1"])
    assert status == 0, stderr
    trials = optuna.load_study(study_name="sweep", storage=storage).trials
    complete = [trial for trial in trials if trial.state.name == "COMPLETE"]
    failed = [trial for trial in trials if trial.state.name == "FAIL"]
    # The killed trial, silent, was failed and queued again; the trials finished before the kill ran once.
    assert len(complete) == 4 and len(failed) == 1
    assert len({tuple(sorted(trial.params.items())) for trial in complete}) == 4
    assert failed[0].params in [trial.params for trial in complete]
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", tmp_path / "whole", "--no-progress", *SLOW])
    assert status == 0, stderr
    assert table(out) == table(tmp_path / "whole")


# ----------------------------------------------------------------------------------------------
# User errors, one line each
# ----------------------------------------------------------------------------------------------

def test_no_dask_scheduler_at_the_address_is_one_line(config, tmp_path):
    started = time.monotonic()
    status, _, stderr = run(["sweep", config, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "out",
                             "--no-progress"])
    assert_one_line_error(status, stderr, "--scheduler tcp://127.0.0.1:9: no Dask scheduler answered")
    assert not (tmp_path / "out").exists()
    assert time.monotonic() - started < 60   # the short connect timeout, not distributed's 30 s default x retries


@pytest.mark.parametrize("url, fragment", [
    ("sqlite:////no/such/folder/study.db", "cannot open the study's storage"),
    ("nosuchdatabase://host/db", "cannot open the study's storage"),
    # What Optuna's own command line takes for a journal file.
    ("journal.log", "is not a database URL"),
])
def test_unreachable_storage_is_one_line(config, tmp_path, url, fragment):
    status, _, stderr = run(["sweep", config, "--storage", url, "--out", tmp_path / "out", "--no-progress"])
    assert_one_line_error(status, stderr, f"--storage {url}: {fragment}")


@pytest.mark.parametrize("module, argv, extra", [
    ("distributed", ["--executor", "dask"], "pip install 'nablanet[dask]'"),
    ("optuna", ["--executor", "optuna"], "pip install 'nablanet[optuna]'"),
])
def test_a_missing_executor_package_names_its_extra(config, tmp_path, monkeypatch, module, argv, extra):
    monkeypatch.setitem(sys.modules, module, None)   # import fails as if it were not installed
    status, _, stderr = run(["sweep", config, *argv, "--out", tmp_path / "out", "--no-progress"])
    assert_one_line_error(status, stderr, extra)


def test_an_existing_study_is_joined_only_with_join(config, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    status, _, stderr = run(["sweep", config, "--storage", storage, "--out", tmp_path / "first", "--no-progress"])
    assert status == 0, stderr
    status, _, stderr = run(["sweep", config, "--storage", storage, "--out", tmp_path / "second", "--no-progress"])
    assert_one_line_error(status, stderr, "the study 'sweep' already exists", "--join")
    # Joining a finished study runs nothing and tabulates it.
    status, stdout, stderr = run(["sweep", config, "--storage", storage, "--join", "--out", tmp_path / "third",
                                  "--no-progress"])
    assert status == 0, stderr
    assert table(tmp_path / "third") == table(tmp_path / "first")
    status, _, stderr = run(["sweep", config, "--storage", storage, "--join", "--out", tmp_path / "fourth",
                             "--set", "train.epochs=3", "--no-progress"])
    assert_one_line_error(status, stderr, "is another config's sweep", "train.epochs: 2 then, 3 now")


@pytest.mark.parametrize("argv, fragments", [
    (["--resume", "NOT_A_SWEEP"], ["--resume", "holds no sweep to resume"]),
    (["--resume", "SWEPT", "--set", "train.epochs=3"], ["holds the sweep of another config",
                                                          "train.epochs: 2 then, 3 now"]),
    (["--resume", "SWEPT", "--executor", "optuna"], ["kept in its sweep.csv", "--executor local or dask"]),
    (["--set", "sweep.search=tpe", "--executor", "local", "--set", "sweep.n_iter=2"],
     ["sweep.search = \"tpe\" is for the optuna executor"]),
    (["--scheduler", "tcp://127.0.0.1:9", "--storage", "sqlite:///x.db"], ["are for two executors"]),
    (["--executor", "optuna", "--set", "sweep.pruner=median"], ["watches val_accuracy", "train.validation_split"]),
    (["--executor", "optuna", "--jobs", "2"], ["--jobs is for the local and dask executors", "--join"]),
])
def test_sweep_option_mistakes_are_one_line(argv, fragments, config, tmp_path):
    swept = tmp_path / "swept"
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", swept, "--no-progress"])
    assert status == 0, stderr
    (tmp_path / "not_a_sweep").mkdir()
    replacements = {"NOT_A_SWEEP": tmp_path / "not_a_sweep", "SWEPT": swept}
    argv = [replacements.get(a, a) for a in argv]
    out = [] if "--resume" in argv else ["--out", tmp_path / "out"]
    status, _, stderr = run(["sweep", config, *argv, *out, "--no-progress"])
    assert_one_line_error(status, stderr, "nablanet sweep: error:", *fragments)
    assert not (tmp_path / "out").exists()


def test_a_sweep_still_running_in_its_folder_is_not_resumed_a_second_time(config, tmp_path):
    from nablanet.cli.runs import RUN_MARKER
    from nablanet.cli.sweep_record import holding

    out = tmp_path / "swept"
    status, _, stderr = run(["sweep", config, "--jobs", 1, "--out", out, "--no-progress"])
    assert status == 0, stderr
    with holding(out, RUN_MARKER, exclusive=True):   # as the sweep running there holds it
        status, _, stderr = run(["sweep", config, "--jobs", 1, "--resume", out, "--no-progress"])
    assert_one_line_error(status, stderr, f"{out}: another nablanet sweep is running in this folder")
    status, stdout, stderr = run(["sweep", config, "--jobs", 1, "--resume", out, "--no-progress"])
    assert status == 0, stderr
    assert "4 already scored" in stdout

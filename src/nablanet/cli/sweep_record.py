"""A sweep's record on disk: sweep.csv written a row at a time and read back to resume, and what a resumed
sweep must match."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from nablanet.cli.tables import csv_number

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one process per sweep folder is then up to the user.
    fcntl = None

#: The table of a sweep, one row per trial scored.
TABLE = "sweep.csv"
#: What keeps the sweep's trials: the table itself, or an Optuna study (its storage and name).
RECORD = "sweep.json"
# Keys that say where and how the fits run, not what they compute: a sweep may resume on another cluster.
_WHERE_KEYS = ("out", "sweep.scheduler", "sweep.heartbeat")


def cell(value) -> str:
    """A value as its CSV cell: floats to seven digits, lists and tables as JSON, the rest as text."""
    if isinstance(value, float):
        return csv_number(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def setting_key(setting: dict, keys) -> tuple:
    """A setting as the cells of its row, so that a row read back from sweep.csv finds its setting."""
    return tuple(cell(setting[key]) for key in keys)


def trial_row(setting: dict, scores: dict, score: str, has_test: bool) -> dict:
    """The row of one trial: its setting, then the mean and spread of its fold scores and its test score.

    Args:
        setting: dotted keys -> the values tried.
        scores: fold number -> score, and ``None`` -> the test fit's score.
        score: the score's name (accuracy, loss, ...).
        has_test: the data have a test part (else there is no test column).
    """
    folds = np.array([scores[fold] for fold in sorted(fold for fold in scores if fold is not None)])
    row = dict(setting)
    row[f"cv_{score}_mean"] = float(np.mean(folds))
    row[f"cv_{score}_std"] = float(np.std(folds))
    if has_test:
        row[f"test_{score}"] = scores[None]
    return row


def append_row(path: Path, row: dict) -> None:
    """Add ``row`` to the table at ``path`` (its header first if the table is new) and flush it to the file.

    The file is locked while the row is written, so the processes of one shared study that write into
    one folder never interleave their rows; closing the file after each row hands it to the system
    (and, on a network file system, to the other machines) at once.
    """
    text = io.StringIO()
    writer = csv.writer(text)
    with open(path, "a", newline="", encoding="utf-8") as handle:
        with locked(handle):
            if handle.seek(0, os.SEEK_END) == 0:
                writer.writerow(list(row))
            writer.writerow([cell(value) for value in row.values()])
            handle.write(text.getvalue())
            handle.flush()


def write_table(rows: list, path: Path) -> Path:
    """The whole table at once (the finished sweep's, in the order of its settings), replacing ``path`` atomically."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow([cell(value) for value in row.values()])
    return write_file(path, text.getvalue())


def write_file(path: Path, text: str) -> Path:
    """``text`` as the file ``path``, replaced atomically: a process resuming or joining the sweep, which
    reads the folder's config while another writes it, sees the old file or the new one, never half."""
    from nablanet.io.atomic import replacing

    with replacing(path, 0o644) as stream:
        stream.write(text.encode("utf-8"))
    return path


def rows_done(path: Path, keys: list, settings: list) -> dict:
    """``{setting index: row}`` of the settings whose rows an earlier run of the sweep wrote to ``path``.

    A row's setting columns are matched to ``settings`` by their cells; its score columns are read
    as numbers. A row of a setting the sweep does not try means the table belongs to another sweep.

    Raises:
        ValueError: the table's columns or a row's setting are not this sweep's.
    """
    if not path.is_file():
        return {}
    index = {setting_key(setting, keys): i for i, setting in enumerate(settings)}
    done = {}
    with open(path, newline="", encoding="utf-8") as handle:
        for line, cells in enumerate(csv.DictReader(handle), start=2):
            if list(cells)[:len(keys)] != keys:
                raise ValueError(f"{path}: its columns {', '.join(cells)} are not those of this sweep, which varies "
                                 f"{', '.join(keys)}")
            key = tuple(cells[name] for name in keys)
            if key not in index:
                raise ValueError(f"{path}, line {line}: the setting {', '.join(key)} is not one this sweep tries")
            setting = settings[index[key]]
            row = dict(setting)
            row.update({name: float(value) for name, value in cells.items() if name not in keys})
            done[index[key]] = row
    return done


def identity(values: dict) -> dict:
    """The config values that decide what a sweep computes: a resumed sweep or a joined study must have the same.

    A key the values leave out counts as its default, as load_config reads it: a saved config holds no keys
    that its other settings leave unread (runs.portable), which the sweeps saved before that held at their
    defaults, and those sweeps resume.
    """
    from nablanet.experiment.schema import with_defaults

    values = with_defaults(json.loads(json.dumps(values)))
    for dotted in _WHERE_KEYS:
        *tables, key = dotted.split(".")
        node = values
        for table in tables:
            node = node.get(table, {})
        node.pop(key, None)
    return values


def first_difference(saved: dict, current: dict, prefix: str = "") -> str | None:
    """The first dotted key whose value differs between two configs' values, as ``key: saved -> current``."""
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = first_difference(a, b, f"{prefix}{key}.")
            if found is not None:
                return found
        elif a != b:
            return f"{prefix}{key}: {json.dumps(a)} then, {json.dumps(b)} now"
    return None


def read_record(folder: Path) -> dict | None:
    """What keeps the trials of the sweep in ``folder`` (sweep.json), or None if it wrote none yet."""
    path = folder / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def holding(folder: Path, marker: str, *, exclusive: bool):
    """Hold the sweep folder for this process: alone (``exclusive``) or shared with the processes of one study.

    The lock is on the folder's run marker and lasts as long as the block: a second process that
    would run the same settings again (a sweep resumed while it still runs) is refused at once.

    Raises:
        BlockingIOError: another process holds the folder in a way this one cannot share.
    """
    with open(folder / marker, "a", encoding="utf-8") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BlockingIOError(f"{folder}: another nablanet sweep is running in this folder; wait for it "
                                      f"to end (or join its Optuna study with --join)") from None
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def locked(handle):
    """An exclusive flock on ``handle``'s file for the block, waited for."""
    if fcntl is None:
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

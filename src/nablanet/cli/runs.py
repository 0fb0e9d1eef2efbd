"""Runs on disk: the folder a run writes into, the config saved with it, and a saved model read back with its record."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from pathlib import Path

import numpy as np

MODEL_FILE = "model.npz"


#: The file that marks a folder as claimed by one run (made with O_EXCL, so two runs never share a folder).
RUN_MARKER = ".nablanet-run"


@contextlib.contextmanager
def run_folder(out: Path | None, config, kind: str, *, overwrite: bool = False, allow_outside: bool = False,
               rejoin=None):
    """``--out DIR``, or a new folder ``<config out>/<name>[-sweep]-<timestamp>`` (numbered if it exists).

    The folder is claimed atomically before the work starts, so runs started together never share
    one: a new folder by ``mkdir`` (which fails if another run made it first), ``--out DIR`` by
    creating its marker file exclusively. ``--out DIR`` that already holds files is refused unless
    ``overwrite``, or, for work that continues an earlier run (a resumed sweep, the processes of one
    Optuna study), unless ``rejoin(DIR)`` accepts the run DIR holds (it raises ValueError for any
    other): DIR is then entered as it is, never released; such work without ``--out`` has the fixed
    folder ``<config out>/<name>[-sweep]``, which all its processes find. The config's ``out`` and ``name`` must keep
    the folder inside the current directory (a config from elsewhere may say ``name = "../../x"``)
    unless ``allow_outside``. A folder that cannot be written fails at once; one the work leaves
    empty is removed again.
    """
    if out is not None:
        folder, made, claimed = _claim_given(Path(out), overwrite, rejoin)
    elif rejoin is not None:
        # Every process that continues the work must find the same folder: no timestamp in its name.
        folder, made, claimed = _claim_given(_checked_out(config, allow_outside) / f"{config.run_name}{kind}",
                                             overwrite, rejoin)
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        parent = _checked_out(config, allow_outside)
        folder, made, claimed = _claim_new(parent / f"{config.run_name}{kind}-{stamp}"), True, True
    try:
        yield folder
    except BaseException:
        if claimed:
            _release(folder, made)
        raise


def _checked_out(config, allow_outside: bool) -> Path:
    """The config's ``out`` folder, made, after checking that it and ``name`` stay in the current directory."""
    name, out = config.run_name, config.get("out")
    if not allow_outside:
        if Path(name).name != name or name in (".", ".."):
            raise ValueError(f"the run name {name!r} is not a plain folder name (it would put the run folder "
                             f"elsewhere); pass --allow-outside to allow it")
        here = Path.cwd().resolve()
        if Path(out).is_absolute() or not Path(out).resolve().is_relative_to(here):
            raise ValueError(f"the config's out = {out!r} is outside the current directory {here}; pass "
                             f"--allow-outside to write there, or --out DIR")
    parent = Path(out)
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _claim_new(base: Path) -> Path:
    """``base``, or ``base-2``, ``base-3``, ...: the first that this process creates itself."""
    folder, number = base, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            number += 1
            folder = base.with_name(f"{base.name}-{number}")


def _claim_given(folder: Path, overwrite: bool, rejoin=None) -> tuple[Path, bool, bool]:
    """``folder`` (made if needed) with its marker created by this process, or an earlier run's that
    ``rejoin`` accepts; ``(folder, made it, claimed it)``."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise NotADirectoryError(f"--out {folder}: is not a folder")
    try:
        os.close(os.open(folder / RUN_MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        if rejoin is not None:
            rejoin(folder)
            return folder, False, False
        if not overwrite:
            raise FileExistsError(f"--out {folder}: holds another run (its files would be overwritten); choose "
                                  f"another folder or pass --overwrite") from None
        return folder, made, True
    others = [path.name for path in folder.iterdir() if path.name != RUN_MARKER]
    if others and not overwrite:
        (folder / RUN_MARKER).unlink()
        raise FileExistsError(f"--out {folder}: already holds {len(others)} file(s), e.g. {sorted(others)[0]}; "
                              f"choose an empty or new folder, or pass --overwrite")
    return folder, made, True


def _release(folder: Path, made: bool) -> None:
    """Undo the claim of a run that failed before writing anything."""
    if any(path.name != RUN_MARKER for path in folder.iterdir()):
        return
    (folder / RUN_MARKER).unlink(missing_ok=True)
    if made:
        folder.rmdir()


def portable(config) -> dict:
    """The config's values to save with a run: its name filled in, a data file's path made absolute, and the
    keys its other settings leave unread left out (a data set's n_samples for a CSV file), which load_config
    would refuse: the saved copy reads back to the values of the run.

    Relative paths in a config are relative to the config file; the saved copy lives elsewhere (the run
    folder, the model file), so its path must not depend on where it is read from.
    """
    from nablanet.experiment import DATASETS

    values = json.loads(json.dumps(config.used_values()))
    values["name"] = config.run_name
    if values["data"]["source"] not in DATASETS:
        values["data"]["source"] = str(Path(values["data"]["source"]).expanduser().resolve())
    return values


class SavedRun:
    """A model file with what `nablanet train` recorded (config, task) and the preprocessing saved with it."""

    def __init__(self, path: Path):
        from nablanet import experiment as cfg
        from nablanet import io
        from nablanet.experiment.schema import with_defaults

        checkpoint = io.load_checkpoint(path)
        self.model = checkpoint.model
        metadata = checkpoint.metadata
        self.from_cli = "nablanet_cli" in metadata
        # Saved by `nablanet train`, or by a program with nablanet.save(..., preprocessing=...); None: raw inputs.
        self.preprocessor = checkpoint.preprocessing
        if self.from_cli:
            # Keys added to the schema since the run was saved take their defaults.
            self.values = with_defaults(metadata["config"])
            self.task = cfg.Task.from_dict(metadata["task"])
        else:
            # A model saved with nablanet.io.save by a program: default data settings.
            self.values = cfg.load_config(overrides=["data.standardize=false"]).values
            self.task = None

    @property
    def classes(self) -> list:
        """The class names the model's outputs stand for ([] when its classes are the numbers 0 .. K-1)."""
        if self.preprocessor is None or self.preprocessor.classes_ is None:
            return []
        return self.preprocessor.classes_.tolist()

    def data(self, source: str, split: str | None, overrides, *, require_targets: bool):
        """``(X, y, description)`` of ``source`` read with the training config's data settings: X's columns in
        the model's order (found by name in a CSV's header), class names in y as the model's class numbers."""
        from nablanet import experiment as cfg
        from nablanet.experiment.data import encode_classes

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
            X, y, X_test, y_test, names, description = cfg.read_source(dict(config.get("data"), seed=config.get("seed")),
                                                                        require_targets=require_targets)
            if X_test is not None:
                X, y = np.concatenate([X, X_test]), np.concatenate([y, y_test])
            if y is not None:
                y, _ = encode_classes(y, self.classes, source)
            return self._columns(X, names), y, f"{description}, all of it"
        data = cfg.load_data(config, classes=self.classes)
        if split == "test":
            if data.X_test is None:
                raise ValueError(f"{source} has no test part (data.test_size = 0 in training); use --split all")
            return (self._columns(data.X_test, data.feature_names), data.y_test,
                    f"{data.description}, test part ({data.test_description})")
        return self._columns(data.X_train, data.feature_names), data.y_train, f"{data.description}, training part"

    def task_for(self, y):
        """The recorded task; for a model without the CLI's record, the task the targets ``y`` imply."""
        from nablanet import experiment as cfg

        if self.task is not None:
            return self.task
        return cfg.make_task(cfg.Config(self.values), y, "the data")

    def prepared(self, X) -> np.ndarray:
        """``X`` prepared as the training data were (unchanged for a model saved without its preprocessing)."""
        if self.preprocessor is None:
            X = np.asarray(X)
            if X.dtype.kind not in "biuf":
                raise ValueError("the data hold text columns, but the model was saved without the preprocessing that "
                                 "encodes them (nablanet.save(..., preprocessing=...))")
            return X
        return self.preprocessor.transform(X)

    def _columns(self, X, names):
        """``X``'s columns in the order the model takes them, found by name when both sides have names."""
        if self.preprocessor is None or names is None:
            return X
        return self.preprocessor.select_columns(X, names)

    def _carried_data_settings(self, source: str) -> dict:
        from nablanet import experiment as cfg

        defaults = cfg.load_config().values["data"]
        carried = {key: self.values["data"][key] for key in ("target", "features", "categorical", "delimiter",
                                                             "header", "x_key", "y_key", "flatten", "input_shape",
                                                             "standardize")}
        if source in cfg.DATASETS:
            carried = {key: carried[key] for key in ("input_shape", "standardize")}
        return dict(defaults, **carried)


def _same_source(source: str, trained_on: str) -> bool:
    from nablanet.experiment import DATASETS

    if source in DATASETS or trained_on in DATASETS:
        return source == trained_on
    return Path(source).expanduser().resolve() == Path(trained_on).expanduser().resolve()

"""Runs on disk: the folder a run writes into, the config saved with it, and a saved model read back with its record."""

from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path

import numpy as np

MODEL_FILE = "model.npz"


@contextlib.contextmanager
def run_folder(out: Path | None, config, kind: str):
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


def portable(config) -> dict:
    """The config's values to save with a run: its name filled in, a data file's path made absolute.

    Relative paths in a config are relative to the config file; the saved copy lives elsewhere (the run
    folder, the model file), so its path must not depend on where it is read from.
    """
    from nablanet.experiment import DATASETS

    values = json.loads(json.dumps(config.values))
    values["name"] = config.run_name
    if values["data"]["source"] not in DATASETS:
        values["data"]["source"] = str(Path(values["data"]["source"]).expanduser().resolve())
    return values


class SavedRun:
    """A model file with what `nablanet train` recorded: config, task, preprocessing."""

    def __init__(self, path: Path):
        from nablanet import experiment as cfg
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
        from nablanet import experiment as cfg

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

    def task_for(self, y):
        """The recorded task; for a model without the CLI's record, the task the targets ``y`` imply."""
        from nablanet import experiment as cfg

        if self.task is not None:
            return self.task
        return cfg.make_task(cfg.Config(self.values), y, "the data")

    def prepared(self, X) -> np.ndarray:
        """``X`` scaled as the training data were (unchanged for a model without the CLI's record)."""
        if self.preprocessor is None:
            return np.asarray(X)
        return self.preprocessor.transform(X)

    def _carried_data_settings(self, source: str) -> dict:
        from nablanet import experiment as cfg

        defaults = cfg.load_config().values["data"]
        carried = {key: self.values["data"][key] for key in ("target", "delimiter", "header", "x_key", "y_key",
                                                             "flatten", "input_shape", "standardize")}
        if source in cfg.DATASETS:
            carried = {key: carried[key] for key in ("input_shape", "standardize")}
        return dict(defaults, **carried)


def _same_source(source: str, trained_on: str) -> bool:
    from nablanet.experiment import DATASETS

    if source in DATASETS or trained_on in DATASETS:
        return source == trained_on
    return Path(source).expanduser().resolve() == Path(trained_on).expanduser().resolve()

"""The data of an experiment: ``data.source`` read through the data set registry, and its test split."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nablanet.datasets import registry
from nablanet.experiment.schema import SCHEMA, or_list
from nablanet.experiment.toml import ConfigError

if TYPE_CHECKING:
    from nablanet.experiment.config import Config

__all__ = ["DATASETS", "Data", "read_source", "load_data", "encode_classes", "source_reader", "check_source", "unread_keys"]


class _DatasetListing(Mapping):
    """The built-in data sets as ``name -> (kind of targets, what it is)``, read from the registry each time."""

    def __getitem__(self, name: str) -> tuple[str, str]:
        record = registry.DATASETS[name]
        return record.kind, record.description

    def __iter__(self):
        return iter(registry.DATASETS)

    def __len__(self) -> int:
        return len(registry.DATASETS)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Built-in data sets: name -> (kind of targets, what it is), a live view of nablanet.datasets.DATASETS
#: (whose records say more: the loader, default size, the keys each reads). Generated ones need only
#: NumPy; the others the ``data`` extra (scikit-learn, mnist1d); nothing is downloaded.
DATASETS = _DatasetListing()


@dataclass
class Data:
    """A data set split for training: arrays with samples along axis 0.

    Attributes:
        X_train, y_train: the training part (cross-validation and validation splits are cut from it).
        X_test, y_test: the test part, or None when data.test_size = 0.
        description: what was loaded, for messages ("digits (1797 samples)").
        feature_names: CSV column names, or None.
        test_description: how the test part was made ("20% held out, stratified").
        classes: the class names of text targets, in the order of their codes 0 .. K-1 in y, or None.
        label_names: the names a data set gives its numbered class labels 0 .. K-1 (iris' species), or
            None; for showing only (the confusion matrix): the labels stay numbers, unlike text targets'.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    description: str
    feature_names: list | None = None
    test_description: str = ""
    classes: list | None = None
    label_names: list | None = None

    @property
    def y_all(self) -> np.ndarray:
        """The training targets followed by the test targets (the training targets alone when there is no test set)."""
        return self.y_train if self.y_test is None else np.concatenate([self.y_train, self.y_test])


def read_source(data: dict, *, require_targets: bool = True):
    """The arrays of a data source before any split: ``(X, y, X_test, y_test, feature_names, description)``.

    A built-in data set is loaded by its registry record, a file by the record of its format (from
    data.format, or found from the path). ``X_test`` and ``y_test`` are None unless the source has its
    own test set (mnist, mnist1d). With ``require_targets=False`` a CSV without the target column or an
    NPZ without the target array gives ``y = None`` (data to predict on).
    """
    loaded = _load_source(data, require_targets)
    return loaded.X, loaded.y, loaded.X_test, loaded.y_test, loaded.feature_names, loaded.description


def _load_source(data: dict, require_targets: bool = True) -> registry.LoadedData:
    """What the registry record of ``data["source"]`` loads (see read_source), label names included."""
    source = data["source"]
    record = source_reader(source, data["format"])
    settings = {key: data[key] for key in record.options}
    if isinstance(record, registry.Dataset):
        settings["n_samples"] = settings.get("n_samples") or record.n_samples
        settings["seed"] = data.get("seed", 0)
        return record.load(settings)
    return record.read(source, settings, require_targets)


def source_reader(source: str, data_format: str = "auto"):
    """The registry record that reads ``source``: its :class:`~nablanet.datasets.Dataset`, or the
    :class:`~nablanet.datasets.FileFormat` of a file (``data_format``, or found from the path).

    Raises:
        FileNotFoundError: ``source`` is neither a built-in data set nor an existing path.
        ConfigError: no format reads the path.
    """
    if source in registry.DATASETS:
        return registry.DATASETS[source]
    if data_format != "auto":
        return registry.FILE_FORMATS[data_format]
    name = registry.detect_file_format(source)
    if name is not None:
        return registry.FILE_FORMATS[name]
    if not Path(source).exists():
        raise FileNotFoundError(f"data source {source!r} is neither a built-in data set "
                                f"({', '.join(registry.DATASETS)}) nor an existing file")
    formats = registry.FILE_FORMATS.values()
    suffixes = list(dict.fromkeys(suffix for record in formats for suffix in record.suffixes))
    folders = [record.name for record in formats if record.reads_folders]
    raise ConfigError(f"cannot tell how to read {source!r}: name a {or_list(suffixes)} file"
                      + (f" or a folder of {or_list(folders)} files" if folders else "")
                      + f", or set data.format to {or_list(registry.FILE_FORMATS)}")


def check_source(config: Config) -> None:
    """Check that the chosen source's record reads only keys of [data], and set the source's own default
    test_size (the gates' four samples are training and test data at once). The keys it does not read are
    :func:`unread_keys`, which load_config refuses when given.

    Args:
        config: a Config whose values are checked against the schema.
    """
    record = source_reader(config.get("data.source"), config.get("data.format"))
    unknown = [key for key in record.options if key not in SCHEMA["data"]]
    if unknown:
        raise ConfigError(f"{record.name} reads data.{unknown[0]}, which is not a key of [data]; the keys are: "
                          f"{', '.join(SCHEMA['data'])}")
    if isinstance(record, registry.Dataset) and record.test_size is not None and "data.test_size" not in config.given:
        config.values["data"]["test_size"] = record.test_size


def unread_keys(values: dict) -> dict:
    """The [data] keys that the source of a config's ``values`` does not read, as ``{dotted key: why}``.

    They are the keys that only other sources read (a generated data set's ``n_samples`` for a CSV file),
    ``test_size`` for a source with its own test set, and ``format`` for a built-in data set. A config that
    gives one is refused (it would be silently ignored), and a run's saved config leaves them out.
    """
    source = values["data"]["source"]
    record = source_reader(source, values["data"]["format"])
    records = [*registry.DATASETS.values(), *registry.FILE_FORMATS.values()]
    unread = {}
    # Keys that only some sources read, in the order the records name them.
    for key in dict.fromkeys(key for other in records for key in other.options):
        if key not in record.options:
            readers = [other.name for other in records if key in other.options]
            unread[f"data.{key}"] = (f"data.{key} applies to {', '.join(readers)} data, not to {record.name} "
                                     f"(data.source = {source!r}); remove it")
    if record.own_test_set:
        unread["data.test_size"] = f"data.test_size does not apply to {record.name}, which has its own test set; remove it"
    if source in registry.DATASETS:
        unread["data.format"] = (f"data.format applies to files, not to the built-in data set {source!r}; "
                                 f"remove it")
    return unread


def encode_classes(y, classes, source: str):
    """Text class labels as the integers 0 .. K-1: ``(codes, classes)``.

    The classes are the sorted distinct labels (scikit-learn's LabelEncoder) when ``classes`` is None,
    else the given ones (a saved model's: a label it does not know is an error); an empty list stands
    for a model without class names, which cannot read text labels. Numeric targets pass unchanged.
    """
    from nablanet.preprocessing import LabelEncoder

    y = np.asarray(y)
    text = y.dtype.kind in "USO"
    encoder = LabelEncoder()
    if classes is None:
        if not text:
            return y, None
        encoder.fit(y)
    elif not classes:
        if text:
            raise ValueError(f"the targets of {source} are text (e.g. {y.ravel()[0]!r}), but the model records no "
                             "class names: it was trained on numbered classes, or saved without its preprocessing")
        return y, None
    else:
        encoder.classes_ = np.asarray(classes, dtype=object)
    try:
        codes = encoder.transform(y)
    except ValueError as error:
        raise ValueError(f"the targets of {source}: {error}") from None
    return codes, encoder.classes_.tolist()


def load_data(config: Config, classes: list | None = None) -> Data:
    """Load ``config``'s data source and split off the test part (stratified for integer class labels).

    The split depends only on the config (data.test_size, data.stratify, seed), so `nablanet evaluate`
    finds the same test part again from the config saved with the model.

    Args:
        config: a checked Config.
        classes: the class names of text targets (a saved model's), or None to take the data's own
            (see encode_classes).

    Returns:
        Data with the training and test parts, text class labels encoded as 0 .. K-1.
    """
    data = dict(config.get("data"), seed=config.get("seed"))
    loaded = _load_source(data)
    X, y, X_test, y_test, names, description = (loaded.X, loaded.y, loaded.X_test, loaded.y_test,
                                                 loaded.feature_names, loaded.description)
    labels = loaded.label_names
    if y is None:
        raise ValueError(f"{config.get('data.source')} holds no targets to train on")
    y, classes = encode_classes(y, classes, config.get("data.source"))
    if X_test is not None:
        y_test, _ = encode_classes(y_test, classes, config.get("data.source"))
        return Data(X, y, X_test, y_test, description, names, "the data set's own test set", classes, labels)
    test_size = config.get("data.test_size")
    if test_size == 0:
        return Data(X, y, None, None, description, names, "no test part (data.test_size = 0)", classes, labels)
    n_test = math.ceil(test_size * len(X))
    if not 1 <= n_test < len(X):
        raise ValueError(f"data.test_size = {test_size} of {len(X)} samples leaves no training or no test samples")
    class_labels = np.issubdtype(np.asarray(y).dtype, np.integer) and np.ndim(y) == 1
    # Stratifying needs every class at least twice (once on each side of the split).
    if config.get("data.stratify") and class_labels and np.min(np.unique(y, return_counts=True)[1]) >= 2:
        try:
            from sklearn.model_selection import train_test_split
        except ImportError:
            raise ImportError("a stratified test split needs scikit-learn: pip install 'nablanet[data]' "
                              "(or set data.stratify = false)") from None
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=n_test, stratify=y,
                                                            random_state=config.get("seed"))
        how = f"{test_size:.0%} held out, stratified"
    else:
        from nablanet.train.data import train_validation_split

        rng = np.random.default_rng(config.get("seed"))
        X_train, X_test, y_train, y_test = train_validation_split(X, y, test_size, rng=rng)
        how = f"{test_size:.0%} held out at random"
    return Data(X_train, y_train, X_test, y_test, description, names, how, classes, labels)

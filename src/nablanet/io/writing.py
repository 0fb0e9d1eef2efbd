"""save: a model (and optionally its optimizer and random generators) to one .npz, written atomically."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from nablanet.io.architecture import ArchitectureError, architecture_spec
from nablanet.io.atomic import replacing, target_of
from nablanet.io.format import (
    FORMAT_VERSION,
    _FORMAT_NAME,
    _HEADER,
    _OPTIMIZER,
    _WEIGHTS,
    _checked_array,
    _checked_name,
    _encode_state,
    _generator_slots,
)
from nablanet.io.header import HeaderError, encode_header
from nablanet.io.values import array_problem, generator_problem, optimizer_problem
from nablanet.nn.module import Module, module_from_config
from nablanet.optim.base import Optimizer


def save(path, model: Module, *, optimizer: Optimizer | None = None, rng: np.random.Generator | None = None,
         metadata: dict | None = None, preprocessing=None) -> pathlib.Path:
    """Write ``model`` (architecture and weights), optionally with optimizer and RNG state, to one .npz file.

    The architecture is ``model.config()`` as JSON, the weights ``model.state_dict()`` (parameters and
    buffers); with ``optimizer`` and ``rng`` the file is a checkpoint from which training resumes bit
    for bit (see Notes). The write is atomic: a crash during it leaves any previous file at ``path``
    intact; a temporary file that a killed save leaves beside it (``.<name>.<random>.nablanet-tmp``)
    is removed by the next save of the same path. If ``path`` is a symbolic link, the file it points to
    is replaced and the link stays.

    What save writes, load reads: save refuses (and writes nothing) what load would refuse, such as
    NaN or infinite weights, optimizer state or metadata numbers (JSON has no NaN), an architecture
    argument of the wrong type, or metadata beyond the header's bounds (64 MiB, 500,000 JSON values).

    Args:
        path: the file to write (``.npz`` by convention; the name is used as given).
        model: a nablanet.nn.Module whose ``config()`` rebuilds it (layers built with JSON-able
            arguments: sizes, names of activations and initializers, dtypes, int seeds).
        optimizer: an Optimizer built for ``model.parameters()`` (in that order), or None. Its learning
            rate must be a float or a schedule from nablanet.optim.schedules. (LBFGS, which is not an
            Optimizer subclass, is not supported.)
        rng: the numpy Generator given to fit as ``seed``, or None. The Generators held by modules
            (e.g. ``Dropout.rng``) are always saved.
        metadata: a JSON-able dict (numpy scalars and arrays become numbers and lists, tuples lists, keys
            strings), e.g. the epoch reached or the History; its numbers must be finite.
        preprocessing: what the inputs went through before the network, so that new data can be prepared
            the same way: a fitted nablanet.preprocessing.Preprocessor (scaling, one-hot encoding, column
            names, class names), or the fitted StandardScaler or MinMaxScaler (nablanet's or
            scikit-learn's) the model's inputs were scaled with. It is stored as plain JSON in
            ``metadata["preprocessing"]``; ``load_checkpoint(path).preprocessing`` gives it back, and
            ``nablanet evaluate`` and ``nablanet predict`` apply it.

    Returns:
        The path written, as a pathlib.Path.

    Raises:
        TypeError, ValueError: the model, optimizer, rng or metadata cannot be recorded (the message
            says which and why); nothing is written then.
        OSError: the file cannot be written; any previous file at ``path`` is left as it was.

    Example:
        >>> import tempfile
        >>> import nablanet.nn as nn
        >>> from nablanet.optim import Adam
        >>> model = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.Dropout(0.2, rng=1))
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = save(pathlib.Path(folder.name) / "model.npz", model, optimizer=Adam(model.parameters()),
        ...             rng=np.random.default_rng(2), metadata={"epoch": 5})
        >>> path.name
        'model.npz'
        >>> with np.load(path, allow_pickle=False) as archive:
        ...     [name for name in archive.files if not name.startswith("optimizer/")]
        ['header', 'weights/layers.0.W', 'weights/layers.0.b']
        >>> folder.cleanup()

    Notes:
        Resuming bit for bit: fit(..., epochs=a + b, seed=g) gives the same weights as fit(..., epochs=a,
        seed=g), ``save(path, model, optimizer=opt, rng=g)``, ``load_checkpoint(path)`` and fit(...,
        epochs=b) with the restored model, optimizer and ``seed=checkpoint.rng``, as long as fit draws
        nothing at its start: pass ``validation_data`` rather than ``validation_split`` with
        ``shuffle=True`` (fit draws that split from the generator at every call). Callback state (e.g.
        EarlyStopping's best value) is not saved; keep what you need in ``metadata``.

        To make sure that the file will load, save runs load's checks on what it is about to write, and
        rebuilds the architecture from ``model.config()`` once (with fresh weights, which costs one
        initialization of the model) to compare its arrays with the model's.
    """
    path = pathlib.Path(path)
    if not isinstance(model, Module):
        raise TypeError(f"save: model must be a nablanet.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(f"save: optimizer must be a nablanet.optim.Optimizer (e.g. Adam), got {type(optimizer).__name__}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"save: rng must be a numpy.random.Generator (the one given to fit as seed), "
                        f"got {type(rng).__name__}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"save: metadata must be a dict, got {type(metadata).__name__}")
    metadata = _with_preprocessing(metadata, preprocessing)

    architecture = model.config()
    weights = model.state_dict()
    _check_architecture_rebuilds(model, architecture, weights)
    arrays = {_HEADER: None}
    for name, array in weights.items():
        arrays[_WEIGHTS + _checked_name(name, "parameter or buffer")] = _checked_array(array, f"weight {name}")
    specs = _architecture_spec(model, architecture, weights)
    for name, array in weights.items():
        problem = array_problem(array, specs[name])
        if problem is not None:
            raise ValueError(f"save: the weight {name!r} {problem}, and load refuses such a model")
    if optimizer is not None:
        state = _optimizer_arrays(model, optimizer)
        for key, array in state.items():
            arrays[_OPTIMIZER + _checked_name(key, "optimizer state entry")] = _checked_array(array, f"optimizer {key}")
        problem = optimizer_problem(optimizer, state)
        if problem is not None:
            raise ValueError(f"save: the optimizer entry {problem[0]!r} {problem[1]}, and load refuses such a state")

    import nablanet  # here, not at the top: nablanet/__init__.py imports this module

    header = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "nablanet_version": getattr(nablanet, "__version__", "unknown"),
        "numpy_version": np.__version__,
        "architecture": architecture,
        "optimizer": None if optimizer is None else type(optimizer).__name__,
        "rng": _rng_record(model, rng),
        "metadata": {} if metadata is None else metadata,
    }
    try:
        raw = encode_header(header)
    except HeaderError as error:
        raise ValueError(f"save: the header {error}, and load refuses such a header") from None
    except TypeError as error:
        raise TypeError(f"save: metadata must be JSON-serializable ({error})") from None
    arrays[_HEADER] = np.frombuffer(raw, dtype=np.uint8)
    _write(path, arrays)
    return path


def _with_preprocessing(metadata: dict | None, preprocessing) -> dict | None:
    """The metadata with the preprocessing's record, checked as load reads it (metadata["preprocessing"])."""
    from nablanet.preprocessing import Preprocessor

    if preprocessing is not None:
        if metadata is not None and "preprocessing" in metadata:
            raise ValueError("save: give the preprocessing once, as preprocessing=, not also as metadata['preprocessing']")
        if not isinstance(preprocessing, Preprocessor):
            try:
                preprocessing = Preprocessor.from_scaler(preprocessing)
            except TypeError:
                raise TypeError("save: preprocessing must be a fitted nablanet.preprocessing.Preprocessor, or a fitted "
                                "StandardScaler or MinMaxScaler (nablanet's or scikit-learn's), got "
                                f"{type(preprocessing).__name__}") from None
        metadata = dict(metadata or {}, preprocessing=preprocessing.to_dict())
    if metadata is not None and "preprocessing" in metadata:
        try:
            Preprocessor.from_dict(metadata["preprocessing"])
        except ValueError as error:
            raise ValueError(f"save: metadata['preprocessing'], where save records preprocessing=, is not a "
                             f"preprocessing record ({error}), and load refuses such a file") from None
    return metadata


def _check_architecture_rebuilds(model: Module, architecture: dict, weights: dict) -> None:
    """Refuse to write a file that would not load: config() must rebuild arrays of the same names and shapes.

    (A module changed after construction, e.g. by appending to Sequential.layers, is not described by its recorded
    constructor arguments.) The classes of the model itself are allowed, so custom modules pass here;
    loading them needs ``custom_objects``.
    """
    classes = {type(module).__name__: type(module) for module in model.modules()}
    try:
        rebuilt = module_from_config(architecture, classes)
    except Exception as error:
        raise ValueError(f"save: model.config() does not rebuild the model ({type(error).__name__}: {error})") from None
    expected = {name: (array.shape, array.dtype) for name, array in rebuilt.state_dict().items()}
    actual = {name: (array.shape, array.dtype) for name, array in weights.items()}
    if expected != actual:
        differences = sorted(name for name in set(expected) | set(actual) if expected.get(name) != actual.get(name))
        raise ValueError(f"save: model.config() rebuilds a model whose arrays differ from this one's in {differences[:5]} "
                         "(was the model changed after construction, e.g. by appending to Sequential.layers?)")
    if [slot[0] for slot in _generator_slots(rebuilt)] != [slot[0] for slot in _generator_slots(model)]:
        raise ValueError("save: model.config() rebuilds a model that holds its random generators in other places")


def _architecture_spec(model: Module, architecture: dict, weights: dict) -> dict:
    """The architecture as load will size it (from its JSON form): refused here if load would refuse it."""
    classes = {type(module).__name__: type(module) for module in model.modules()}
    try:
        specs = architecture_spec(json.loads(json.dumps(architecture)), classes, max_arrays=len(weights),
                                  max_bytes=sum(array.nbytes for array in weights.values()), holder="the model has")
    except (ArchitectureError, ValueError) as error:
        raise ValueError(f"save: the architecture would not load: {error}") from None
    if {name: (spec.shape, spec.dtype) for name, spec in specs.items()} != \
            {name: (array.shape, array.dtype) for name, array in weights.items()}:
        raise ValueError("save: the architecture's layers declare other arrays (state_spec) than the model has")
    return specs


def _optimizer_arrays(model: Module, optimizer: Optimizer) -> dict:
    if optimizer.params is None or [id(p) for p in optimizer.params] != [id(p) for p in model.parameters()]:
        raise ValueError(f"save: the {type(optimizer).__name__} must be built for model.parameters() (all of them, "
                         "in that order) to be saved with the model")
    state = optimizer.state_dict()
    if "lr" not in state and "lr_schedule" not in state:
        raise ValueError(f"save: the learning rate {optimizer.lr!r} is a function that cannot be recorded; use a "
                         "schedule from nablanet.optim.schedules")
    return state


def _rng_record(model: Module, rng) -> dict:
    """The header's "rng" entry: each distinct Generator's state once, and who holds which."""
    generators, index_of = [], {}

    def index(generator) -> int:
        if id(generator) not in index_of:
            problem = generator_problem(generator.bit_generator)
            if problem is not None:
                raise ValueError(f"save: a random generator {problem}, and load refuses such a state")
            index_of[id(generator)] = len(generators)
            generators.append(_encode_state(generator.bit_generator.state))
        return index_of[id(generator)]

    record = {"generators": generators, "fit": None if rng is None else index(rng), "modules": {}}
    for name, module, attribute in _generator_slots(model):
        record["modules"][name] = index(getattr(module, attribute))
    return record


def _write(path: pathlib.Path, arrays: dict) -> None:
    """The archive written to ``path`` atomically (see nablanet.io.atomic)."""
    with replacing(path, _file_mode(target_of(path))) as stream:
        with zipfile.ZipFile(stream, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for key, array in arrays.items():
                # A fixed timestamp: the same model and state always give the same bytes.
                info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                with archive.open(info, mode="w", force_zip64=True) as entry:
                    npy_format.write_array(entry, array, allow_pickle=False)


def _file_mode(path: pathlib.Path) -> int:
    """Permissions for the new file: the replaced file's, or the usual ones under the umask.

    (The temporary file is created readable by its owner only.)
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask

"""Model files and checkpoints: the architecture as JSON and the arrays in one .npz that loading never unpickles.

A file written by ``save`` is a NumPy ``.npz`` archive (a zip of ``.npy`` entries, readable with
``np.load(path, allow_pickle=False)``) holding:

==========================  =============================================================================
entry                       contents
==========================  =============================================================================
``header``                  uint8 array: UTF-8 JSON ``{"format": "nablanet", "format_version",
                            "nablanet_version", "numpy_version", "architecture" (Module.config()),
                            "optimizer" (class name or null), "rng", "metadata"}``
``weights/<name>``          one array per entry of ``model.state_dict()`` (parameters, then buffers
                            such as BatchNorm running statistics), e.g. ``weights/layers.0.W``
``optimizer/<key>``         one array per entry of ``optimizer.state_dict()`` (checkpoints only): class
                            name, step count ``t``, hyperparameters, learning rate or schedule, buffers
==========================  =============================================================================

``header["rng"]`` is ``{"generators": [state, ...], "fit": index or null, "modules": {"layers.1.rng":
index, ...}}``: the ``bit_generator.state`` of every distinct numpy Generator (the one given to
``fit`` as ``seed`` and those held by modules, such as ``Dropout.rng``), with arrays written as
``{"ndarray": dtype, "values": [...]}``; a Generator shared by several owners is stored once and
shared again after loading.

Loading treats the file as untrusted input: it reads the zip directory first and refuses entries
with unexpected names, encryption or declared sizes beyond those of the arrays it expects (zip
bombs); it builds only classes of nablanet.nn, nablanet.optim or ``custom_objects``; it parses each
``.npy`` header before reading data and refuses object arrays (which only pickle could read), and
any shape or dtype other than those of the rebuilt model. Every such problem raises ModelFileError.
A file cannot run code, but its architecture decides how large a model is built before the weights
are compared with it: load files from untrusted sources in a process with a memory limit.

Writes are atomic: the archive goes to a temporary file in the target's directory, is flushed and
fsynced, then renamed over the target, so a crash during a save leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import math
import os
import pathlib
import re
import stat
import tempfile
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from nablanet.nn.module import Module, module_from_config
from nablanet.optim.base import Optimizer

__all__ = ["save", "load", "load_checkpoint", "Checkpoint", "ModelFileError", "FORMAT_VERSION"]

#: Version of the file layout; ``load`` reads files of this version and older, and refuses newer ones.
FORMAT_VERSION = 1

_FORMAT_NAME = "nablanet"
_HEADER = "header"
_WEIGHTS = "weights/"
_OPTIMIZER = "optimizer/"
_HEADER_KEYS = {"format", "format_version", "nablanet_version", "numpy_version", "architecture", "optimizer", "rng",
                "metadata"}

# The header is read before the model's size is known, so it gets a fixed cap: an architecture is a
# few kilobytes, a Mersenne Twister state 7 kB; 64 MiB leaves room for large user metadata.
_MAX_HEADER_BYTES = 64 * 2**20
# np.lib.format's own limit for .npy headers from untrusted files, plus the magic string, the
# version and the length field that precede it (at most 12 bytes).
_MAX_NPY_HEADER = 10_000
_NPY_OVERHEAD = _MAX_NPY_HEADER + 12
# A 0-d entry (step count, hyperparameter, class name) is a few hundred bytes.
_MAX_SCALAR_BYTES = _NPY_OVERHEAD + 1024
# Optimizers keep at most three buffers per parameter (Adam with amsgrad, centered RMSprop with momentum).
_MAX_OPTIMIZER_ENTRIES_PER_PARAMETER = 4
_MAX_OPTIMIZER_SCALARS = 64

# Entry names are dotted paths of letters, digits, '_' and '-': no '/', '\\', '..' or absolute paths.
_SEGMENT = r"[A-Za-z0-9_\-]+"
_NAME = re.compile(rf"{_SEGMENT}(\.{_SEGMENT})*")
_BUFFER_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.([0-9]+)")

_BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM, np.random.MT19937,
                                                 np.random.Philox, np.random.SFC64)}
_STATE_ARRAY_DTYPES = ("uint32", "uint64")


class ModelFileError(ValueError):
    """A file that is not a valid nablanet model or checkpoint: not an npz archive, truncated, corrupted,
    hostile, inconsistent with its architecture, or written by a newer format version."""


@dataclasses.dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns: everything needed to resume training.

    Attributes:
        model: the Module, weights and buffers loaded, in evaluation mode (fit switches it to training).
        optimizer: an Optimizer for ``model.parameters()`` with the saved state, or None if none was saved.
        rng: the numpy Generator saved as ``rng=`` (pass it to fit as ``seed``), or None.
        metadata: the user's metadata dict ({} if none was saved).
    """

    model: Module
    optimizer: Optimizer | None
    rng: np.random.Generator | None
    metadata: dict


# --- saving ------------------------------------------------------------------------------------------

def save(path, model: Module, *, optimizer: Optimizer | None = None, rng: np.random.Generator | None = None,
         metadata: dict | None = None) -> pathlib.Path:
    """Write ``model`` (architecture and weights), optionally with optimizer and RNG state, to one .npz file.

    The architecture is ``model.config()`` as JSON, the weights ``model.state_dict()`` (parameters and
    buffers); with ``optimizer`` and ``rng`` the file is a checkpoint from which training resumes bit
    for bit (see Notes). The write is atomic: a crash during it leaves any previous file at ``path``
    intact, and no temporary file behind.

    Args:
        path: the file to write (``.npz`` by convention; the name is used as given).
        model: a nablanet.nn.Module whose ``config()`` rebuilds it (layers built with JSON-able
            arguments: sizes, names of activations and initializers, dtypes, int seeds).
        optimizer: an Optimizer built for ``model.parameters()`` (in that order), or None. Its learning
            rate must be a float or a schedule from nablanet.optim.schedules. (LBFGS, which is not an
            Optimizer subclass, is not supported.)
        rng: the numpy Generator given to fit as ``seed``, or None. The Generators held by modules
            (e.g. ``Dropout.rng``) are always saved.
        metadata: a JSON-able dict (numpy scalars and arrays become numbers and lists), e.g. the epoch
            reached or the History.

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

        To make sure that the file will load, save rebuilds the architecture from ``model.config()``
        once (with fresh weights, which costs one initialization of the model) and compares its arrays
        with the model's.
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

    architecture = model.config()
    weights = model.state_dict()
    _check_architecture_rebuilds(model, architecture, weights)
    arrays = {_HEADER: None}
    for name, array in weights.items():
        arrays[_WEIGHTS + _checked_name(name, "parameter or buffer")] = _checked_array(array, f"weight {name}")
    if optimizer is not None:
        for key, array in _optimizer_arrays(model, optimizer).items():
            arrays[_OPTIMIZER + _checked_name(key, "optimizer state entry")] = _checked_array(array, f"optimizer {key}")

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
        text = json.dumps(header, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"save: metadata must be JSON-serializable ({error})") from None
    arrays[_HEADER] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    _write_atomically(path, arrays)
    return path


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


def _optimizer_arrays(model: Module, optimizer: Optimizer) -> dict:
    if optimizer.params is None or [id(p) for p in optimizer.params] != [id(p) for p in model.parameters()]:
        raise ValueError(f"save: the {type(optimizer).__name__} must be built for model.parameters() (all of them, "
                         "in that order) to be saved with the model")
    state = optimizer.state_dict()
    if "lr" not in state and "lr_schedule" not in state:
        raise ValueError(f"save: the learning rate {optimizer.lr!r} is a function that cannot be recorded; use a "
                         "schedule from nablanet.optim.schedules")
    return state


def _checked_name(name: str, what: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"save: cannot write the {what} name {name!r}: names must be letters, digits, '_' and '-' "
                         "separated by single dots")
    return name


def _checked_array(array, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "biufcU":
        raise TypeError(f"save: the {what} has dtype {array.dtype}, which cannot be stored without pickle")
    return array


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _rng_record(model: Module, rng) -> dict:
    """The header's "rng" entry: each distinct Generator's state once, and who holds which."""
    generators, index_of = [], {}

    def index(generator) -> int:
        if id(generator) not in index_of:
            index_of[id(generator)] = len(generators)
            generators.append(_encode_state(generator.bit_generator.state))
        return index_of[id(generator)]

    record = {"generators": generators, "fit": None if rng is None else index(rng), "modules": {}}
    for name, module, attribute in _generator_slots(model):
        record["modules"][name] = index(getattr(module, attribute))
    return record


def _generator_slots(model: Module) -> list:
    """(dotted name, module, attribute) of every numpy Generator held as a module attribute, depth first."""
    slots = []

    def visit(module, prefix):
        for attribute, value in vars(module).items():
            # The recorded constructor arguments may hold the Generator a layer was built with; the
            # layer's own attribute is the one it draws from.
            if attribute != "_arguments" and isinstance(value, np.random.Generator):
                slots.append((prefix + attribute, module, attribute))
        for child_name, child in module.named_children():
            visit(child, f"{prefix}{child_name}.")

    visit(model, "")
    return slots


def _encode_state(value):
    if isinstance(value, dict):
        return {str(key): _encode_state(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.dtype.name, "values": value.tolist()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"save: cannot record a random generator state entry of type {type(value).__name__}")


def _write_atomically(path: pathlib.Path, arrays: dict) -> None:
    """Write the archive to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    mode = _file_mode(path)
    temporary = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with temporary:
            with zipfile.ZipFile(temporary, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for key, array in arrays.items():
                    # A fixed timestamp: the same model and state always give the same bytes.
                    info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    with archive.open(info, mode="w", force_zip64=True) as entry:
                        npy_format.write_array(entry, array, allow_pickle=False)
            temporary.flush()
            os.fsync(temporary.fileno())
        os.chmod(temporary.name, mode)
        os.replace(temporary.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary.name)
        raise
    _fsync_directory(path.parent)


def _file_mode(path: pathlib.Path) -> int:
    """Permissions for the new file: the replaced file's, or the usual ones under the umask.

    (NamedTemporaryFile creates files readable by their owner only.)
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: pathlib.Path) -> None:
    # Makes the rename itself durable on POSIX; some platforms and file systems cannot open or
    # fsync a directory, and the file is complete either way.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# --- loading -----------------------------------------------------------------------------------------

def load(path, *, custom_objects: dict | None = None) -> Module:
    """The model saved in ``path`` (by ``save``), its weights and buffers loaded, in evaluation mode.

    The file is checked completely before anything is built from it (see the module docstring);
    the optimizer entries of a checkpoint are checked for names and sizes but not read.

    Args:
        path: a file written by ``save``.
        custom_objects: name -> class for Module subclasses that are not in nablanet.nn.

    Raises:
        ModelFileError: the file is not a valid model file; the message names the problem.
        OSError: the file cannot be opened (e.g. FileNotFoundError).

    Example:
        >>> import tempfile
        >>> import nablanet.nn as nn
        >>> model = nn.Sequential(nn.Dense(2, 3, activation="tanh", rng=0), nn.Dense(3, 1, rng=1))
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = save(pathlib.Path(folder.name) / "model.npz", model)
        >>> loaded = load(path)
        >>> x = np.ones((4, 2), dtype=np.float32)
        >>> bool(np.array_equal(loaded(x).data, model(x).data)), loaded.training
        (True, False)
        >>> folder.cleanup()
    """
    return _read(path, custom_objects, with_optimizer=False).model


def load_checkpoint(path, *, custom_objects: dict | None = None) -> Checkpoint:
    """Model, optimizer, fit generator and metadata saved in ``path``, to resume training bit for bit.

    Args:
        path: a file written by ``save``.
        custom_objects: name -> class for Module (or Optimizer) subclasses not in nablanet.nn (nablanet.optim).

    Returns:
        A Checkpoint; its optimizer is rebuilt for ``checkpoint.model.parameters()``.

    Raises:
        ModelFileError: the file is not a valid checkpoint; the message names the problem.
        OSError: the file cannot be opened (e.g. FileNotFoundError).

    Example:
        >>> import tempfile
        >>> import nablanet.nn as nn
        >>> from nablanet.optim import SGD
        >>> from nablanet.train import fit
        >>> X = np.linspace(-1, 1, 16, dtype=np.float32).reshape(8, 2)
        >>> y = X.sum(axis=1, keepdims=True)
        >>> model = nn.Sequential(nn.Dense(2, 1, rng=0))
        >>> optimizer, generator = SGD(model.parameters(), lr=0.1, momentum=0.9), np.random.default_rng(0)
        >>> _ = fit(model, X, y, loss="mse", optimizer=optimizer, epochs=2, batch_size=4, seed=generator, progress=False)
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = save(pathlib.Path(folder.name) / "checkpoint.npz", model, optimizer=optimizer, rng=generator,
        ...             metadata={"epoch": 2})
        >>> checkpoint = load_checkpoint(path)
        >>> checkpoint.optimizer.state.t, checkpoint.metadata
        (4, {'epoch': 2})
        >>> _ = fit(checkpoint.model, X, y, loss="mse", optimizer=checkpoint.optimizer, epochs=1, batch_size=4,
        ...         seed=checkpoint.rng, progress=False)
        >>> folder.cleanup()
    """
    return _read(path, custom_objects, with_optimizer=True)


def _read(path, custom_objects, *, with_optimizer: bool) -> Checkpoint:
    path = pathlib.Path(path)
    _check_custom_objects(custom_objects)
    reader = _Reader(path)
    # Opening is left to fail with the usual OSError (missing file, permissions); all that follows
    # concerns the file's contents.
    with open(path, "rb") as stream:
        try:
            archive = zipfile.ZipFile(stream)
        except Exception as error:
            reader.fail(f"it is not a zip archive as np.savez writes ({_describe(error)}); the file is truncated, "
                        "corrupted, or not a nablanet model")
        with archive:
            reader.archive = archive
            return reader.read(custom_objects, with_optimizer)


def _check_custom_objects(custom_objects) -> None:
    if custom_objects is None:
        return
    if not isinstance(custom_objects, dict):
        raise TypeError(f"custom_objects must be a dict name -> class, got {type(custom_objects).__name__}")
    for name, cls in custom_objects.items():
        if not (isinstance(cls, type) and issubclass(cls, (Module, Optimizer))):
            raise TypeError(f"custom_objects[{name!r}] must be a Module or Optimizer subclass, got {cls!r}")


def _describe(error: BaseException) -> str:
    """``Type: message`` on one line, to quote inside a one-sentence ModelFileError."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class _Reader:
    """The checks of one load, in order: directory, header, model, entry sizes, arrays, RNG, optimizer."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.archive = None

    def fail(self, problem: str):
        raise ModelFileError(f"cannot load {self.path}: {problem}")

    def read(self, custom_objects, with_optimizer: bool) -> Checkpoint:
        entries = self._directory()
        if _HEADER not in entries:
            self.fail("it has no 'header' entry, so it was not written by nablanet.io.save")
        header = self._header(entries[_HEADER])
        model = self._build_model(header["architecture"], custom_objects)
        weights = model.state_dict()
        parameters = model.parameters()
        weight_entries, optimizer_entries = self._split_entries(entries, weights, header, parameters)
        state = {name: self._array(weight_entries[name], f"weight {name!r}", shape=array.shape, dtype=array.dtype)
                 for name, array in weights.items()}
        try:
            model.load_state_dict(state)
        except Exception as error:
            self.fail(f"its weights do not fit the model ({_describe(error)})")
        fit_rng = self._restore_generators(model, header["rng"])
        optimizer = None
        if with_optimizer and header["optimizer"] is not None:
            optimizer = self._build_optimizer(header["optimizer"], optimizer_entries, parameters, custom_objects)
        model.eval()
        return Checkpoint(model=model, optimizer=optimizer, rng=fit_rng, metadata=header["metadata"])

    # --- the zip directory and the header ---------------------------------------------------------
    def _directory(self) -> dict:
        """Entry name (without .npy) -> ZipInfo, after checking names, duplicates, encryption, compression."""
        entries = {}
        for info in self.archive.infolist():
            name = info.filename
            if not name.endswith(".npy") or info.is_dir():
                self.fail(f"its entry {name!r} is not a .npy array")
            key = name[: -len(".npy")]
            if not _NAME.fullmatch(_without_folder(key)):
                self.fail(f"its entry name {name!r} is not a plain dotted name (path tricks are refused)")
            if key in entries:
                self.fail(f"its entry {name!r} appears twice")
            if info.flag_bits & 0x1:
                self.fail(f"its entry {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"its entry {name!r} uses zip compression method {info.compress_type}, "
                          "not stored or deflated as np.savez writes")
            entries[key] = info
        return entries

    def _header(self, info: zipfile.ZipInfo) -> dict:
        self._check_size(info, _MAX_HEADER_BYTES, "the header")
        raw = self._array(info, "the header", dtype=np.dtype(np.uint8), ndim=1)
        try:
            header = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            self.fail(f"its header is not valid UTF-8 JSON ({_describe(error)})")
        if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
            self.fail("its header does not say format 'nablanet', so it was not written by nablanet.io.save")
        version = header.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.fail(f"its header has the invalid format_version {version!r}")
        if version > FORMAT_VERSION:
            self.fail(f"it has format version {version}, newer than the {FORMAT_VERSION} this nablanet reads "
                      f"(it was written by nablanet {header.get('nablanet_version', 'unknown')}; upgrade nablanet)")
        if set(header) != _HEADER_KEYS:
            self.fail(f"its header has the keys {sorted(header)} instead of {sorted(_HEADER_KEYS)}")
        if not isinstance(header["metadata"], dict):
            self.fail("its metadata is not a JSON object")
        if header["optimizer"] is not None and not isinstance(header["optimizer"], str):
            self.fail(f"its header names the optimizer {header['optimizer']!r}, which is not a class name")
        return header

    def _build_model(self, architecture, custom_objects) -> Module:
        module_classes = {name: cls for name, cls in (custom_objects or {}).items() if issubclass(cls, Module)}
        try:
            model = module_from_config(architecture, module_classes)
        except Exception as error:
            self.fail(f"its architecture cannot be built ({_describe(error)})")
        if not isinstance(model, Module):
            self.fail(f"its architecture builds a {type(model).__name__}, not a Module")
        return model

    def _split_entries(self, entries: dict, weights: dict, header: dict, parameters: list) -> tuple[dict, dict]:
        """Weight and optimizer entries, after checking each entry's declared size against a limit from the model.

        The sizes in the zip directory bound what decompression can produce, so checking them before
        reading anything stops zip bombs.
        """
        weight_entries, optimizer_entries = {}, {}
        for key, info in entries.items():
            if key == _HEADER:
                continue
            if key.startswith(_WEIGHTS) and key[len(_WEIGHTS):] in weights:
                name = key[len(_WEIGHTS):]
                self._check_size(info, weights[name].nbytes + _NPY_OVERHEAD, f"weight {name!r}")
                weight_entries[name] = info
            elif key.startswith(_OPTIMIZER) and header["optimizer"] is not None:
                name = key[len(_OPTIMIZER):]
                self._check_size(info, self._optimizer_entry_limit(name, parameters), f"optimizer entry {name!r}")
                optimizer_entries[name] = info
            else:
                self.fail(f"it has the unexpected entry {key!r}, which the model built from its architecture "
                          "does not have")
        missing = [name for name in weights if name not in weight_entries]
        if missing:
            self.fail(f"it lacks the weights {missing[:5]} of the model built from its architecture")
        if header["optimizer"] is not None:
            limit = _MAX_OPTIMIZER_SCALARS + _MAX_OPTIMIZER_ENTRIES_PER_PARAMETER * len(parameters)
            if len(optimizer_entries) > limit:
                self.fail(f"it has {len(optimizer_entries)} optimizer entries, more than the {limit} an optimizer "
                          f"of {len(parameters)} parameters can have")
            if not optimizer_entries:
                self.fail(f"its header names the optimizer {header['optimizer']} but it has no optimizer entries")
        return weight_entries, optimizer_entries

    @staticmethod
    def _optimizer_entry_limit(name: str, parameters: list) -> int:
        match = _BUFFER_KEY.fullmatch(name)
        if match and not name.startswith("lr_schedule.") and int(match.group(2)) < len(parameters):
            return parameters[int(match.group(2))].data.nbytes + _NPY_OVERHEAD
        return _MAX_SCALAR_BYTES

    def _check_size(self, info: zipfile.ZipInfo, limit: int, what: str) -> None:
        if info.file_size > limit:
            self.fail(f"{what} declares {info.file_size} bytes uncompressed where at most {limit} are expected "
                      "(a zip bomb or a corrupted directory)")

    # --- one .npy entry ---------------------------------------------------------------------------
    def _array(self, info: zipfile.ZipInfo, what: str, *, shape=None, dtype=None, ndim=None) -> np.ndarray:
        """Read one entry, checking its .npy header against the expected shape and dtype before the data."""
        try:
            with self.archive.open(info) as entry:
                version = npy_format.read_magic(entry)
                if version == (1, 0):
                    found_shape, fortran_order, found_dtype = npy_format.read_array_header_1_0(
                        entry, max_header_size=_MAX_NPY_HEADER)
                elif version == (2, 0):
                    found_shape, fortran_order, found_dtype = npy_format.read_array_header_2_0(
                        entry, max_header_size=_MAX_NPY_HEADER)
                else:
                    self.fail(f"{what} has .npy format version {version}, not 1.0 or 2.0")
                self._check_header(what, found_shape, found_dtype, shape, dtype, ndim)
                nbytes = math.prod(found_shape) * found_dtype.itemsize
                if nbytes > info.file_size:
                    self.fail(f"{what} claims shape {found_shape} but its entry holds only {info.file_size} bytes")
                data = entry.read(nbytes)
                if len(data) != nbytes:
                    self.fail(f"{what} is truncated: {len(data)} of {nbytes} bytes of data")
                if entry.read(1):
                    self.fail(f"{what} has bytes after its data")
        except ModelFileError:
            raise
        except Exception as error:
            self.fail(f"{what} cannot be read ({_describe(error)}); the file is corrupted")
        if fortran_order:
            array = np.frombuffer(data, dtype=found_dtype).reshape(found_shape[::-1]).transpose()
        else:
            array = np.frombuffer(data, dtype=found_dtype).reshape(found_shape)
        return array

    def _check_header(self, what, found_shape, found_dtype, shape, dtype, ndim) -> None:
        if found_dtype.hasobject:
            self.fail(f"{what} is an object array, which only pickle could read and loading never unpickles")
        if found_dtype.kind not in "biufcU" or found_dtype.fields is not None:
            self.fail(f"{what} has dtype {found_dtype}, not a plain number or string type")
        if dtype is not None and found_dtype.newbyteorder("=") != dtype:
            self.fail(f"{what} has dtype {found_dtype} but the model built from the architecture has {dtype}")
        if shape is not None and tuple(found_shape) != tuple(shape):
            self.fail(f"{what} has shape {tuple(found_shape)} but the model built from the architecture has "
                      f"{tuple(shape)}")
        if ndim is not None and len(found_shape) != ndim:
            self.fail(f"{what} has {len(found_shape)} dimensions instead of {ndim}")

    # --- random generators ------------------------------------------------------------------------
    def _restore_generators(self, model: Module, record) -> np.random.Generator | None:
        """Give each module its saved Generator; return the fit generator (or None)."""
        if not isinstance(record, dict) or set(record) != {"generators", "fit", "modules"} \
                or not isinstance(record["generators"], list) or not isinstance(record["modules"], dict):
            self.fail("its header's 'rng' entry is not {generators, fit, modules}")
        slots = _generator_slots(model)
        names = [name for name, _, _ in slots]
        if sorted(record["modules"]) != sorted(names):
            self.fail(f"it has random generator states for {sorted(record['modules'])} but the model built from "
                      f"the architecture holds generators at {sorted(names)}")
        if len(record["generators"]) > len(slots) + 1:
            self.fail(f"it has {len(record['generators'])} random generator states for {len(slots) + 1} owners")
        generators = [self._generator(state, i) for i, state in enumerate(record["generators"])]
        for name, module, attribute in slots:
            setattr(module, attribute, generators[self._generator_index(record["modules"][name], generators, name)])
        if record["fit"] is None:
            return None
        return generators[self._generator_index(record["fit"], generators, "fit")]

    def _generator_index(self, index, generators: list, owner: str) -> int:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(generators):
            self.fail(f"the random generator of {owner!r} refers to state {index!r} of {len(generators)}")
        return index

    def _generator(self, encoded, i: int) -> np.random.Generator:
        name = encoded.get("bit_generator") if isinstance(encoded, dict) else None
        if name not in _BIT_GENERATORS:
            self.fail(f"random generator state {i} names the bit generator {name!r}, not one of "
                      f"{sorted(_BIT_GENERATORS)}")
        bit_generator = _BIT_GENERATORS[name]()
        try:
            bit_generator.state = self._decode_state(encoded, i)
        except ModelFileError:
            raise
        except Exception as error:
            self.fail(f"random generator state {i} is not a valid {name} state ({_describe(error)})")
        # Setting a state may convert what it is given; an exact round trip proves nothing was changed.
        if _encode_state(bit_generator.state) != encoded:
            self.fail(f"random generator state {i} is not a valid {name} state (it does not round-trip)")
        return np.random.Generator(bit_generator)

    def _decode_state(self, value, i: int):
        if isinstance(value, dict):
            if set(value) == {"ndarray", "values"}:
                if value["ndarray"] not in _STATE_ARRAY_DTYPES or not isinstance(value["values"], list) \
                        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value["values"]):
                    self.fail(f"random generator state {i} has an array that is not a list of {_STATE_ARRAY_DTYPES} "
                              "integers")
                return np.array(value["values"], dtype=value["ndarray"])
            return {key: self._decode_state(item, i) for key, item in value.items()}
        if isinstance(value, (bool, int, str)):
            return value
        self.fail(f"random generator state {i} holds a {type(value).__name__}, not integers and strings")

    # --- the optimizer ----------------------------------------------------------------------------
    def _build_optimizer(self, class_name: str, entries: dict, parameters: list, custom_objects) -> Optimizer:
        """Rebuild the optimizer from its entries; its own state_dict() must then reproduce them exactly."""
        classes = _optimizer_classes(custom_objects)
        if class_name not in classes:
            self.fail(f"it names the optimizer class {class_name!r}, which is neither in nablanet.optim nor in "
                      "custom_objects")
        state = {}
        for key, info in entries.items():
            buffer = _BUFFER_KEY.fullmatch(key) and not key.startswith("lr_schedule.")
            if buffer:
                index = int(_BUFFER_KEY.fullmatch(key).group(2))
                if index >= len(parameters):
                    self.fail(f"its optimizer entry {key!r} is for parameter {index}, but the model has "
                              f"{len(parameters)} parameters")
                parameter = parameters[index]
                state[key] = self._array(info, f"optimizer entry {key!r}", shape=parameter.shape,
                                         dtype=parameter.dtype)
            else:
                state[key] = self._array(info, f"optimizer entry {key!r}", ndim=0)
                expected_kind = "U" if key in ("optimizer", "lr_schedule") else "biuf"
                if state[key].dtype.kind not in expected_kind:
                    self.fail(f"its optimizer entry {key!r} has dtype {state[key].dtype}, not a "
                              f"{'string' if expected_kind == 'U' else 'number'}")
        if "optimizer" not in state or str(state["optimizer"]) != class_name:
            self.fail(f"its optimizer entries do not say they belong to {class_name}")
        if "t" not in state or state["t"].dtype.kind not in "iu" or int(state["t"]) < 0:
            self.fail("its optimizer step count 't' is missing or not a non-negative integer")
        cls = classes[class_name]
        accepted = inspect.signature(cls.__init__).parameters
        # The constructor validates the hyperparameters it accepts; load_state_dict sets the rest
        # (Momentum and Nesterov fix some of SGD's) and the learning rate or schedule.
        options = {key: state[key].item() for key in state
                   if key in accepted and key not in ("self", "params") and state[key].ndim == 0
                   and state[key].dtype.kind != "U"}
        try:
            optimizer = cls(parameters, **options)
            optimizer.load_state_dict(state)
            reproduced = optimizer.state_dict()
        except Exception as error:
            self.fail(f"its {class_name} state cannot be restored ({_describe(error)})")
        extra, missing = sorted(set(state) - set(reproduced)), sorted(set(reproduced) - set(state))
        if extra or missing:
            self.fail(f"its {class_name} state has the unexpected entries {extra} and lacks {missing}")
        for key, array in state.items():
            again = reproduced[key]
            same_type = again.dtype.kind == array.dtype.kind if array.dtype.kind == "U" else \
                array.dtype.newbyteorder("=") == again.dtype
            if not same_type or again.shape != array.shape or (array.ndim == 0 and not _same_scalar(array, again)):
                self.fail(f"its optimizer entry {key!r} ({array.dtype} {array.shape}) is not what {class_name} "
                          f"records ({again.dtype} {again.shape})")
        return optimizer


def _without_folder(key: str) -> str:
    for folder in (_WEIGHTS, _OPTIMIZER):
        if key.startswith(folder):
            return key[len(folder):]
    return key


def _same_scalar(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = a.item(), b.item()
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _optimizer_classes(custom_objects) -> dict:
    from nablanet import optim

    classes = {name: getattr(optim, name) for name in optim.__all__}
    classes.update(custom_objects or {})
    return {name: cls for name, cls in classes.items()
            if isinstance(cls, type) and issubclass(cls, Optimizer) and cls is not Optimizer}

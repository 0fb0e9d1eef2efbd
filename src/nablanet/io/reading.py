"""load and load_checkpoint: a model file read as untrusted input, checked entry by entry before use."""

from __future__ import annotations

import inspect
import json
import math
import pathlib
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from nablanet.io.format import (
    Checkpoint,
    FORMAT_VERSION,
    ModelFileError,
    _BIT_GENERATORS,
    _BUFFER_KEY,
    _FORMAT_NAME,
    _HEADER,
    _HEADER_KEYS,
    _MAX_HEADER_BYTES,
    _MAX_NPY_HEADER,
    _MAX_OPTIMIZER_ENTRIES_PER_PARAMETER,
    _MAX_OPTIMIZER_SCALARS,
    _MAX_SCALAR_BYTES,
    _NAME,
    _NPY_OVERHEAD,
    _OPTIMIZER,
    _STATE_ARRAY_DTYPES,
    _WEIGHTS,
    _encode_state,
    _generator_slots,
)
from nablanet.nn.module import Module, module_from_config
from nablanet.optim.base import Optimizer



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
        >>> from nablanet.io import save
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
        >>> from nablanet.io import save
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
    """Class name -> class of the optimizers a file may name: the registered ones and ``custom_objects``'."""
    from nablanet import optim

    classes = {record.cls.__name__: record.cls for record in optim.OPTIMIZERS.values()}
    classes.update(custom_objects or {})
    return {name: cls for name, cls in classes.items()
            if isinstance(cls, type) and issubclass(cls, Optimizer) and cls is not Optimizer}

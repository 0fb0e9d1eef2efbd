"""load and load_checkpoint: a model file read as untrusted input, checked entry by entry before use."""

from __future__ import annotations

import inspect
import math
import os
import pathlib
import stat
import zipfile

import numpy as np
from numpy.lib import format as npy_format

from nablanet.io.architecture import ArchitectureError, architecture_spec
from nablanet.io.format import (
    Checkpoint,
    FORMAT_VERSION,
    ModelFileError,
    _BIT_GENERATORS,
    _BUFFER_KEY,
    _FORMAT_NAME,
    _HEADER,
    _HEADER_KEYS,
    _MAX_DEFLATE_RATIO,
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
from nablanet.io.header import HeaderError, ValueCounter, decode_header
from nablanet.io.values import array_problem, generator_problem, optimizer_problem
from nablanet.nn.module import Module, Parameter, module_from_config
from nablanet.optim.base import Optimizer


def load(path, *, custom_objects: dict | None = None) -> Module:
    """The model saved in ``path`` (by ``save``), its weights and buffers loaded, in evaluation mode.

    The file is checked before anything is built from it, and the model only then built, with exactly
    the arrays the file holds (see the module docstring); the optimizer entries of a checkpoint are
    checked for names and sizes but not read.

    Args:
        path: a file written by ``save``.
        custom_objects: name -> class for Module subclasses that are not in nablanet.nn.

    Raises:
        ModelFileError: the file is not a valid model file (or not a regular file: a FIFO, a device, a
            directory); the message names the problem.
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
        ModelFileError: the file is not a valid checkpoint (values included: finite weights, an optimizer
            state it can step from); the message names the problem.
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
    with _open_regular_file(path, reader) as stream:
        reader.file_size = os.fstat(stream.fileno()).st_size
        try:
            archive = zipfile.ZipFile(stream)
        except Exception as error:
            reader.fail(f"it is not a zip archive as np.savez writes ({_describe(error)}); the file is truncated, "
                        "corrupted, or not a nablanet model")
        with archive:
            reader.archive = archive
            return reader.read(custom_objects, with_optimizer)


_SPARE_ARRAYS = 16


def _open_regular_file(path: pathlib.Path, reader):
    """The file opened for reading, if it is a regular file; a FIFO, a device or a directory is refused.

    Opening does not block (O_NONBLOCK: a FIFO without a writer would wait for one forever), and the
    type is read from the opened descriptor, so the file cannot be swapped between check and use.
    Opening is left to fail with the usual OSError (missing file, permissions).
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                    stat.S_IFDIR: "a directory", stat.S_IFSOCK: "a socket"}.get(stat.S_IFMT(mode), "not a file")
            reader.fail(f"it is {kind}, not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


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
    """The checks of one load, in order: directory, header, architecture (sized, not built), entry sizes,
    .npy headers, model, arrays and their values, RNG, optimizer."""

    def __init__(self, path: pathlib.Path):
        self.path = path
        self.archive = None
        self.file_size = 0

    def fail(self, problem: str):
        raise ModelFileError(f"cannot load {self.path}: {problem}")

    def read(self, custom_objects, with_optimizer: bool) -> Checkpoint:
        entries = self._directory()
        if _HEADER not in entries:
            self.fail("it has no 'header' entry, so it was not written by nablanet.io.save")
        header = self._header(entries[_HEADER])
        module_classes = {name: cls for name, cls in (custom_objects or {}).items() if issubclass(cls, Module)}
        specs = self._architecture(header["architecture"], module_classes, entries)
        weight_entries, optimizer_entries = self._split_entries(entries, specs, header)
        # Every weight's .npy header before any weight is allocated: the model built next is exactly
        # what the file declares, and its declared sizes were checked against the file's own.
        for name, info in weight_entries.items():
            self._array(info, f"weight {name!r}", shape=specs[name].shape, dtype=specs[name].dtype, header_only=True)
        model = self._build_model(header["architecture"], module_classes, specs)
        for name, target in _arrays_of(model):
            array = self._array(weight_entries[name], f"weight {name!r}", shape=target.shape, dtype=target.dtype)
            problem = array_problem(array, specs[name])
            if problem is not None:
                self.fail(f"its weight {name!r} {problem}")
            np.copyto(target, array)
        fit_rng = self._restore_generators(model, header["rng"])
        preprocessing = self._preprocessing(header["metadata"])
        optimizer = None
        if with_optimizer and header["optimizer"] is not None:
            optimizer = self._build_optimizer(header["optimizer"], optimizer_entries, model.parameters(),
                                              custom_objects)
        model.eval()
        return Checkpoint(model=model, optimizer=optimizer, rng=fit_rng, metadata=header["metadata"],
                          preprocessing=preprocessing)

    # --- the zip directory and the header ---------------------------------------------------------
    def _directory(self) -> dict:
        """Entry name (without .npy) -> ZipInfo, after checking names, duplicates, encryption, compression,
        and that each entry's declared sizes fit in the file (a declared size is believed only then)."""
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
            if info.header_offset + info.compress_size > self.file_size:
                self.fail(f"its entry {name!r} declares {info.compress_size} bytes at offset {info.header_offset} "
                          f"of a {self.file_size}-byte file (truncated or a corrupted directory)")
            most = info.compress_size if info.compress_type == zipfile.ZIP_STORED \
                else _MAX_DEFLATE_RATIO * info.compress_size + 64
            if info.file_size > most:
                self.fail(f"its entry {name!r} declares {info.file_size} bytes uncompressed from "
                          f"{info.compress_size} compressed, more than its compression can give (a zip bomb or a "
                          "corrupted directory)")
            entries[key] = info
        return entries

    def _header(self, info: zipfile.ZipInfo) -> dict:
        self._check_size(info, _MAX_HEADER_BYTES + _NPY_OVERHEAD, "the header")
        try:
            # Counted while it is read: a header of too many values is refused after its first megabytes.
            data = self._array(info, "the header", dtype=np.dtype(np.uint8), ndim=1, chunks=ValueCounter().add)
            text = data.decode("utf-8")
            del data  # a 64 MiB header is then held twice (its text and what it parses to), not three times
            header = decode_header(text)
        except UnicodeDecodeError as error:
            self.fail(f"its header is not valid UTF-8 JSON ({_describe(error)})")
        except HeaderError as error:
            self.fail(f"its header {error}")
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

    def _architecture(self, architecture, module_classes: dict, entries: dict) -> dict:
        """name -> ArraySpec of the model the architecture describes, bounded by the file's weight entries."""
        weights = [info for key, info in entries.items() if key.startswith(_WEIGHTS)]
        try:
            # A few arrays more than the file has, so that a missing weight is reported by its name.
            return architecture_spec(architecture, module_classes, max_arrays=len(weights) + _SPARE_ARRAYS,
                                     max_bytes=sum(info.file_size for info in weights),
                                     holder="the file's weight entries allow")
        except ArchitectureError as error:
            self.fail(f"its architecture cannot be built: {error}")

    def _build_model(self, architecture, module_classes: dict, specs: dict) -> Module:
        try:
            model = module_from_config(architecture, module_classes)
        except Exception as error:
            self.fail(f"its architecture cannot be built ({_describe(error)})")
        if not isinstance(model, Module):
            self.fail(f"its architecture builds a {type(model).__name__}, not a Module")
        built = {name: (array.shape, array.dtype) for name, array in _arrays_of(model)}
        if built != {name: (spec.shape, spec.dtype) for name, spec in specs.items()}:
            self.fail("its architecture builds other arrays than its layers' state_spec declare (a layer's "
                      "state_spec is wrong)")
        return model

    def _split_entries(self, entries: dict, specs: dict, header: dict) -> tuple[dict, dict]:
        """Weight and optimizer entries, after checking each entry's declared size against the architecture's.

        The sizes in the zip directory bound what decompression can produce, so checking them before
        reading anything stops zip bombs.
        """
        weight_entries, optimizer_entries = {}, {}
        largest = max((spec.nbytes for spec in specs.values()), default=0)
        for key, info in entries.items():
            if key == _HEADER:
                continue
            if key.startswith(_WEIGHTS) and key[len(_WEIGHTS):] in specs:
                name = key[len(_WEIGHTS):]
                self._check_size(info, specs[name].nbytes + _NPY_OVERHEAD, f"weight {name!r}")
                weight_entries[name] = info
            elif key.startswith(_OPTIMIZER) and header["optimizer"] is not None:
                name = key[len(_OPTIMIZER):]
                # A buffer is one parameter's size; which parameter is known once the model is built.
                limit = largest + _NPY_OVERHEAD if _is_buffer_key(name) else _MAX_SCALAR_BYTES
                self._check_size(info, limit, f"optimizer entry {name!r}")
                optimizer_entries[name] = info
            else:
                self.fail(f"it has the unexpected entry {key!r}, which the model its architecture describes "
                          "does not have")
        missing = [name for name in specs if name not in weight_entries]
        if missing:
            self.fail(f"it lacks the weights {missing[:5]} of the model its architecture describes")
        implied = sum(spec.nbytes for spec in specs.values())
        declared = sum(info.file_size for info in weight_entries.values())
        if implied > declared:
            self.fail(f"its architecture describes {implied} bytes of weights but its weight entries hold at most "
                      f"{declared} bytes")
        if header["optimizer"] is not None:
            limit = _MAX_OPTIMIZER_SCALARS + _MAX_OPTIMIZER_ENTRIES_PER_PARAMETER * len(specs)
            if len(optimizer_entries) > limit:
                self.fail(f"it has {len(optimizer_entries)} optimizer entries, more than the {limit} an optimizer "
                          f"of a model of {len(specs)} arrays can have")
            if not optimizer_entries:
                self.fail(f"its header names the optimizer {header['optimizer']} but it has no optimizer entries")
        return weight_entries, optimizer_entries

    def _check_size(self, info: zipfile.ZipInfo, limit: int, what: str) -> None:
        if info.file_size > limit:
            self.fail(f"{what} declares {info.file_size} bytes uncompressed where at most {limit} are expected "
                      "(a zip bomb or a corrupted directory)")

    # --- one .npy entry ---------------------------------------------------------------------------
    def _array(self, info: zipfile.ZipInfo, what: str, *, shape=None, dtype=None, ndim=None, header_only=False,
               chunks=None):
        """Read one entry, checking its .npy header against the expected shape and dtype before the data.

        ``header_only``: stop after the check (returns None). ``chunks``: read the data in pieces, give each
        to this function (which may refuse it) and return the bytes, as a bytearray.
        """
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
                if header_only:
                    return None
                data = entry.read(nbytes) if chunks is None else _read_in_chunks(entry, nbytes, chunks)
                if len(data) != nbytes:
                    self.fail(f"{what} is truncated: {len(data)} of {nbytes} bytes of data")
                if entry.read(1):
                    self.fail(f"{what} has bytes after its data")
        except (ModelFileError, HeaderError):
            raise
        except Exception as error:
            self.fail(f"{what} cannot be read ({_describe(error)}); the file is corrupted")
        if chunks is not None:
            return data
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
            self.fail(f"{what} has dtype {found_dtype} but the model its architecture describes has {dtype}")
        if shape is not None and tuple(found_shape) != tuple(shape):
            self.fail(f"{what} has shape {tuple(found_shape)} but the model its architecture describes has "
                      f"{tuple(shape)}")
        if ndim is not None and len(found_shape) != ndim:
            self.fail(f"{what} has {len(found_shape)} dimensions instead of {ndim}")

    # --- the preprocessing ------------------------------------------------------------------------
    def _preprocessing(self, metadata: dict):
        """The Preprocessor of ``metadata["preprocessing"]`` (save's preprocessing=), checked entry by entry; or None."""
        if "preprocessing" not in metadata:
            return None
        from nablanet.preprocessing import Preprocessor

        try:
            return Preprocessor.from_dict(metadata["preprocessing"])
        except ValueError as error:
            self.fail(f"its metadata's preprocessing is not valid ({error})")

    # --- random generators ------------------------------------------------------------------------
    def _restore_generators(self, model: Module, record) -> np.random.Generator | None:
        """Give each module its saved Generator; return the fit generator (or None)."""
        if not isinstance(record, dict) or set(record) != {"generators", "fit", "modules"} \
                or not isinstance(record["generators"], list) or not isinstance(record["modules"], dict):
            self.fail("its header's 'rng' entry is not {generators, fit, modules}")
        slots = _generator_slots(model)
        names = [name for name, _, _ in slots]
        if sorted(record["modules"]) != sorted(names):
            self.fail(f"it has random generator states for {sorted(record['modules'])} but the model its "
                      f"architecture describes holds generators at {sorted(names)}")
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
        problem = generator_problem(bit_generator)
        if problem is not None:
            self.fail(f"random generator state {i} ({name}) {problem}")
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
            if _is_buffer_key(key):
                index = int(_BUFFER_KEY.fullmatch(key).group(2))
                if index >= len(parameters):
                    self.fail(f"its optimizer entry {key!r} is for parameter {index}, but the model has "
                              f"{len(parameters)} parameters")
                parameter = parameters[index]
                state[key] = self._array(info, f"optimizer entry {key!r}", shape=parameter.shape,
                                         dtype=parameter.dtype)
            else:
                state[key] = self._array(info, f"optimizer entry {key!r}", ndim=0)
                # A schedule's field may be text too (OneCycle's anneal_strategy, Sequential's parts as JSON).
                expected_kind = ("U" if key in ("optimizer", "lr_schedule")
                                 else "Ubiuf" if key.startswith("lr_schedule.") else "biuf")
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
            # What a fresh optimizer records for each hyperparameter: its type too (eps a float, amsgrad a bool).
            recorded = cls([Parameter(np.zeros(1))], **options).state_dict()
            optimizer = cls(parameters, **options)
            optimizer.load_state_dict(state)
            reproduced = optimizer.state_dict()
        except Exception as error:
            self.fail(f"its {class_name} state cannot be restored ({_describe(error)})")
        for key, array in state.items():
            if array.ndim == 0 and key in recorded and array.dtype.kind != "U" \
                    and array.dtype.newbyteorder("=") != recorded[key].dtype:
                self.fail(f"its optimizer entry {key!r} has dtype {array.dtype}, not the {recorded[key].dtype} "
                          f"{class_name} records")
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
        problem = optimizer_problem(optimizer, state)
        if problem is not None:
            self.fail(f"its optimizer entry {problem[0]!r} {problem[1]}")
        return optimizer


def _read_in_chunks(entry, nbytes: int, check, size: int = 2**20) -> bytearray:
    data = bytearray()
    while len(data) < nbytes:
        chunk = entry.read(min(size, nbytes - len(data)))
        if not chunk:
            break
        check(chunk)
        data += chunk
    return data


def _arrays_of(model: Module):
    """(name, ndarray) of every array of ``model.state_dict()``, in its order, without copying any."""
    yield from ((name, p.data) for name, p in model.named_parameters())

    def buffers(module, prefix):
        for buffer_name in getattr(module, "_buffers", ()):
            yield prefix + buffer_name, getattr(module, buffer_name)
        for child_name, child in module.named_children():
            yield from buffers(child, f"{prefix}{child_name}.")

    yield from buffers(model, "")


def _is_buffer_key(name: str) -> bool:
    """Whether an optimizer entry is a per-parameter buffer (``m.0``), not a scalar (``lr_schedule.gamma``)."""
    return bool(_BUFFER_KEY.fullmatch(name)) and not name.startswith("lr_schedule.")


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

"""The model file's format: its entry names, the bounds a reader enforces, its error and what a checkpoint holds."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from nablanet.nn.module import Module
from nablanet.optim.base import Optimizer


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
# Parsing JSON costs up to about 100 bytes per value (a dict or list object, a float, a list slot), so
# the header's values are counted before it is parsed; an architecture is a few hundred values, a
# Mersenne Twister state 630, a long training history a few tens of thousands.
_MAX_HEADER_ITEMS = 500_000
_MAX_HEADER_DEPTH = 200
# A network of ten thousand modules, nested 32 deep (each level is four levels of JSON).
_MAX_MODULES = 10_000
_MAX_MODULE_DEPTH = 32
# Deflate expands at most 1032-fold (258 bytes from one 2-bit code), so an entry declaring more than
# that from its compressed size lies; checked before its declared size is believed.
_MAX_DEFLATE_RATIO = 1032
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
        preprocessing: the nablanet.preprocessing.Preprocessor saved as ``preprocessing=`` (or by
            ``nablanet train``), or None.
    """

    model: Module
    optimizer: Optimizer | None
    rng: np.random.Generator | None
    metadata: dict
    preprocessing: object = None


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

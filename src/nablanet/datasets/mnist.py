"""MNIST in one and two dimensions: MNIST-1D generated on this machine, and MNIST read from its files."""

from __future__ import annotations

import gzip
import math
import random
import zlib
from pathlib import Path

import numpy as np

from nablanet.datasets.common import _check_count, _float_dtype, _import_extra
from nablanet.datasets.files import _load_npz_arrays
from nablanet.datasets.registry import LoadedData, register_dataset, register_file_format

__all__ = ["load_mnist1d", "MNIST_FILES", "read_idx", "load_mnist"]

_MNIST1D_CACHE: dict = {}


def load_mnist1d(*, num_samples: int = 5000, seed: int = 42, dtype=np.float64, return_t: bool = False):
    """MNIST-1D (Greydanus, 2020), generated on this machine by the ``mnist1d`` package.

    Each sample is a 1-D signal of 40 points made from one of ten digit templates by random
    padding, scaling, translation, correlated and white noise and shear; the classes are far
    harder to tell apart for a linear model than for a small network, which makes it a quick
    benchmark. The defaults (5000 samples, seed 42) are the package's, and give its standard
    4000/1000 train/test split. The data are generated with ``mnist1d.data.make_dataset`` (about
    two seconds for 5000 samples) and kept in memory for the rest of the process; the package's
    download path is never used. Needs mnist1d (``pip install 'nablanet[data]'``).

    The generator seeds NumPy's and Python's global random states; this function restores both
    afterwards, so calling it does not change the random numbers the rest of a program draws.

    Args:
        num_samples: total number of signals (a multiple of 10 gives equal class counts); 80% go
            to the training part, in the package's own split.
        seed: the package's seed.
        dtype: floating dtype of the signals.
        return_t: also return ``t``, the 40 positions of the signal's points (for plotting, as
            ``mnist1d.utils.plot_signals(x, t)``).

    Returns:
        ``(X_train, y_train, X_test, y_test)``, and ``t`` last when ``return_t``. Labels are int64
        0..9; the signals are centred and scaled to unit standard deviation over the whole set.

    Shape:
        X_train (0.8 N, 40), y_train (0.8 N,), X_test (0.2 N, 40), y_test (0.2 N,), t (40,).

    References:
        S. Greydanus and D. Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024.

    Example:
        >>> X_train, y_train, X_test, y_test = load_mnist1d(num_samples=100)
        >>> X_train.shape, y_train.shape, X_test.shape, y_test.shape
        ((80, 40), (80,), (20, 40), (20,))
    """
    _check_count(num_samples, "load_mnist1d", "num_samples", minimum=10)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"load_mnist1d: seed must be an integer, got {seed!r}")
    dtype = _float_dtype(dtype)
    key = (int(num_samples), int(seed))
    if key not in _MNIST1D_CACHE:
        _MNIST1D_CACHE[key] = _generate_mnist1d(*key)
    X_train, y_train, X_test, y_test, t = _MNIST1D_CACHE[key]
    # Copies, so that a caller who scales the arrays in place does not change the cached ones.
    arrays = (X_train.astype(dtype), y_train.copy(), X_test.astype(dtype), y_test.copy())
    return arrays + (t.astype(dtype),) if return_t else arrays


def _generate_mnist1d(num_samples: int, seed: int):
    mnist1d_data = _import_extra("mnist1d.data", "mnist1d", "load_mnist1d")
    args = mnist1d_data.get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        dataset = mnist1d_data.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    return (
        np.asarray(dataset["x"], dtype=np.float64),
        np.asarray(dataset["y"], dtype=np.int64),
        np.asarray(dataset["x_test"], dtype=np.float64),
        np.asarray(dataset["y_test"], dtype=np.int64),
        np.asarray(dataset["t"], dtype=np.float64),
    )


MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX type codes (the byte after the two zero bytes of the magic number); multi-byte values are
# big-endian. http://yann.lecun.com/exdb/mnist/ ("THE IDX FILE FORMAT").
_IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_READ_CHUNK = 1 << 24


def read_idx(path):
    """Read one IDX file (plain or gzip-compressed) into an array, validating it first.

    The header is checked before the data are trusted: the magic number (two zero bytes, a
    known type code, the number of dimensions), then the dimensions, then that the file holds
    exactly ``prod(dims)`` values, no fewer (truncated) and no more (trailing bytes). A
    compressed file is recognised by its gzip signature, whatever its name.

    Args:
        path: the file.

    Returns:
        An array of the file's shape in native byte order (``uint8`` for MNIST).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not IDX, is truncated, holds extra bytes or is not valid gzip.

    Example:
        >>> import tempfile, pathlib
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "labels-idx1-ubyte"
        >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))  # magic, dims (3,), data
        >>> read_idx(path).tolist()
        [7, 2, 1]
        >>> folder.cleanup()
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as stream:
            return _read_idx_stream(stream, path, None if compressed else path.stat().st_size)
    except (EOFError, OSError, zlib.error) as error:
        if not compressed:
            raise
        raise ValueError(f"{path} is not a valid gzip file ({error}); it may be truncated or corrupted") from error


def _read_idx_stream(stream, path: Path, file_size: int | None):
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES or magic[3] == 0:
        raise ValueError(
            f"{path} is not an IDX file: its magic number is {magic.hex()!r}, expected 0000 followed by a "
            f"type code ({', '.join(f'{code:02x}' for code in _IDX_TYPES)}) and the number of dimensions"
        )
    dtype, ndim = _IDX_TYPES[magic[2]], magic[3]
    header = stream.read(4 * ndim)
    if len(header) < 4 * ndim:
        raise ValueError(f"{path} is truncated: its header declares {ndim} dimensions but ends before listing them")
    shape = tuple(int(d) for d in np.frombuffer(header, dtype=">u4"))
    n_bytes = math.prod(shape) * dtype.itemsize
    header_bytes = 4 + 4 * ndim
    if file_size is not None and file_size != header_bytes + n_bytes:
        problem = "is truncated" if file_size < header_bytes + n_bytes else "has extra bytes"
        raise ValueError(
            f"{path} {problem}: its header declares shape {shape} ({header_bytes + n_bytes} bytes with the "
            f"header) but the file has {file_size} bytes"
        )
    # Read in chunks rather than read(n_bytes) at once: a corrupted header in a compressed file
    # could declare terabytes, and a chunked read only allocates what the file really holds.
    chunks, remaining = [], n_bytes
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    if remaining > 0:
        raise ValueError(
            f"{path} is truncated: its header declares shape {shape} ({n_bytes} data bytes) but only "
            f"{n_bytes - remaining} follow"
        )
    if stream.read(1):
        raise ValueError(f"{path} has extra bytes after the {n_bytes} data bytes its header declares for shape {shape}")
    return np.frombuffer(b"".join(chunks), dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(path, *, dtype=None, flatten: bool = False):
    """MNIST (or Fashion-MNIST, same format) from files already on disk; nothing is downloaded.

    ``path`` is either a directory holding the four IDX files under their standard names, each
    plain or gzipped (``.gz``)::

        train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte

    (the variant spelling ``train-images.idx3-ubyte`` is accepted too), or a directory holding
    ``mnist.npz``, or the path of an ``.npz`` file with the arrays ``x_train, y_train, x_test,
    y_test`` (the layout of Keras' ``mnist.npz``). Every file is validated: IDX magic numbers,
    dimensions and sizes, image and label counts that agree, labels in 0..9.

    Args:
        path: a directory or an ``.npz`` file.
        dtype: ``None`` keeps the stored ``uint8`` pixels 0..255; a floating dtype gives pixels
            divided by 255, in [0, 1] (as torchvision's ``ToTensor``).
        flatten: return images as rows of ``H * W`` pixels instead of ``(H, W)`` arrays.

    Returns:
        ``(X_train, y_train, X_test, y_test)``, labels int64.

    Shape:
        X_train (60000, 28, 28), or (60000, 784) when flattened; y_train (60000,);
        X_test (10000, 28, 28) or (10000, 784); y_test (10000,).

    Raises:
        FileNotFoundError: ``path`` does not exist or holds neither the IDX files nor ``mnist.npz``;
            the message lists the files expected.
        ValueError: a file is corrupted or truncated, or the arrays do not fit together.

    Example:
        >>> import tempfile
        >>> temporary = tempfile.TemporaryDirectory()
        >>> folder = temporary.name
        >>> rng = np.random.default_rng(0)
        >>> np.savez(f"{folder}/mnist.npz", x_train=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        ...          y_train=np.array([5, 0, 4], dtype=np.uint8),
        ...          x_test=rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        ...          y_test=np.array([7, 2], dtype=np.uint8))
        >>> X_train, y_train, X_test, y_test = load_mnist(folder, dtype=np.float32, flatten=True)
        >>> X_train.shape, X_train.dtype, y_test.tolist(), bool(X_train.max() <= 1.0)
        ((3, 784), dtype('float32'), [7, 2], True)
        >>> temporary.cleanup()
    """
    if dtype is not None:
        dtype = _float_dtype(dtype)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MNIST path {str(path)!r} does not exist; {_mnist_expected()}")
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise ValueError(
                f"{path} is a file but not an .npz file; give the directory that holds the four IDX files "
                f"or the path of mnist.npz"
            )
        arrays = _mnist_from_npz(path)
    else:
        arrays = _mnist_from_folder(path)
    X_train, y_train, X_test, y_test = arrays
    if flatten:
        X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    if dtype is not None:
        X_train = X_train.astype(dtype) / dtype.type(255)
        X_test = X_test.astype(dtype) / dtype.type(255)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def _mnist_from_folder(folder: Path):
    idx_files = {part: _find_idx_file(folder, name) for part, name in MNIST_FILES.items()}
    if all(idx_files.values()):
        arrays = tuple(read_idx(file) for file in idx_files.values())
        _check_mnist_arrays(arrays, tuple(str(file) for file in idx_files.values()))
        return arrays
    if (folder / "mnist.npz").is_file():
        return _mnist_from_npz(folder / "mnist.npz")
    found = [idx_files[part].name for part in MNIST_FILES if idx_files[part]]
    missing = [name for part, name in MNIST_FILES.items() if not idx_files[part]]
    partial = f" (found {', '.join(found)} but not {', '.join(missing)})" if found else ""
    raise FileNotFoundError(f"no MNIST files in {str(folder)!r}{partial}; {_mnist_expected()}")


def _mnist_expected() -> str:
    names = ", ".join(MNIST_FILES.values())
    return (
        f"expected a directory holding the IDX files {names} (each may end in .gz), or a file mnist.npz with "
        f"arrays x_train, y_train, x_test, y_test; copy them there (nablanet does not download data)"
    )


def _find_idx_file(folder: Path, name: str) -> Path | None:
    # "train-images.idx3-ubyte" is how some redistributions spell the same files.
    variant = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", variant, variant + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _mnist_from_npz(path: Path):
    keys = ("x_train", "y_train", "x_test", "y_test")
    arrays = _load_npz_arrays(path, keys)
    _check_mnist_arrays(tuple(arrays[key] for key in keys), tuple(f"{path}[{key}]" for key in keys))
    return tuple(arrays[key] for key in keys)


def _check_mnist_arrays(arrays, sources) -> None:
    X_train, y_train, X_test, y_test = arrays
    for images, labels, images_source, labels_source in (
        (X_train, y_train, sources[0], sources[1]),
        (X_test, y_test, sources[2], sources[3]),
    ):
        if images.ndim != 3:
            raise ValueError(f"{images_source} should hold images of shape (N, H, W), got shape {images.shape}")
        if images.dtype != np.uint8:
            raise ValueError(f"{images_source} should hold uint8 pixels, got {images.dtype}")
        if labels.ndim != 1:
            raise ValueError(f"{labels_source} should hold labels of shape (N,), got shape {labels.shape}")
        if len(labels) != len(images):
            raise ValueError(
                f"{images_source} holds {len(images)} images but {labels_source} holds {len(labels)} labels"
            )
        if labels.dtype.kind not in "iu":
            raise ValueError(f"{labels_source} should hold integer labels, got {labels.dtype}")
        if len(labels) and (labels.min() < 0 or labels.max() > 9):
            raise ValueError(
                f"{labels_source} holds labels outside 0..9 (min {labels.min()}, max {labels.max()}); "
                f"the file is corrupted or not MNIST"
            )
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(
            f"training images are {X_train.shape[1]}x{X_train.shape[2]} but test images are "
            f"{X_test.shape[1]}x{X_test.shape[2]}"
        )


def _is_mnist_archive(path: Path) -> bool:
    """Keras' mnist.npz holds x_train, y_train, x_test, y_test; any other archive is read as X, y."""
    if not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {"x_train", "y_train", "x_test", "y_test"} <= set(archive.files)
    except (OSError, ValueError):
        return False


def _load_mnist1d_source(settings: dict) -> LoadedData:
    X, y, X_test, y_test = load_mnist1d(num_samples=settings["n_samples"])
    return LoadedData(X, y, f"mnist1d ({len(X)} training and {len(X_test)} test signals)", X_test, y_test)


def _read_mnist_source(source: str, settings: dict, require_targets: bool) -> LoadedData:
    X, y, X_test, y_test = load_mnist(source, dtype=np.float32, flatten=settings["flatten"])
    return LoadedData(X, y, f"MNIST from {source} ({len(X)} training and {len(X_test)} test images)", X_test, y_test)


register_dataset("mnist1d", _load_mnist1d_source, kind="classification", n_samples=5000, options=("n_samples",),
                 own_test_set=True,
                 description="MNIST-1D generated locally: 40-point signals, 10 classes, own 80/20 test split")
register_file_format("mnist", _read_mnist_source, description="MNIST (a folder of the IDX files, or mnist.npz)",
                     suffixes=(".npz",), reads_folders=True, recognizes=_is_mnist_archive, options=("flatten",),
                     own_test_set=True)

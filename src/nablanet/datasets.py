"""Data sets: the notes' toy problems, small real data sets, MNIST from local files, and user CSV/NPZ files.

Three kinds of data live here, all returned as plain NumPy arrays with samples along axis 0:

- **generated** (NumPy only, deterministic given an ``rng``): the logic gates of the notes' first
  examples (:func:`gate`), the notes' polynomial ``y = x0^2 + 3 x0 x1 + x1^2 + 5``
  (:func:`make_polynomial`), Franke's function on the unit square (:func:`make_franke`) and a 1-D
  function for the universal approximation demo (:func:`make_sine_quadratic`);
- **real, installed with the ``data`` extra** (``pip install 'nablanet[data]'``, which brings
  scikit-learn and mnist1d): scikit-learn's bundled digits, breast cancer and iris tables, and
  MNIST-1D generated on this machine. Nothing is ever downloaded;
- **read from files the user has**: MNIST in its IDX files or Keras' ``mnist.npz``
  (:func:`load_mnist`, :func:`read_idx`), and any numeric CSV or NPZ file (:func:`load_csv`,
  :func:`load_npz`). Files are validated before their contents are trusted: a truncated or corrupted
  file raises ``ValueError`` naming the file and the problem, never returns garbage; NPZ files are
  always opened with ``allow_pickle=False``, so a data file cannot run code.

Randomness always comes from an explicit ``rng`` (a ``numpy.random.Generator`` or an int seed); no
function here touches NumPy's global random state (the MNIST-1D generator does, and
:func:`load_mnist1d` restores it).
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nablanet.nn.init import make_rng

__all__ = [
    "GATES", "gate", "polynomial", "make_polynomial", "franke", "make_franke", "sine_quadratic",
    "make_sine_quadratic", "load_digits", "load_breast_cancer", "load_iris", "load_mnist1d", "load_mnist",
    "read_idx", "load_csv", "load_npz", "MNIST_FILES",
]

DATA_EXTRA = "pip install 'nablanet[data]'"


# ----------------------------------------------------------------------------------------------
# The notes' toy problems
# ----------------------------------------------------------------------------------------------

# Truth tables over the inputs (0,0), (0,1), (1,0), (1,1), in the row order of the notes' design
# matrix X = [[1,0,0],[1,0,1],[1,1,0],[1,1,1]] (its first column is the intercept, left out here).
_GATE_TABLES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}
GATES = tuple(_GATE_TABLES)


def gate(name: str, encoding: str = "01", *, dtype=np.float64):
    """The four input pairs of a two-input logic gate and its outputs.

    The rows are the inputs (0,0), (0,1), (1,0), (1,1), in the order of the notes' design matrix.
    With ``encoding="pm1"`` every 0 becomes -1 (inputs and target alike, ``v -> 2v - 1``): the
    encoding of the notes' argument that no single neuron separates XNOR, where ``g = +1`` iff
    both coordinates are equal.

    Args:
        name: ``"and"``, ``"or"``, ``"xor"`` or ``"xnor"`` (any case).
        encoding: ``"01"`` for 0/1 values, ``"pm1"`` for -1/+1 values.
        dtype: floating dtype of both arrays.

    Returns:
        ``(X, y)``.

    Shape:
        X (4, 2), y (4,).

    Example:
        >>> X, y = gate("xor")
        >>> X.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0.0, 1.0, 1.0, 0.0])
        >>> X, y = gate("XNOR", encoding="pm1")
        >>> X.tolist(), y.tolist()
        ([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]], [1.0, -1.0, -1.0, 1.0])
    """
    if not isinstance(name, str) or name.lower() not in _GATE_TABLES:
        raise ValueError(f"unknown gate {name!r}; the gates are {', '.join(GATES)}")
    key = name.lower()
    if encoding not in ("01", "pm1"):
        raise ValueError(f"encoding must be '01' (0/1 values) or 'pm1' (-1/+1 values), got {encoding!r}")
    dtype = _float_dtype(dtype)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    y = np.array(_GATE_TABLES[key], dtype=dtype)
    if encoding == "pm1":
        X, y = 2 * X - 1, 2 * y - 1
    return X, y


def polynomial(x0, x1):
    """The notes' second-order polynomial ``f(x0, x1) = x0^2 + 3 x0 x1 + x1^2 + 5``.

    Args:
        x0, x1: arrays (or scalars) of the same or broadcastable shapes.

    Returns:
        ``f(x0, x1)`` elementwise.

    Example:
        >>> float(polynomial(1.0, 2.0))   # 1 + 6 + 4 + 5
        16.0
    """
    x0, x1 = np.asarray(x0), np.asarray(x1)
    return x0**2 + 3 * x0 * x1 + x1**2 + 5


def make_polynomial(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of the notes' polynomial ``y = x0^2 + 3 x0 x1 + x1^2 + 5`` on the unit square.

    The notes feed a network ``n = 100`` points ``(x0, x1)``; they do not say where the points lie,
    so they are drawn uniformly from ``[0, 1]^2`` (the domain of the universal approximation
    theorem) or, with ``grid=True``, laid on an ``n x n`` grid of evenly spaced points.

    Args:
        n: number of random points, or points per axis with ``grid=True`` (``n * n`` in all).
        grid: lay the points on a regular grid (row-major, ``x1`` fastest) instead of drawing them.
        noise: standard deviation of Gaussian noise added to ``y`` (0: exact values).
        rng: ``numpy.random.Generator`` or int seed for the points and the noise; ``None`` draws
            fresh entropy.
        dtype: floating dtype of ``X`` and ``y``.

    Returns:
        ``(X, y)`` with ``X[:, 0] = x0`` and ``X[:, 1] = x1``.

    Shape:
        X (n, 2), y (n,); with ``grid=True`` X (n*n, 2), y (n*n,).

    Example:
        >>> X, y = make_polynomial(5, rng=0)
        >>> X.shape, y.shape
        ((5, 2), (5,))
        >>> bool(np.allclose(y, X[:, 0]**2 + 3*X[:, 0]*X[:, 1] + X[:, 1]**2 + 5))
        True
        >>> X, y = make_polynomial(2, grid=True)
        >>> X.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [5.0, 6.0, 6.0, 10.0])
    """
    generator = make_rng(rng)
    X = _unit_square_points(n, grid, generator, "make_polynomial")
    return _with_noise(X, polynomial(X[:, 0], X[:, 1]), noise, generator, dtype)


def franke(x, y):
    """Franke's function, the standard test surface on the unit square (Franke, 1979).

    f(x, y) = 3/4 exp(-(9x - 2)^2 / 4 - (9y - 2)^2 / 4)
            + 3/4 exp(-(9x + 1)^2 / 49 - (9y + 1) / 10)
            + 1/2 exp(-(9x - 7)^2 / 4 - (9y - 3)^2 / 4)
            - 1/5 exp(-(9x - 4)^2 - (9y - 7)^2)

    Two Gaussian peaks, a broad ridge and a dip; values lie in about [0, 1.22] on ``[0, 1]^2``.

    Args:
        x, y: arrays (or scalars) of the same or broadcastable shapes.

    Returns:
        ``f(x, y)`` elementwise.

    References:
        R. Franke, "A critical comparison of some methods for interpolation of scattered data",
        Naval Postgraduate School report NPS-53-79-003 (1979).

    Example:
        >>> round(float(franke(0.0, 0.0)), 10)
        0.7664205913
    """
    x, y = np.asarray(x), np.asarray(y)
    term1 = 0.75 * np.exp(-((9 * x - 2) ** 2) / 4 - ((9 * y - 2) ** 2) / 4)
    term2 = 0.75 * np.exp(-((9 * x + 1) ** 2) / 49 - (9 * y + 1) / 10)
    term3 = 0.5 * np.exp(-((9 * x - 7) ** 2) / 4 - ((9 * y - 3) ** 2) / 4)
    term4 = -0.2 * np.exp(-((9 * x - 4) ** 2) - (9 * y - 7) ** 2)
    return term1 + term2 + term3 + term4


def make_franke(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of Franke's function on the unit square, random or on a grid, optionally noisy.

    Args:
        n: number of random points, or points per axis with ``grid=True`` (``n * n`` in all).
        grid: lay the points on a regular grid (``np.linspace(0, 1, n)`` per axis, row-major,
            ``y`` fastest) instead of drawing them uniformly from ``[0, 1]^2``.
        noise: standard deviation of Gaussian noise added to the function values.
        rng: ``numpy.random.Generator`` or int seed for the points and the noise.
        dtype: floating dtype of ``X`` and ``z``.

    Returns:
        ``(X, z)`` with ``X[:, 0] = x``, ``X[:, 1] = y`` and ``z = franke(x, y) + noise``.

    Shape:
        X (n, 2), z (n,); with ``grid=True`` X (n*n, 2), z (n*n,). Reshape ``z`` to ``(n, n)`` for a
        surface plot: ``z.reshape(n, n)[i, j]`` is the value at ``(x_i, y_j)``.

    Example:
        >>> X, z = make_franke(3, grid=True)
        >>> X.shape, z.shape
        ((9, 2), (9,))
        >>> X[4].tolist(), round(float(z[4]), 6)
        ([0.5, 0.5], 0.325762)
    """
    generator = make_rng(rng)
    X = _unit_square_points(n, grid, generator, "make_franke")
    return _with_noise(X, franke(X[:, 0], X[:, 1]), noise, generator, dtype)


def sine_quadratic(x):
    """``f(x) = sin(2 pi x) + x^2 / 2``: the 1-D target of the universal approximation demo.

    The notes state the theorem for any continuous function on ``[0, 1]^d`` without fixing an
    example; this one is continuous and smooth, has a full period of oscillation (so a handful
    of sigmoids cannot fit it with one bump) and a trend that breaks its symmetry, so both the
    number of hidden units and their placement show in the fit.

    Example:
        >>> [round(float(v), 6) for v in sine_quadratic(np.array([0.0, 0.25, 1.0]))]
        [0.0, 1.03125, 0.5]
    """
    x = np.asarray(x)
    return np.sin(2 * np.pi * x) + 0.5 * x**2


def make_sine_quadratic(n: int = 100, *, grid: bool = False, noise: float = 0.0, rng=None, dtype=np.float64):
    """Samples of :func:`sine_quadratic` on ``[0, 1]``, random or evenly spaced, optionally noisy.

    Args:
        n: number of points.
        grid: ``np.linspace(0, 1, n)`` instead of ``n`` uniform draws (which come sorted, so a line
            plot of ``(x, y)`` needs no reordering).
        noise: standard deviation of Gaussian noise added to ``y``.
        rng: ``numpy.random.Generator`` or int seed for the points and the noise.
        dtype: floating dtype of ``x`` and ``y``.

    Returns:
        ``(x, y)``, ``x`` a column so that it is a design matrix with one feature.

    Shape:
        x (n, 1), y (n,).

    Example:
        >>> x, y = make_sine_quadratic(5, grid=True)
        >>> x.ravel().tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
        >>> [round(float(v), 4) for v in y]
        [0.0, 1.0312, 0.125, -0.7188, 0.5]
    """
    _check_count(n, "make_sine_quadratic", "n")
    generator = make_rng(rng)
    if grid:
        x = np.linspace(0.0, 1.0, n)
    else:
        x = np.sort(generator.uniform(0.0, 1.0, n))
    return _with_noise(x[:, None], sine_quadratic(x), noise, generator, dtype)


def _check_count(n, where: str, name: str, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {n!r}")


def _unit_square_points(n, grid: bool, generator: np.random.Generator, where: str):
    _check_count(n, where, "n")
    if grid:
        axis = np.linspace(0.0, 1.0, n)
        first, second = np.meshgrid(axis, axis, indexing="ij")
        return np.column_stack([first.ravel(), second.ravel()])
    return generator.uniform(0.0, 1.0, (n, 2))


def _with_noise(X, y, noise, generator: np.random.Generator, dtype):
    # The noise is drawn after the points, from the same generator, so that a seed fixes both and
    # the noisy targets are exactly the clean ones plus the noise (the tests rely on it).
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating, np.integer)) or not (
        math.isfinite(noise) and noise >= 0
    ):
        raise ValueError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    dtype = _float_dtype(dtype)
    if noise > 0:
        y = y + noise * generator.standard_normal(y.shape)
    return X.astype(dtype, copy=False), y.astype(dtype, copy=False)


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as float32 or float64, got {dtype}")
    return dtype


# ----------------------------------------------------------------------------------------------
# Real data installed with the `data` extra: scikit-learn's bundled tables and MNIST-1D
# ----------------------------------------------------------------------------------------------

def _import_extra(module: str, package: str, caller: str):
    """Import an optional dependency, or say which extra brings it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{caller} needs {package}, which is not installed; install nablanet's data extra with {DATA_EXTRA}"
        ) from error


def _sklearn_table(loader_name: str, dtype):
    dtype = _float_dtype(dtype)
    sklearn_datasets = _import_extra("sklearn.datasets", "scikit-learn", loader_name)
    X, y = getattr(sklearn_datasets, loader_name)(return_X_y=True)
    return X.astype(dtype, copy=False), y.astype(np.int64, copy=False)


def load_digits(*, dtype=np.float64):
    """The 8x8 handwritten digits bundled with scikit-learn: 1797 images, 10 classes.

    Pixels are the counts 0..16 of the original 32x32 bitmaps' 4x4 blocks, not scaled; divide by
    16 or use :class:`nablanet.preprocessing.MinMaxScaler` for inputs in [0, 1]. Reshape a row to
    ``(8, 8)`` to see the image. Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X`` (``np.float32`` for training in single precision).

    Returns:
        ``(X, y)``: ``X`` pixel values, ``y`` int64 labels 0..9.

    Shape:
        X (1797, 64), y (1797,).

    Example:
        >>> X, y = load_digits(dtype=np.float32)
        >>> X.shape, X.dtype, y[:5].tolist(), float(X.max())
        ((1797, 64), dtype('float32'), [0, 1, 2, 3, 4], 16.0)
    """
    return _sklearn_table("load_digits", dtype)


def load_breast_cancer(*, dtype=np.float64):
    """The Wisconsin diagnostic breast cancer table bundled with scikit-learn: 569 samples, 30 features.

    Labels: 0 malignant (212 samples), 1 benign (357). The features have very different scales
    (areas in the hundreds, smoothness near 0.1): standardize them before training a network.
    Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y)`` with ``y`` int64 labels in {0, 1}.

    Shape:
        X (569, 30), y (569,).

    Example:
        >>> X, y = load_breast_cancer()
        >>> X.shape, np.bincount(y).tolist()
        ((569, 30), [212, 357])
    """
    return _sklearn_table("load_breast_cancer", dtype)


def load_iris(*, dtype=np.float64):
    """Fisher's iris table bundled with scikit-learn: 150 flowers, 4 measurements in cm, 3 species.

    Labels 0 setosa, 1 versicolor, 2 virginica, 50 of each, sorted by class: shuffle or use a
    stratified split before holding data out. Needs scikit-learn (``pip install 'nablanet[data]'``).

    Args:
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y)`` with ``y`` int64 labels 0..2.

    Shape:
        X (150, 4), y (150,).

    Example:
        >>> X, y = load_iris()
        >>> X.shape, X[0].tolist(), np.bincount(y).tolist()
        ((150, 4), [5.1, 3.5, 1.4, 0.2], [50, 50, 50])
    """
    return _sklearn_table("load_iris", dtype)


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


# ----------------------------------------------------------------------------------------------
# MNIST from local files (IDX or Keras' mnist.npz)
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# User data: CSV and NPZ
# ----------------------------------------------------------------------------------------------

def _load_npz_arrays(path, keys) -> dict:
    """The named arrays of an ``.npz`` file, opened with ``allow_pickle=False`` (no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"NPZ file {str(path)!r} does not exist")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        # NumPy reports any file that is neither .npy nor a zip archive as possibly pickled data.
        raise ValueError(f"{path} is not an .npz file ({error}); it may be truncated or corrupted") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} holds a single .npy array, not an .npz archive of named arrays")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} has no array named {missing[0]!r}; its arrays are {', '.join(archive.files) or 'none'}"
            )
        arrays = {}
        for key in keys:
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "allow_pickle" not in str(error):
                    raise ValueError(f"{path}[{key}] could not be read ({error}); the file may be corrupted") from error
                raise ValueError(
                    f"{path}[{key}] holds Python objects, which need pickle to load; nablanet never unpickles "
                    f"data files, so save plain numeric arrays"
                ) from error
            except (EOFError, OSError, zipfile.BadZipFile, zlib.error) as error:
                raise ValueError(f"{path}[{key}] could not be read ({error}); the file may be truncated or corrupted") from error
    return arrays


def load_npz(path, x_key: str = "X", y_key: str | None = "y"):
    """Inputs and targets from an ``.npz`` file written by ``np.savez``, never unpickling anything.

    Args:
        path: the file.
        x_key: name of the input array (samples along axis 0).
        y_key: name of the target array, or ``None`` to read only the inputs.

    Returns:
        ``(X, y)`` (``y`` is None when ``y_key`` is None).

    Raises:
        FileNotFoundError: no such file.
        ValueError: a key is missing (the message lists the keys present), an array holds Python
            objects (which would need pickle), X and y have different numbers of rows, X is a
            scalar, or a float array holds NaN or infinity.

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = folder.name + "/data.npz"
        >>> np.savez(path, features=np.arange(6.0).reshape(3, 2), labels=np.array([0, 1, 1]))
        >>> X, y = load_npz(path, "features", "labels")
        >>> X.shape, y.tolist()
        ((3, 2), [0, 1, 1])
        >>> folder.cleanup()
    """
    keys = (x_key,) if y_key is None else (x_key, y_key)
    arrays = _load_npz_arrays(path, keys)
    X = arrays[x_key]
    y = None if y_key is None else arrays[y_key]
    if X.ndim == 0:
        raise ValueError(f"{path}[{x_key}] is a scalar; expected an array with samples along axis 0")
    _check_finite(X, f"{path}[{x_key}]")
    if y is not None:
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(
                f"{path}[{x_key}] has {len(X)} rows but {path}[{y_key}] has "
                f"{'none (a scalar)' if y.ndim == 0 else len(y)}; they must match"
            )
        _check_finite(y, f"{path}[{y_key}]")
    return X, y


def _check_finite(array, source: str) -> None:
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        position = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{source} holds {array[position]} at index {position}; the data must be finite numbers")


def load_csv(path, target="label", *, delimiter: str = ",", header: bool = True, dtype=np.float64):
    """A numeric table from a CSV file: every column but ``target`` becomes a feature.

    Args:
        path: the file (UTF-8; a byte-order mark is ignored; cells may be quoted with ``"``).
        target: name of the target column (needs ``header=True``) or its 0-based position.
        delimiter: the character between cells.
        header: whether the first line names the columns.
        dtype: floating dtype of ``X``.

    Returns:
        ``(X, y, feature_names)``: ``X`` the feature columns in file order, ``y`` the target
        column as int64 when every value is a whole number (class labels) and float64 otherwise,
        ``feature_names`` a list of the feature columns' names (``"x0", "x1", ...`` by position in
        the file when there is no header).

    Shape:
        X (N, F), y (N,) for a file of N data rows and F + 1 columns.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the target column is not in the header (the message lists the columns), a
            row has a different number of cells than the first, or a cell is empty, not a number,
            NaN or infinite (the message gives its line and column).

    Example:
        >>> import tempfile, pathlib
        >>> folder = tempfile.TemporaryDirectory()
        >>> path = pathlib.Path(folder.name) / "flowers.csv"
        >>> _ = path.write_text("length,width,label\\n5.1,3.5,0\\n6.2,2.9,1\\n")
        >>> X, y, names = load_csv(path, target="label")
        >>> X.tolist(), y.tolist(), names
        ([[5.1, 3.5], [6.2, 2.9]], [0, 1], ['length', 'width'])
        >>> folder.cleanup()
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CSV file {str(path)!r} does not exist")
    dtype = _float_dtype(dtype)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        first_row = next(csv.reader(handle, delimiter=delimiter), None)
    if first_row is None:
        raise ValueError(f"{path} is empty")
    n_columns = len(first_row)
    names = [name.strip() for name in first_row] if header else [f"x{i}" for i in range(n_columns)]
    target_column = _target_column(target, names, header, path)
    if n_columns < 2:
        raise ValueError(f"{path} has a single column; it needs the target and at least one feature")
    table = _parse_numeric_csv(path, delimiter, header, names)
    y = table[:, target_column]
    X = np.delete(table, target_column, axis=1).astype(dtype, copy=False)
    if np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53):
        y = y.astype(np.int64)
    feature_names = [name for i, name in enumerate(names) if i != target_column]
    return X, y, feature_names


def _target_column(target, names, header: bool, path: Path) -> int:
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -len(names) <= target < len(names):
            raise ValueError(f"target column {target} is out of range: {path} has {len(names)} columns")
        return int(target) % len(names)
    if not isinstance(target, str):
        raise ValueError(f"target must be a column name or a 0-based column position, got {target!r}")
    if not header:
        raise ValueError(f"target {target!r} is a column name but header=False; give the column's position instead")
    matches = [i for i, name in enumerate(names) if name == target]
    if not matches:
        raise ValueError(f"{path} has no column named {target!r}; its columns are {', '.join(map(repr, names))}")
    if len(matches) > 1:
        raise ValueError(f"{path} has {len(matches)} columns named {target!r}; the target must be unambiguous")
    return matches[0]


def _parse_numeric_csv(path: Path, delimiter: str, header: bool, names) -> np.ndarray:
    # NumPy's C parser reads large files fast; when it refuses the file (or reads a NaN), a slower
    # pass with the csv module finds the first bad cell and names its line and column.
    try:
        with warnings.catch_warnings():
            # A header-only file: loadtxt warns and returns nothing; the error below says it better.
            warnings.simplefilter("ignore", UserWarning)
            table = np.loadtxt(
                path, delimiter=delimiter, skiprows=1 if header else 0, dtype=np.float64, ndmin=2,
                comments=None, quotechar='"', encoding="utf-8-sig",
            )
    except ValueError as error:
        _raise_first_bad_cell(path, delimiter, header, names)
        raise ValueError(f"{path} could not be read as numbers: {error}") from error
    if table.size == 0:
        raise ValueError(f"{path} has no data rows")
    if table.shape[1] != len(names):
        raise ValueError(f"{path} has {len(names)} cells in its first line but {table.shape[1]} in its data rows")
    if not np.all(np.isfinite(table)):
        _raise_first_bad_cell(path, delimiter, header, names)
        raise ValueError(f"{path} holds NaN or infinite values; the data must be finite numbers")
    return table


def _raise_first_bad_cell(path: Path, delimiter: str, header: bool, names) -> None:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        if header:
            next(reader, None)
        for row in reader:
            if not row:
                continue  # blank lines are skipped, as np.loadtxt skips them
            line = reader.line_num
            if len(row) != len(names):
                raise ValueError(f"{path}, line {line} has {len(row)} cells but the file has {len(names)} columns")
            for name, cell in zip(names, row):
                if not cell.strip():
                    raise ValueError(f"{path}, line {line}, column {name!r} is empty; every cell must hold a number")
                try:
                    value = float(cell)
                except ValueError:
                    raise ValueError(
                        f"{path}, line {line}, column {name!r} holds {cell!r}, which is not a number"
                    ) from None
                if not math.isfinite(value):
                    raise ValueError(
                        f"{path}, line {line}, column {name!r} holds {cell.strip()!r}; the data must be finite numbers"
                    )

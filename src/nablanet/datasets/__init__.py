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

Randomness always comes from an explicit ``rng`` (a ``numpy.random.Generator`` or an int seed), or
without one from the library's seed (``nablanet.seed``); no function here touches NumPy's global
random state (the MNIST-1D generator does, and :func:`load_mnist1d` restores it).

Each family has its module, which also registers its data sets in :data:`DATASETS` (and its file
formats in :data:`FILE_FORMATS`), the records ``nablanet train`` configs read (see :mod:`.registry`):

- ``gates.py``: :func:`gate` and :data:`GATES`;
- ``synthetic.py``: the notes' functions and their samplers (:func:`make_polynomial`, ...);
- ``tables.py``: scikit-learn's bundled tables;
- ``mnist.py``: MNIST-1D and the MNIST file readers;
- ``files.py``: CSV and NPZ files;
- ``registry.py``: :class:`Dataset`, :class:`FileFormat`, :func:`register_dataset`, :func:`register_file_format`.
"""

# The order of these imports is the order in which DATASETS lists the data sets.
from nablanet.datasets.registry import (
    DATASETS, FILE_FORMATS, KINDS, Dataset, FileFormat, LoadedData, detect_file_format, register_dataset,
    register_file_format,
)
from nablanet.datasets.tables import load_breast_cancer, load_digits, load_iris
from nablanet.datasets.synthetic import (
    franke, make_franke, make_polynomial, make_sine_quadratic, polynomial, sine_quadratic,
)
from nablanet.datasets.gates import GATES, gate
from nablanet.datasets.files import load_csv, load_npz
from nablanet.datasets.mnist import MNIST_FILES, load_mnist, load_mnist1d, read_idx

__all__ = [
    "GATES", "gate", "polynomial", "make_polynomial", "franke", "make_franke", "sine_quadratic",
    "make_sine_quadratic", "load_digits", "load_breast_cancer", "load_iris", "load_mnist1d", "load_mnist",
    "read_idx", "load_csv", "load_npz", "MNIST_FILES",
    "DATASETS", "FILE_FORMATS", "KINDS", "Dataset", "FileFormat", "LoadedData", "register_dataset",
    "register_file_format", "detect_file_format",
]


def __dir__():
    # What tab completion and dir() show: the public names, not the family modules or helpers.
    return sorted(__all__)

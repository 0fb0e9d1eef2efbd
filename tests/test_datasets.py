"""Data sets: the notes' toy problems against hand-worked values, real-data loaders against their
sources, and file readers against small files written here, intact, truncated and corrupted."""

import gzip
import os
import random
import struct
import sys

import numpy as np
import pytest
import sklearn.datasets

from nablanet import datasets
from nablanet.datasets import (
    franke, gate, load_breast_cancer, load_csv, load_digits, load_iris, load_mnist, load_mnist1d, load_npz,
    make_franke, make_polynomial, make_sine_quadratic, polynomial, read_idx, sine_quadratic,
)

# ----------------------------------------------------------------------------------------------
# Gates
# ----------------------------------------------------------------------------------------------

GATE_TABLE = [
    # name, outputs for inputs (0,0), (0,1), (1,0), (1,1)
    ("and", [0, 0, 0, 1]),
    ("or", [0, 1, 1, 1]),
    ("xor", [0, 1, 1, 0]),
    ("xnor", [1, 0, 0, 1]),
]


@pytest.mark.parametrize("name, outputs", GATE_TABLE)
def test_gate_truth_tables_in_both_encodings(name, outputs):
    X, y = gate(name)
    assert X.shape == (4, 2) and y.shape == (4,) and X.dtype == np.float64
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == outputs
    X_pm, y_pm = gate(name.upper(), encoding="pm1")
    assert X_pm.tolist() == [[-1, -1], [-1, 1], [1, -1], [1, 1]]
    assert y_pm.tolist() == [2 * v - 1 for v in outputs]


def test_gates_match_the_notes_xnor_definition_in_pm1():
    # The notes: g = +1 iff the coordinates of x are the same (XNOR), with x in {-1, +1}^2.
    X, y = gate("xnor", encoding="pm1")
    np.testing.assert_array_equal(y, np.where(X[:, 0] == X[:, 1], 1, -1))
    X, y = gate("xor", encoding="pm1", dtype=np.float32)
    assert X.dtype == y.dtype == np.float32
    np.testing.assert_array_equal(y, np.where(X[:, 0] != X[:, 1], 1, -1))


@pytest.mark.parametrize("call, message", [
    (lambda: gate("nand"), "unknown gate 'nand'"),
    (lambda: gate(3), "unknown gate 3"),
    (lambda: gate("xor", encoding="+-1"), "encoding must be"),
    (lambda: gate("xor", dtype=np.int64), "floating dtype"),
])
def test_gate_mistakes_are_value_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----------------------------------------------------------------------------------------------
# Functions of the notes and their samples
# ----------------------------------------------------------------------------------------------

FUNCTION_VALUES = [
    # polynomial: x0^2 + 3 x0 x1 + x1^2 + 5, worked by hand
    (polynomial, (0.0, 0.0), 5.0),
    (polynomial, (1.0, 2.0), 16.0),     # 1 + 6 + 4 + 5
    (polynomial, (-1.0, 1.0), 4.0),     # 1 - 3 + 1 + 5
    (polynomial, (0.5, 0.5), 6.25),     # 0.25 + 0.75 + 0.25 + 5
    # Franke's function: values computed with mpmath at 30 digits from the four-term formula
    (franke, (0.0, 0.0), 0.76642059128492313),
    (franke, (1.0, 1.0), 0.035869592386104486),
    (franke, (0.5, 0.5), 0.32576208928068413),
    (franke, (1.0, 0.0), 0.10755755225803063),
    (franke, (0.0, 1.0), 0.27033716159113437),
    (franke, (2 / 9, 2 / 9), 1.2131375795209643),   # centre of the first peak: term 1 = 3/4 exactly
    (franke, (4 / 9, 7 / 9), 0.0038216053739345681),  # centre of the dip
    # sin(2 pi x) + x^2 / 2
    (sine_quadratic, (0.0,), 0.0),
    (sine_quadratic, (0.25,), 1.03125),
    (sine_quadratic, (0.5,), 0.125),
    (sine_quadratic, (0.75,), -0.71875),
    (sine_quadratic, (1.0,), 0.5),
]


@pytest.mark.parametrize("function, args, expected", FUNCTION_VALUES)
def test_function_values(function, args, expected):
    assert float(function(*args)) == pytest.approx(expected, rel=1e-13, abs=1e-15)


MAKERS = [
    # maker, the clean function of X, number of input columns
    (make_polynomial, lambda X: polynomial(X[:, 0], X[:, 1]), 2),
    (make_franke, lambda X: franke(X[:, 0], X[:, 1]), 2),
    (make_sine_quadratic, lambda X: sine_quadratic(X[:, 0]), 1),
]


@pytest.mark.parametrize("maker, function, n_inputs", MAKERS)
def test_random_samples_lie_in_the_unit_cube_and_follow_the_function(maker, function, n_inputs):
    X, y = maker(50, rng=0)
    assert X.shape == (50, n_inputs) and y.shape == (50,)
    assert X.min() >= 0.0 and X.max() <= 1.0
    np.testing.assert_allclose(y, function(X), rtol=1e-15)
    X_again, y_again = maker(50, rng=np.random.default_rng(0))  # an int seed is the generator it seeds
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(X, maker(50, rng=1)[0])


@pytest.mark.parametrize("maker, function, n_inputs", MAKERS)
def test_noise_is_gaussian_with_the_given_standard_deviation(maker, function, n_inputs):
    X, y = maker(20_000, noise=0.3, rng=5)
    residual = y - function(X)
    # The standard error of a sample std of 20000 normals is 0.3 / sqrt(40000) = 0.0015.
    assert abs(residual.std() - 0.3) < 0.006
    assert abs(residual.mean()) < 0.01
    X_clean, _ = maker(20_000, rng=5)
    np.testing.assert_array_equal(X, X_clean)  # the noise is drawn after the points


def test_grids_are_regular_and_row_major():
    X, z = make_franke(4, grid=True)
    axis = np.linspace(0, 1, 4)
    assert X.shape == (16, 2)
    surface = z.reshape(4, 4)
    for i, j in [(0, 0), (1, 3), (3, 2)]:
        assert surface[i, j] == franke(axis[i], axis[j])
    X, y = make_polynomial(3, grid=True, dtype=np.float32)
    assert X.dtype == y.dtype == np.float32 and X[:3, 1].tolist() == [0.0, 0.5, 1.0]
    x, y = make_sine_quadratic(5, grid=True)
    assert x.ravel().tolist() == [0, 0.25, 0.5, 0.75, 1]
    x, _ = make_sine_quadratic(30, rng=2)
    assert np.all(np.diff(x[:, 0]) >= 0)  # random points come sorted, for line plots


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), "n must be an integer >= 1"),
    (dict(n=2.5), "n must be an integer >= 1"),
    (dict(n=True), "n must be an integer >= 1"),
    (dict(noise=-0.1), "noise must be a finite standard deviation"),
    (dict(noise=float("nan")), "noise must be a finite standard deviation"),
    (dict(dtype=np.int32), "floating dtype"),
])
@pytest.mark.parametrize("maker", [make_polynomial, make_franke, make_sine_quadratic])
def test_sample_maker_mistakes_are_value_errors(maker, kwargs, message):
    with pytest.raises(ValueError, match=message):
        maker(**kwargs)


# ----------------------------------------------------------------------------------------------
# scikit-learn's tables and MNIST-1D
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("loader, source, shape, n_classes", [
    (load_digits, sklearn.datasets.load_digits, (1797, 64), 10),
    (load_breast_cancer, sklearn.datasets.load_breast_cancer, (569, 30), 2),
    (load_iris, sklearn.datasets.load_iris, (150, 4), 3),
])
def test_sklearn_tables_are_returned_as_they_are(loader, source, shape, n_classes):
    X, y = loader()
    X_ref, y_ref = source(return_X_y=True)
    assert X.shape == shape and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert sorted(set(y.tolist())) == list(range(n_classes))
    X32, _ = loader(dtype=np.float32)
    assert X32.dtype == np.float32
    np.testing.assert_array_equal(X32, X_ref.astype(np.float32))


@pytest.mark.parametrize("call, module, package", [
    (load_iris, "sklearn.datasets", "scikit-learn"),
    (lambda: load_mnist1d(num_samples=30), "mnist1d.data", "mnist1d"),
])
def test_missing_optional_dependency_names_the_extra(monkeypatch, call, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    monkeypatch.setattr(datasets.mnist, "_MNIST1D_CACHE", {})
    with pytest.raises(ImportError, match=rf"needs {package}.*pip install 'nablanet\[data\]'"):
        call()


def test_mnist1d_equals_the_package_generator_and_leaves_global_random_state_alone():
    import mnist1d.data

    numpy_state, python_state = np.random.get_state(), random.getstate()
    X_train, y_train, X_test, y_test, t = load_mnist1d(num_samples=200, seed=3, return_t=True)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1]) and random.getstate() == python_state

    args = mnist1d.data.get_dataset_args()
    args.num_samples, args.seed = 200, 3
    reference = mnist1d.data.make_dataset(args)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    for ours, key in [(X_train, "x"), (y_train, "y"), (X_test, "x_test"), (y_test, "y_test"), (t, "t")]:
        np.testing.assert_array_equal(ours, reference[key])
    assert X_train.shape == (160, 40) and X_test.shape == (40, 40) and y_train.dtype == np.int64


def test_mnist1d_defaults_are_the_packages_standard_dataset():
    # Generating the full 5000 samples takes seconds; that the defaults are the package's own
    # (hence its standard 4000/1000 split) is checked on the arguments instead.
    import inspect

    import mnist1d.data

    defaults = {name: p.default for name, p in inspect.signature(load_mnist1d).parameters.items()}
    package = mnist1d.data.get_dataset_args(as_dict=True)
    assert (defaults["num_samples"], defaults["seed"]) == (package["num_samples"], package["seed"]) == (5000, 42)
    assert package["train_split"] == 0.8 and package["final_seq_length"] == 40


def test_mnist1d_classes_are_balanced_and_cached_arrays_are_copies():
    X_train, y_train, X_test, y_test = load_mnist1d(num_samples=300, dtype=np.float32)
    assert X_train.shape == (240, 40) and X_test.shape == (60, 40) and X_train.dtype == np.float32
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == [30] * 10
    X_train[:] = 0.0  # scaling in place must not reach the cached arrays
    y_train[:] = -1
    X_again, y_again, _, _ = load_mnist1d(num_samples=300)
    assert np.abs(X_again).sum() > 0 and y_again.min() == 0 and X_again.dtype == np.float64


@pytest.mark.parametrize("kwargs", [dict(num_samples=5), dict(num_samples=100.0), dict(seed="42"),
                                    dict(dtype=np.uint8)])
def test_mnist1d_mistakes_are_value_errors(kwargs):
    with pytest.raises(ValueError):
        load_mnist1d(**kwargs)


# ----------------------------------------------------------------------------------------------
# IDX files and MNIST
# ----------------------------------------------------------------------------------------------

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array, code=None) -> bytes:
    """The IDX encoding, written from the format's description: magic, big-endian dims, big-endian data."""
    array = np.asarray(array)
    code = IDX_CODES[array.dtype.type] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, compress: bool):
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype, shape", [
    (np.uint8, (3, 4, 5)), (np.uint8, (7,)), (np.int8, (2, 3)), (np.int16, (4,)),
    (np.int32, (2, 2, 2, 2)), (np.float32, (3, 2)), (np.float64, (5,)), (np.uint8, (0, 28, 28)),
])
def test_read_idx_round_trips(tmp_path, dtype, shape, compress):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=shape) * 100).astype(dtype)
    # The name need not end in .gz: compression is recognised by the gzip signature.
    path = write(tmp_path / "data-idx-ubyte", idx_bytes(array), compress)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative and result.shape == shape
    np.testing.assert_array_equal(result, array)


IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
GOOD = idx_bytes(IMAGES)  # 16 header bytes + 24 data bytes

CORRUPTIONS = [
    # bytes of the file, what the error must say
    (GOOD[:-1], "is truncated"),
    (GOOD[:20], "is truncated"),
    (GOOD[:10], "is truncated: its header declares 3 dimensions"),
    (GOOD[:3], "is not an IDX file"),
    (b"", "is not an IDX file"),
    (GOOD + b"\x00", "has extra bytes"),
    (b"\x01" + GOOD[1:], "is not an IDX file"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "is not an IDX file"),   # unknown type code
    (GOOD[:3] + b"\x00" + GOOD[4:], "is not an IDX file"),   # zero dimensions
    (GOOD[:3] + b"\x02" + GOOD[4:], "has extra bytes"),      # dims (2, 3) and 40 - 12 bytes to spare
    (GOOD[:4] + struct.pack(">I", 3) + GOOD[8:], "is truncated"),  # 3 images declared, 2 present
    (GOOD[:4] + struct.pack(">I", 2**31) + GOOD[8:], "is truncated"),  # absurd count: no huge allocation
]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("data, message", CORRUPTIONS)
def test_corrupted_idx_files_are_value_errors(tmp_path, data, message, compress):
    path = write(tmp_path / "images-idx3-ubyte", data, compress)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


@pytest.mark.parametrize("cut", [5, 12, -9, -1])
def test_truncated_gzip_streams_are_value_errors(tmp_path, cut):
    compressed = gzip.compress(GOOD)
    path = tmp_path / "images-idx3-ubyte.gz"
    path.write_bytes(compressed[:cut])
    with pytest.raises(ValueError, match="images-idx3-ubyte.gz"):
        read_idx(path)


def test_corrupted_gzip_data_is_a_value_error(tmp_path):
    compressed = bytearray(gzip.compress(bytes(range(256)) * 40))
    compressed[len(compressed) // 2] ^= 0xFF
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(ValueError, match="labels-idx1-ubyte.gz"):
        read_idx(path)


def test_read_idx_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(tmp_path / "nothing-idx3-ubyte")


def small_mnist(rng, n_train=5, n_test=3):
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def write_mnist_idx(folder, arrays, compress=(False, False, False, False), names=tuple(datasets.MNIST_FILES.values())):
    for array, name, gz in zip(arrays, names, compress):
        write(folder / (name + (".gz" if gz else "")), idx_bytes(array), gz)


def assert_mnist_equal(result, arrays):
    for ours, reference in zip(result, arrays):
        np.testing.assert_array_equal(ours, reference)
    assert result[1].dtype == result[3].dtype == np.int64


@pytest.mark.parametrize("compress", [(False,) * 4, (True,) * 4, (True, False, False, True)])
def test_load_mnist_from_idx_files(tmp_path, compress):
    arrays = small_mnist(np.random.default_rng(1))
    write_mnist_idx(tmp_path, arrays, compress)
    result = load_mnist(tmp_path)
    assert result[0].dtype == np.uint8 and result[0].shape == (5, 28, 28)
    assert_mnist_equal(result, arrays)


def test_load_mnist_accepts_the_dotted_spelling(tmp_path):
    arrays = small_mnist(np.random.default_rng(2))
    dotted = [name.replace("-idx", ".idx") for name in datasets.MNIST_FILES.values()]
    write_mnist_idx(tmp_path, arrays, names=dotted)
    assert_mnist_equal(load_mnist(str(tmp_path)), arrays)


def test_load_mnist_from_npz_file_or_folder_scaled_and_flattened(tmp_path):
    arrays = small_mnist(np.random.default_rng(3))
    np.savez(tmp_path / "mnist.npz", **dict(zip(["x_train", "y_train", "x_test", "y_test"], arrays)))
    assert_mnist_equal(load_mnist(tmp_path / "mnist.npz"), arrays)
    X_train, y_train, X_test, y_test = load_mnist(tmp_path, dtype=np.float32, flatten=True)
    assert X_train.shape == (5, 784) and X_test.shape == (3, 784) and X_train.dtype == np.float32
    np.testing.assert_allclose(X_train, arrays[0].reshape(5, 784) / 255.0, rtol=1e-7)
    assert X_train.min() >= 0.0 and X_train.max() <= 1.0


def test_missing_mnist_files_say_what_is_expected_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as missing_folder:
        load_mnist(tmp_path / "absent")
    assert "does not exist" in str(missing_folder.value)
    arrays = small_mnist(np.random.default_rng(4))
    write_mnist_idx(tmp_path, arrays[:2], names=list(datasets.MNIST_FILES.values())[:2])
    with pytest.raises(FileNotFoundError) as partial:
        load_mnist(tmp_path)
    message = str(partial.value)
    assert ("found train-images-idx3-ubyte, train-labels-idx1-ubyte but not t10k-images-idx3-ubyte, "
            "t10k-labels-idx1-ubyte") in message
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte", "mnist.npz", str(tmp_path)]:
        assert name in message


def mnist_with(tmp_path, index, array):
    arrays = list(small_mnist(np.random.default_rng(5)))
    arrays[index] = array
    write_mnist_idx(tmp_path, arrays)
    return tmp_path


@pytest.mark.parametrize("index, array, message", [
    (1, np.array([1, 2, 3, 4], dtype=np.uint8), "holds 5 images but .* holds 4 labels"),
    (3, np.array([1, 2, 10], dtype=np.uint8), "labels outside 0..9"),
    (0, np.zeros((5, 784), dtype=np.uint8), r"shape \(N, H, W\)"),
    (0, np.zeros((5, 28, 28), dtype=np.float32), "uint8 pixels"),
    (2, np.zeros((3, 14, 14), dtype=np.uint8), "28x28 but test images are 14x14"),
])
def test_inconsistent_mnist_files_are_value_errors(tmp_path, index, array, message):
    with pytest.raises(ValueError, match=message):
        load_mnist(mnist_with(tmp_path, index, array))


def test_truncated_mnist_image_file_is_a_value_error(tmp_path):
    arrays = small_mnist(np.random.default_rng(6))
    write_mnist_idx(tmp_path, arrays)
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte is truncated"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("make, error, message", [
    (lambda p: np.savez(p / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8)), ValueError,
     "no array named 'y_train'"),
    (lambda p: (p / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip"), ValueError, "not an .npz archive"),
    (lambda p: (p / "mnist.txt").write_text("hello"), ValueError, "not an .npz file"),
])
def test_bad_mnist_npz(tmp_path, make, error, message):
    make(tmp_path)
    target = tmp_path / "mnist.txt" if (tmp_path / "mnist.txt").exists() else tmp_path
    with pytest.raises(error, match=message):
        load_mnist(target)


# ----------------------------------------------------------------------------------------------
# User CSV and NPZ files
# ----------------------------------------------------------------------------------------------

def csv_file(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_load_csv_reads_features_target_and_names(tmp_path):
    path = csv_file(tmp_path, 'a,label,"b"\n1,0,2.5\n-3e2,1,"4"\n\n5,2,6\n')
    X, y, names = load_csv(path)
    assert X.tolist() == [[1, 2.5], [-300, 4], [5, 6]] and X.dtype == np.float64
    assert y.tolist() == [0, 1, 2] and y.dtype == np.int64
    assert names == ["a", "b"]


@pytest.mark.parametrize("text, kwargs, X, y, names", [
    ("x;t\n1;0.5\n2;1.5\n", dict(target="t", delimiter=";"), [[1], [2]], [0.5, 1.5], ["x"]),
    ("1,2,0\n3,4,1\n", dict(target=2, header=False), [[1, 2], [3, 4]], [0, 1], ["x0", "x1"]),
    ("1,2,0\n3,4,1\n", dict(target=0, header=False), [[2, 0], [4, 1]], [1, 3], ["x1", "x2"]),
    ("1,2,0\n3,4,1\n", dict(target=-1, header=False), [[1, 2], [3, 4]], [0, 1], ["x0", "x1"]),
    ("\ufefflabel,f\n1,2\n", dict(), [[2]], [1], ["f"]),  # a byte-order mark is not part of the name
    ("f, label\n1, 2\n", dict(), [[1]], [2], ["f"]),      # names are stripped
])
def test_load_csv_variants(tmp_path, text, kwargs, X, y, names):
    X_read, y_read, names_read = load_csv(csv_file(tmp_path, text), **kwargs)
    assert X_read.tolist() == X and y_read.tolist() == y and names_read == names


def test_load_csv_float_targets_stay_float_and_dtype_applies_to_X(tmp_path):
    X, y, _ = load_csv(csv_file(tmp_path, "f,label\n1,0.5\n2,1\n"), dtype=np.float32)
    assert y.dtype == np.float64 and X.dtype == np.float32


CSV_MISTAKES = [
    ("a,b\n1,2\n", dict(), "has no column named 'label'; its columns are 'a', 'b'"),
    ("a,label\n1,0\n2,x7\n", dict(), "line 3, column 'label' holds 'x7', which is not a number"),
    ("a,label\n1,0\n,1\n", dict(), "line 3, column 'a' is empty"),
    ("a,label\n1,0\nnan,1\n", dict(), "line 3, column 'a' holds 'nan'; the data must be finite"),
    ("a,label\n1,0\n2,inf\n", dict(), "line 3, column 'label' holds 'inf'"),
    ("a,label\n1,0\n2,1,3\n", dict(), "line 3 has 3 cells but the file has 2 columns"),
    ("a,label\n1,0\n2\n", dict(), "line 3 has 1 cells but the file has 2 columns"),
    ("a,label\n", dict(), "has no data rows"),
    ("", dict(), "is empty"),
    ("label\n1\n", dict(), "single column"),
    ("a,label,label\n1,2,3\n", dict(), "2 columns named 'label'"),
    ("1,2\n", dict(header=False), "header=False"),
    ("1,2\n", dict(target=5, header=False), "out of range"),
    ("a,label\n1,2\n", dict(target=1.5), "column name or a 0-based column position"),
]


@pytest.mark.parametrize("text, kwargs, message", CSV_MISTAKES)
def test_load_csv_mistakes_name_the_problem(tmp_path, text, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        load_csv(csv_file(tmp_path, text), **kwargs)


def test_load_csv_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_csv(tmp_path / "absent.csv")


def test_load_npz_reads_named_arrays(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, inputs=np.ones((4, 3), np.float32), targets=np.arange(4))
    X, y = load_npz(path, "inputs", "targets")
    assert X.dtype == np.float32 and X.shape == (4, 3) and y.tolist() == [0, 1, 2, 3]
    X_only, nothing = load_npz(path, "inputs", None)
    assert nothing is None and X_only.shape == (4, 3)


NPZ_MISTAKES = [
    (dict(X=np.ones((3, 2)), labels=np.ones(3)), "has no array named 'y'; its arrays are X, labels"),
    (dict(X=np.ones((3, 2)), y=np.ones(2)), "has 3 rows but .* has 2"),
    (dict(X=np.array([[1.0, np.nan]]), y=np.ones(1)), r"holds nan at index \(0, 1\)"),
    (dict(X=np.ones((1, 1)), y=np.array([np.inf])), r"holds inf at index \(0,\)"),
    (dict(X=np.float64(3.0), y=np.ones(1)), "is a scalar"),
    (dict(X=np.array([{"a": 1}], dtype=object), y=np.ones(1)), "holds Python objects, which need pickle"),
]


@pytest.mark.parametrize("arrays, message", NPZ_MISTAKES)
def test_load_npz_mistakes_name_the_problem(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message):
        load_npz(path)


def test_load_npz_never_unpickles(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([object()], dtype=object), y=np.ones(1))
    calls = []
    monkeypatch.setattr("pickle.loads", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setattr("pickle.load", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(ValueError, match="pickle"):
        load_npz(path)
    assert calls == []


@pytest.mark.parametrize("contents, message", [
    (lambda good: good[: len(good) // 2], "not an .npz archive|could not be read"),
    (lambda good: b"just text", "not an .npz archive"),
])
def test_load_npz_corrupted_files(tmp_path, contents, message):
    good_path = tmp_path / "good.npz"
    np.savez(good_path, X=np.ones((100, 10)), y=np.ones(100))
    path = tmp_path / "bad.npz"
    path.write_bytes(contents(good_path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        load_npz(path)


def test_load_npz_of_a_single_npy_array_or_a_missing_file(tmp_path):
    np.save(tmp_path / "one.npy", np.ones(3))
    with pytest.raises(ValueError, match="single .npy array"):
        load_npz(tmp_path / "one.npy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_npz(tmp_path / "absent.npz")


def test_a_directory_given_as_a_data_file_is_named_as_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="CSV file .* is a directory, not a file"):
        load_csv(tmp_path)
    with pytest.raises(IsADirectoryError, match="NPZ file .* is a directory, not a file"):
        load_npz(tmp_path)


def test_a_pipe_given_as_a_csv_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")  # opening it for reading would block until a writer came
    with pytest.raises(ValueError, match="is not a regular file"):
        load_csv(tmp_path / "pipe.csv")


def test_a_csv_that_is_not_utf8_names_the_byte_and_its_offset(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("caf\u00e9,label\n1,0\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"is not UTF-8 text: byte 0xe9 at offset 3 .*iconv"):
        load_csv(path)


def test_load_npz_of_a_text_file_gives_no_advice_to_unpickle(tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(ValueError) as error:
        load_npz(path)
    assert "not an .npz archive" in str(error.value)
    assert "pickle" not in str(error.value).lower()

"""The tutorials (tutorials/plot_*.py, rendered by sphinx-gallery): each runs top to bottom and its asserts hold.

Every tutorial ends each claim it teaches with an ``assert`` on the numbers it computed, so running it is
its test, as the demos' claims are checked on their quick runs. They run here in this process, as
sphinx-gallery runs them when the site is built (one process, matplotlib's Agg backend, the tutorial's
folder as the working directory), with the figures closed after each.
"""

import contextlib
import gzip
import io
import re
import runpy
import struct
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("sklearn")
pytest.importorskip("mnist1d")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
SCRIPTS = sorted(TUTORIALS.glob("plot_*.py"))


def run_tutorial(path, monkeypatch, mnist_dir):
    """Run one tutorial as sphinx-gallery does; return what it printed and how many figures it drew."""
    monkeypatch.chdir(TUTORIALS)
    # MNIST is read from MNIST_DIR: pointing it at a folder of our choosing keeps a developer's own
    # ~/data/mnist out of the test.
    monkeypatch.setenv("MNIST_DIR", str(mnist_dir))
    plt.close("all")
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            runpy.run_path(str(path), run_name="__main__")
        figures = len(plt.get_fignums())
    finally:
        plt.close("all")
    return output.getvalue(), figures


def test_the_gallery_has_its_header_and_the_tutorials_are_numbered_in_order():
    assert (TUTORIALS / "README.txt").read_text().splitlines()[1].startswith("===")
    numbers = [int(re.match(r"plot_(\d\d)_\w+\.py$", path.name).group(1)) for path in SCRIPTS]
    assert numbers == list(range(1, len(SCRIPTS) + 1)) and len(numbers) >= 14


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.stem)
def test_each_tutorial_opens_with_a_titled_docstring_and_has_text_cells_and_claims(path):
    source = path.read_text()
    assert source.startswith('r"""\n') or source.startswith('"""\n'), "sphinx-gallery needs the docstring first"
    title, underline = source.splitlines()[1:3]
    assert title and underline == "=" * len(title), f"the RST title of {path.name} is not underlined to its length"
    assert source.count("\n# %%\n") >= 3
    assert re.search(r"^assert ", source, flags=re.M), f"{path.name} asserts none of its claims"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.stem)
def test_each_tutorial_runs_and_its_claims_hold(path, monkeypatch, tmp_path):
    printed, figures = run_tutorial(path, monkeypatch, tmp_path / "no-mnist-here")
    assert figures >= 1, f"{path.name} drew no figure"
    assert printed.strip(), f"{path.name} printed nothing"
    if path.name == "plot_11_mnist_and_mnist1d.py":
        # Without the files the page must say what it used instead, and how to get MNIST.
        assert "MNIST files not found" in printed and "Using scikit-learn's 8x8 digits instead" in printed


def _write_idx(path, array):
    """An IDX file of unsigned bytes (the MNIST format), gzip-compressed."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + np.asarray(array, dtype=np.uint8).tobytes())


def test_the_mnist_tutorial_reads_mnist_from_idx_files_when_they_are_there(monkeypatch, tmp_path):
    # Stand-in MNIST files: scikit-learn's 8x8 digits blown up to 28x28 (each pixel 3x3, a border of
    # 2); for training, 10,000 draws (as many as the tutorial takes) from 1,500 of them, each shifted
    # by up to a pixel; for testing, the other 297.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.pad(np.kron(digits.images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2))) * (255 / 16)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    pool, test = order[:1500], order[1500:]
    picks = rng.choice(pool, 10_000)
    train = np.stack([np.roll(images[i], rng.integers(-1, 2, 2), axis=(0, 1)) for i in picks])
    folder = tmp_path / "mnist"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte.gz", train.round())
    _write_idx(folder / "train-labels-idx1-ubyte.gz", digits.target[picks])
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", images[test].round())
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", digits.target[test])

    printed, _ = run_tutorial(TUTORIALS / "plot_11_mnist_and_mnist1d.py", monkeypatch, folder)
    assert f"MNIST from {folder}: 10000 training and 297 test images of 28x28 pixels" in printed
    assert "not found" not in printed


"""The kernels layer: plain NumPy below the engine, and the behaviour of its functions at the edges."""

import ast
from pathlib import Path

import numpy
import pytest

import nablanet
import nablanet.numpy as nnp
from nablanet.autodiff.ops.nn import dense

KERNELS = Path(__file__).resolve().parents[1] / "src" / "nablanet" / "kernels"


def _imported_modules(path: Path) -> set:
    """Every module a file imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def _outside_the_kernels(module: str) -> bool:
    return module.startswith((".", "nablanet")) and not (module == "nablanet.kernels"
                                                          or module.startswith("nablanet.kernels."))


def test_kernels_import_nothing_of_nablanet_but_kernels():
    # The ops import the kernels; a kernel importing the engine (or anything above it) would make a
    # cycle. Kernels may share a kernel module (the workspace pool), named in full.
    files = sorted(KERNELS.glob("*.py"))
    assert len(files) > 1
    offending = {path.name: sorted(m for m in _imported_modules(path) if _outside_the_kernels(m))
                 for path in files}
    assert {name: modules for name, modules in offending.items() if modules} == {}


def test_the_import_finder_sees_imports_at_any_depth(tmp_path):
    source = tmp_path / "kernel.py"
    source.write_text("import numpy as np\n\n\ndef f():\n    from nablanet.autodiff import op\n    from . import norm\n")
    assert _imported_modules(source) == {"numpy", "nablanet.autodiff", "."}
    assert [_outside_the_kernels(m) for m in ("numpy", "nablanet.autodiff", ".", "nablanet.kernels.workspace")] == [
        False, True, True, False]


def test_dense_with_no_output_units_gives_empty_results_and_gradients():
    # The tiled bias add divided by the number of units, so zero units raised ZeroDivisionError.
    x = nablanet.Tensor(numpy.ones((3, 2)), requires_grad=True)
    W = nablanet.Tensor(numpy.ones((2, 0)), requires_grad=True)
    b = nablanet.Tensor(numpy.ones(0), requires_grad=True)
    a = dense(x, W, b, activation="relu")
    assert a.shape == (3, 0)
    a.sum().backward()
    numpy.testing.assert_array_equal(x.grad, numpy.zeros((3, 2)))
    assert W.grad.shape == (2, 0) and b.grad.shape == (0,)


def test_matmul_of_stacks_whose_inner_sizes_differ_is_refused_as_numpy_refuses_it():
    # (..., M, 1) @ (..., K, N) with K != 1 was computed as a broadcast product (the outer-product
    # shortcut), returning an array where NumPy raises.
    x, y = numpy.ones((2, 1, 1)), numpy.ones((2, 5, 4))
    with pytest.raises(ValueError):
        numpy.matmul(x, y)
    with pytest.raises(ValueError, match="matmul"):
        nnp.matmul(x, y)
    # The shortcut itself still gives NumPy's product of stacked outer products.
    a, b = numpy.arange(6.0).reshape(2, 3, 1), numpy.arange(8.0).reshape(2, 1, 4)
    numpy.testing.assert_array_equal(nnp.matmul(a, b), numpy.matmul(a, b))

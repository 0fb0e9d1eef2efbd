"""The NumPy that autograd and the issue name: every function is nablanet's, differentiable, and reached
by NumPy's own call on a Tensor.

The list is HIPS autograd's own registry of primitives with a reverse rule (``autograd.core``, as
its ``numpy_vjps.py``, ``linalg.py``, ``fft.py`` and ``scipy/special.py`` fill it), read from the
installed package, plus the names issue 10 lists that autograd lacks (r_, c_, cumprod, ...).
"""

import numpy
import pytest
import scipy.special

import autograd.numpy  # noqa: F401  (importing fills autograd's registry)
import autograd.numpy.fft  # noqa: F401
import autograd.numpy.linalg  # noqa: F401
import autograd.scipy.special  # noqa: F401
from autograd.core import primitive_vjps

import nablanet
import nablanet.numpy as nnp
import nablanet.numpy.fft as nfft
import nablanet.numpy.linalg as nlinalg
import nablanet.scipy.special as nspecial

NAMESPACES = {"numpy": (numpy, nnp), "numpy.linalg": (numpy.linalg, nlinalg), "numpy.fft": (numpy.fft, nfft),
              "scipy.special": (scipy.special, nspecial)}

# Named in issue 10 beside autograd's registry.
ISSUE_NAMES = {
    "numpy": ["array", "r_", "c_", "column_stack", "append", "prod", "cumsum", "cumprod", "diff", "sort", "partition",
              "einsum", "tensordot", "kron", "outer", "dot", "matmul", "repeat", "tile", "roll", "flip", "rot90", "diag",
              "diagonal", "trace", "tril", "triu", "split", "array_split", "hsplit", "vsplit", "dsplit", "atleast_1d",
              "atleast_2d", "atleast_3d", "tan", "arctan", "arctan2", "arcsin", "arccos", "sinh", "cosh", "arcsinh",
              "arccosh", "arctanh", "hypot", "log2", "log10", "exp2", "logaddexp2", "sinc", "deg2rad", "fmax", "fmin",
              "remainder", "nan_to_num", "var", "std", "ravel", "real", "imag", "conj", "angle", "abs"],
    "numpy.linalg": ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "eig", "svd", "qr", "pinv", "norm",
                     "matrix_power"],
    "numpy.fft": ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn", "irfftn"],
    "scipy.special": ["gammaln", "digamma", "polygamma", "erf", "erfc", "expit", "logit", "logsumexp", "xlogy", "i0",
                      "i1"],
}


def _autograd_names() -> dict:
    names = {key: set() for key in NAMESPACES}
    for primitive in primitive_vjps:
        function = primitive.fun
        module = getattr(function, "__module__", None)
        if module in ("numpy", "numpy.linalg", "numpy.fft"):
            names[module].add(function.__name__)
        elif module is None or module.startswith("scipy.special"):
            # scipy.special's ufuncs carry no module.
            if hasattr(scipy.special, function.__name__):
                names["scipy.special"].add(function.__name__)
    return names


AUTOGRAD = _autograd_names()
ALL_NAMES = sorted({(space, name) for space in NAMESPACES for name in AUTOGRAD[space] | set(ISSUE_NAMES[space])})


def test_autograd_registry_is_read():
    # A guard against a vacuous test: autograd 1.6+ registers over a hundred NumPy primitives.
    assert len(AUTOGRAD["numpy"]) > 100 and len(AUTOGRAD["numpy.linalg"]) >= 10 and len(AUTOGRAD["numpy.fft"]) >= 12


@pytest.mark.parametrize("space,name", ALL_NAMES, ids=[f"{s}.{n}" for s, n in ALL_NAMES])
def test_every_name_is_nablanets_and_differentiable(space, name):
    theirs_module, ours_module = NAMESPACES[space]
    assert name in ours_module.__all__, f"{space}.{name} is not in nablanet's namespace"
    ours = getattr(ours_module, name)
    assert ours is not getattr(theirs_module, name, None), f"{space}.{name} is NumPy's own, not nablanet's"
    assert not getattr(ours, "__nablanet_constant__", False) or name in CONSTANT_IN_AUTOGRAD, \
        f"{space}.{name} is marked as having no derivative"


# autograd registers these with a zero or undefined derivative; nablanet marks them constant.
CONSTANT_IN_AUTOGRAD = {"gammasgn"}


DISPATCHED = [(space, name) for space, name in ALL_NAMES
              if callable(getattr(NAMESPACES[space][0], name, None)) and space != "scipy.special"
              and name not in CONSTANT_IN_AUTOGRAD]


@pytest.mark.parametrize("space,name", [(s, n) for s, n in DISPATCHED if n in ("sin", "cumsum", "inv", "fft", "einsum",
                                                                               "sort", "tril", "svd", "logaddexp")])
def test_numpys_own_call_on_a_tensor_reaches_nablanet(space, name):
    # numpy.<name>(tensor) dispatches (NEP 13/18) to nablanet's function: a sample of the families.
    x = nablanet.Tensor(numpy.eye(3) + 0.1, requires_grad=True)
    theirs = getattr(NAMESPACES[space][0], name)
    args = {"einsum": ("ij->i", x), "logaddexp": (x, x)}.get(name, (x,))
    result = theirs(*args)
    leaves = nablanet.tree_flatten(result)[0]
    assert any(isinstance(leaf, nablanet.Tensor) and leaf.requires_grad for leaf in leaves)

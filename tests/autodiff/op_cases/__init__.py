"""The per-op gradient table, one module per family of primitives (as ``autodiff/ops/`` is laid out).

Each family module defines ``CASES``: op name -> list of ``Case``. An op registered in ``OPS`` needs an
entry here (or a place in ``CONSTANT_OPS`` / ``FORWARD_ONLY_OPS``), or ``test_every_op_has_cases``
fails: a new op gets its finite-difference checks by adding its cases to its family's module.

A case's inputs come from its domains (``sample``) in the shapes it lists; ``dtype="complex"`` draws
complex inputs (real and imaginary parts from the domain), so holomorphic and non-holomorphic rules
are checked off the real line as well.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

import numpy


def sample(domain: str, shape: tuple, rng) -> numpy.ndarray:
    """Inputs where the op is smooth: away from log(0), division by zero and kinks."""
    if domain == "real":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "above_minus_one":
        return rng.uniform(-0.5, 2.0, shape)
    if domain == "unit":
        # Inside (-1, 1) and away from its ends, where arcsin, arctanh and the like are smooth.
        return rng.uniform(-0.8, 0.8, shape)
    if domain == "above_one":
        return rng.uniform(1.2, 3.0, shape)
    if domain == "nonzero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    if domain == "distinct":
        # A shuffled grid: no ties, so max/min have a unique winner and a well-defined derivative.
        size = int(numpy.prod(shape))
        return (rng.permutation(size) * 0.37 + rng.uniform(0, 0.1)).reshape(shape) - size * 0.2
    if domain == "spd":
        # Symmetric positive definite matrices (..., n, n), well conditioned: A A^T / n + I.
        a = rng.standard_normal(shape)
        return a @ numpy.swapaxes(a, -1, -2) / shape[-1] + numpy.eye(shape[-1])
    if domain == "well_conditioned":
        # Square matrices (..., n, n) near the identity: invertible, with distinct singular values.
        return numpy.eye(shape[-1]) * 2.0 + 0.5 * rng.standard_normal(shape)
    if domain == "gapped":
        # Matrices (..., m, n) whose singular values (and, square, the eigenvalues of the Hermitian
        # part) stay apart, near k, k - 1.5, ..., 1 for k = min(m, n): eigenvector and singular-vector
        # derivatives divide by their gaps. As complex input (1 + i) D + noise, the Hermitian part
        # keeps the gaps and gets an imaginary part of its own.
        k = min(shape[-2:])
        diagonal = numpy.zeros(shape[-2:])
        diagonal[numpy.arange(k), numpy.arange(k)] = 1.0 + 1.5 * numpy.arange(k)[::-1]
        return diagonal + 0.3 * rng.standard_normal(shape)
    raise ValueError(f"unknown sampling domain {domain!r}")


@dataclass
class Case:
    """One function of the op under test, the shapes of its inputs, and where to sample them."""

    fn: object
    shapes: tuple
    domains: tuple = ("real",)
    id: str = ""
    dtype: str = "real"

    def arrays(self, rng):
        domains = self.domains * len(self.shapes) if len(self.domains) == 1 else self.domains
        arrays = [sample(d, s, rng) for d, s in zip(domains, self.shapes)]
        if self.dtype == "complex":
            arrays = [a + 1j * sample(d, s, rng) for a, d, s in zip(arrays, domains, self.shapes)]
        return arrays


BROADCAST_PAIRS = [((), ()), ((4,), (4,)), ((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4)), ((2, 3, 4), (3, 1))]


def binary(fn, domains=("real", "real"), dtype="real"):
    return [Case(fn, pair, domains, id=f"{pair[0]}-{pair[1]}", dtype=dtype) for pair in BROADCAST_PAIRS]


def unary(fn, domain="real", shapes=((), (5,), (3, 4)), dtype="real"):
    return [Case(fn, (s,), (domain,), id=f"{s}" if dtype == "real" else f"{s}-complex", dtype=dtype) for s in shapes]


def reductions(fn, domain="real", keep=True):
    cases = [Case(lambda x: fn(x), ((3, 4),), (domain,), id="all")]
    for axis in (0, 1, -1, (0, 1)):
        cases.append(Case(lambda x, a=axis: fn(x, axis=a), ((3, 4),), (domain,), id=f"axis{axis}"))
        if keep:
            cases.append(Case(lambda x, a=axis: fn(x, axis=a, keepdims=True), ((3, 4),), (domain,), id=f"axis{axis}-keep"))
    cases.append(Case(lambda x: fn(x, axis=1), ((2, 3, 4),), (domain,), id="3d"))
    return cases


# The public namespaces whose functions must each have cases, and the prefix of their names here.
NAMESPACES = {"nablanet.numpy": "", "nablanet.numpy.linalg": "linalg.", "nablanet.numpy.fft": "fft.",
              "nablanet.scipy.special": "special."}


def public_functions() -> dict:
    """Every differentiable public function: qualified name ("sum", "linalg.inv") -> the function.

    Functions marked ``__nablanet_constant__`` (argmax, floor: no derivative) and non-callables are
    left out; namespaces that do not exist yet are skipped.
    """
    found = {}
    for module_name, prefix in NAMESPACES.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if not callable(value) or isinstance(value, type) or getattr(value, "__nablanet_constant__", False):
                continue
            found[prefix + name] = value
    return found


def uncovered(public: dict, covered: set) -> list:
    """The names in ``public`` not in ``covered``, where an alias (the same function under another
    name, as absolute and abs) counts as covered when one of its names is."""
    covered_objects = {id(fn) for name, fn in public.items() if name in covered}
    return sorted(name for name, fn in public.items() if name not in covered and id(fn) not in covered_objects)


def _family_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        yield importlib.import_module(f"{__name__}.{info.name}")


def collect():
    """(CASES, CONSTANT_OPS, FORWARD_ONLY_OPS) merged over every family module; an op in two is an error."""
    cases, constant, forward_only = {}, set(), set()
    for module in _family_modules():
        for name, entries in getattr(module, "CASES", {}).items():
            if name in cases:
                raise ValueError(f"op {name!r} has cases in two family modules (second: {module.__name__})")
            cases[name] = entries
        constant |= set(getattr(module, "CONSTANT_OPS", ()))
        forward_only |= set(getattr(module, "FORWARD_ONLY_OPS", ()))
    return cases, constant, forward_only

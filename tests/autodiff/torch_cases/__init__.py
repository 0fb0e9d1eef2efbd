"""Differential tables against PyTorch, one module per family of primitives (the op_cases layout).

Each family module defines ``TORCH_CASES``, a list of ``TorchCase``: one nablanet.numpy function, the
same function written with torch, and how to draw its inputs. ``test_against_torch_tables.py`` runs
every case under hypothesis and compares values, reverse mode (VJP along a random cotangent) and
forward mode (JVP along a random tangent) with ``torch.autograd.grad`` and ``torch.func.jvp``.

A module may also define ``NO_TORCH``: op name -> why torch has no equivalent to compare with.

Complex numbers follow JAX's convention in nablanet and PyTorch's in torch. Forward mode is the same
in both (the directional derivative). In reverse mode JAX's cotangent pairing is bilinear,
Re(sum(u * J v)), PyTorch's sesquilinear, Re(sum(conj(u) * J v)), so
``nablanet vjp(u) = conj(torch vjp(conj(u)))``; the harness compares exactly that.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

import numpy

from op_cases import sample


@dataclass
class TorchCase:
    """A nablanet function and its torch twin, compared on inputs drawn from ``domains``.

    Args:
        covers: the registered ops and public function names the case compares (for the coverage tests).
        ours: f(*arrays) written with nablanet.numpy.
        theirs: the same f(*tensors) written with torch.
        shapes: the input shapes, or a function (numpy Generator) -> shapes, to vary them.
        domains: where each input is sampled (``op_cases.sample``), one for all or one per input.
        dtype: "real" or "complex" inputs.
        integer_inputs: positions of inputs that are not differentiated (index arrays, labels): drawn
            by ``make_integer(rng, shape)`` instead.
        rtol, atol: tolerances of the comparison.
    """

    covers: tuple
    ours: object
    theirs: object
    shapes: object
    domains: tuple = ("real",)
    dtype: str = "real"
    id: str = ""
    rtol: float = 1e-8
    atol: float = 1e-10
    check_forward: bool = True
    extra: dict = field(default_factory=dict)

    def arrays(self, rng):
        shapes = self.shapes(rng) if callable(self.shapes) else self.shapes
        domains = self.domains * len(shapes) if len(self.domains) == 1 else self.domains
        arrays = [sample(d, s, rng) for d, s in zip(domains, shapes)]
        if self.dtype == "complex":
            arrays = [a + 1j * sample(d, s, rng) for a, d, s in zip(arrays, domains, shapes)]
        return arrays


def _family_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        yield importlib.import_module(f"{__name__}.{info.name}")


def collect():
    """(every TorchCase, {op: reason} for ops torch has no twin of) over all family modules."""
    cases, no_torch = [], {}
    for module in _family_modules():
        cases.extend(getattr(module, "TORCH_CASES", []))
        no_torch.update(getattr(module, "NO_TORCH", {}))
    return cases, no_torch


def covered_ops() -> set:
    """The op and function names some TorchCase compares, or some module explains torch lacks."""
    cases, no_torch = collect()
    return {name for case in cases for name in case.covers} | set(no_torch)


def random_cotangent(rng, shape, dtype):
    """A random cotangent of an output: complex when the output is complex."""
    u = rng.standard_normal(shape)
    if numpy.issubdtype(dtype, numpy.complexfloating):
        u = u + 1j * rng.standard_normal(shape)
    return u

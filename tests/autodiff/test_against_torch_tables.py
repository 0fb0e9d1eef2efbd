"""Every TorchCase of ``torch_cases/``: values, VJP and JVP against PyTorch, on hypothesis-drawn inputs.

The random-program test (test_against_torch.py) composes the original primitives; these tables
cover the rest of the NumPy surface one function at a time, with inputs drawn where the function is
smooth. See ``torch_cases/__init__.py`` for the complex-number convention.
"""

from __future__ import annotations

import numpy
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nablanet
from op_cases import public_functions
from torch_cases import collect, random_cotangent

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

CASES, NO_TORCH = collect()

# The same examples on every run (no database), few per case: each case is one function.
TABLE_SETTINGS = settings(max_examples=8, deadline=None, derandomize=True, database=None)


def _to_torch(a):
    return torch.as_tensor(numpy.asarray(a))


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _assert_close(ours, theirs, case, what):
    ours = numpy.asarray(ours)
    theirs = numpy.asarray(theirs)
    assert ours.shape == theirs.shape, f"{case.id} {what}: shape {ours.shape}, torch gives {theirs.shape}"
    numpy.testing.assert_allclose(ours, theirs, rtol=case.rtol, atol=case.atol, err_msg=f"{case.id}: {what}")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@TABLE_SETTINGS
@given(seed=st.integers(0, 2**32 - 1))
def test_matches_torch(case, seed):
    rng = numpy.random.default_rng(seed)
    arrays = case.arrays(rng)
    outputs = _as_list(case.ours(*arrays))
    leaves = [_to_torch(a).requires_grad_(True) for a in arrays]
    torch_outputs = _as_list(case.theirs(*leaves))
    assert len(outputs) == len(torch_outputs), f"{case.id}: {len(outputs)} outputs, torch gives {len(torch_outputs)}"
    # resolve_conj: torch may return a lazily conjugated tensor (hfft's gradient), which .numpy() refuses.
    for k, (ours, theirs) in enumerate(zip(outputs, torch_outputs)):
        _assert_close(ours, theirs.detach().resolve_conj().numpy(), case, f"value of output {k}")

    # Reverse mode: nablanet vjp(u) = conj(torch vjp(conj(u))) (JAX's bilinear pairing against PyTorch's).
    cotangents = [random_cotangent(rng, numpy.shape(o), numpy.asarray(o).dtype) for o in outputs]
    _, f_vjp = nablanet.vjp(lambda *xs: tuple(_as_list(case.ours(*xs))), *arrays)
    ours_grads = f_vjp(tuple(cotangents))
    torch_grads = torch.autograd.grad(torch_outputs, leaves, [_to_torch(numpy.conj(u)) for u in cotangents],
                                      allow_unused=True, materialize_grads=True)
    for i, (ours, theirs) in enumerate(zip(ours_grads, torch_grads)):
        _assert_close(ours, numpy.conj(theirs.resolve_conj().numpy()), case, f"VJP with respect to input {i}")

    if case.check_forward:
        tangents = [random_cotangent(rng, numpy.shape(a), numpy.asarray(a).dtype) for a in arrays]
        _, ours_dot = nablanet.jvp(lambda *xs: tuple(_as_list(case.ours(*xs))), arrays, tangents)
        _, torch_dot = torch.func.jvp(lambda *xs: tuple(_as_list(case.theirs(*xs))),
                                      tuple(_to_torch(a) for a in arrays), tuple(_to_torch(t) for t in tangents))
        for k, (ours, theirs) in enumerate(zip(ours_dot, torch_dot)):
            _assert_close(ours, theirs.resolve_conj().numpy(), case, f"JVP of output {k}")


def test_every_case_names_registered_ops():
    unknown = sorted({name for case in CASES for name in case.covers} - set(nablanet.OPS) - set(public_functions()))
    assert not unknown, f"torch cases name what is neither a registered op nor a public function: {unknown}"

"""Products of arrays: matmul and einsum (the primitives), and dot, vdot, inner, outer, tensordot, kron,
cross, vecdot, matvec, vecmat built on them, each with NumPy's semantics for every rank.

Complex numbers follow the engine's convention (JAX's): these products are holomorphic in each
argument, so their rules are the real ones, transposes without conjugation. Where NumPy's function
itself conjugates an argument (vdot, vecdot, vecmat) that is a conj op in the composite.
"""

from __future__ import annotations

import math
import operator
import string
import warnings

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from nablanet.autodiff import batching
from nablanet.autodiff.op import Op, register
from nablanet.autodiff.ops.elementwise import astype, conj, multiply, subtract
from nablanet.autodiff.ops.shape import (
    _numpy_without_tensors, _operand, _raw, _refuse_out, broadcast_arrays, broadcast_to, expand_dims, getitem, moveaxis, ravel,
    reshape, stack, transpose,
)
from nablanet.kernels import linalg as linalg_kernels

__all__ = ["matmul", "dot", "outer", "inner", "vdot", "einsum", "tensordot", "kron", "cross", "vecdot", "matvec",
           "vecmat"]


def _shape(x) -> tuple:
    return np.shape(_raw(x))


@register
class MatMul(Op):
    """Z = X Y (numpy.matmul).   dC/dX = dC/dZ Y^T,   dC/dY = X^T dC/dZ.

    1-D operands are promoted as NumPy does (a vector on the left is a row, on the right a column)
    and the promotion is undone on the gradient. Batch dimensions broadcast; the engine sums the
    gradient back over them.
    """

    def batch(cls, x, y, *, batched, batched_settings):
        # 1-D examples become matrices (a row on the left, a column on the right), every batched
        # operand gets the batch in front of the examples' broadcast dimensions, and the promoted
        # axes are removed from the result.
        bx, by = batched
        nx, ny = batching.example_ndim(x, bx), batching.example_ndim(y, by)
        if nx == 1:
            x = expand_dims(x, -2)
        if ny == 1:
            y = expand_dims(y, -1)
        ndim = max(nx, ny, 2)
        out = batching.call_op(cls, [batching.align(x, bx, ndim), batching.align(y, by, ndim)], {})
        shape = np.shape(out)
        if nx == 1 and ny == 1:
            return reshape(out, shape[:-2])
        if nx == 1:
            return reshape(out, shape[:-2] + shape[-1:])
        if ny == 1:
            return reshape(out, shape[:-1])
        return out

    def forward(x, y):
        return linalg_kernels.matmul(x, y)

    def vjp(grad_out, out, x, y, *, needs):
        # Methods shared by ndarrays and Tensors (.swapaxes, .reshape): NumPy's own in the first-order
        # pass, recorded ops when a higher derivative is wanted.
        if x.ndim >= 2 and y.ndim >= 2:
            grad_x = grad_out @ y.swapaxes(-1, -2) if needs[0] else None
            grad_y = x.swapaxes(-1, -2) @ grad_out if needs[1] else None
            return grad_x, grad_y
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        grad2 = grad_out
        if x.ndim == 1:
            grad2 = expand_dims(grad2, -1 if y.ndim == 1 else -2)
        if y.ndim == 1:
            grad2 = expand_dims(grad2, -1)
        grad_x = grad_y = None
        if needs[0]:
            grad_x = grad2 @ y2.swapaxes(-1, -2)
            if x.ndim == 1:
                grad_x = grad_x.reshape(np.shape(grad_x)[:-2] + np.shape(grad_x)[-1:])
        if needs[1]:
            grad_y = x2.swapaxes(-1, -2) @ grad2
            if y.ndim == 1:
                grad_y = grad_y.reshape(np.shape(grad_y)[:-1])
        return grad_x, grad_y

    def jvp(x_dot, y_dot, out, x, y, *, needs):
        out_dot = matmul(x_dot, y) if needs[0] else None
        if needs[1]:
            out_dot = matmul(x, y_dot) if out_dot is None else out_dot + matmul(x, y_dot)
        return out_dot

    def flops(out, x, y):
        # 2 m n k: one multiply and one add per term of every inner product.
        inner_length = np.shape(x)[-1]
        return 2 * int(np.size(out)) * int(inner_length)


@register
class Einsum(Op):
    """out = einsum(inputs -> output, *operands), with explicit subscripts (letters only, no ellipsis).

    A primitive because it is multilinear with a rule that is again an einsum: the VJP for operand k
    contracts the output's cotangent with the other operands onto operand k's subscripts, e.g. for
    "ij,jk->ik" it is "ik,jk->ij" (dC/dX = dC/dZ Y^T). Two cases need more than a swap of subscripts
    (as in JAX's ``_einsum_transpose_rule`` and autograd's ``grad_einsum``):

    - a letter repeated within operand k ("ii->i", a diagonal): the repetition is renamed to fresh
      letters joined by identity matrices ("ik" of eye(n)), so the cotangent lands on the diagonal;
    - a letter of operand k found nowhere else ("ij->i", a sum): the cotangent does not depend on it
      and is broadcast along it.

    Forward mode is linear in each operand: out_dot = sum_k einsum(..., x_k_dot, ...).
    """

    def forward(*operands, inputs, output, optimize):
        return np.einsum(",".join(inputs) + "->" + output, *operands, optimize=optimize)

    def vjp(grad_out, out, *operands, inputs, output, optimize, needs):
        return tuple(_einsum_cotangent(k, grad_out, operands, inputs, output, optimize) if need else None
                     for k, need in enumerate(needs))

    def jvp(*dots_out_operands, inputs, output, optimize, needs):
        count = len(inputs)
        dots, operands = dots_out_operands[:count], dots_out_operands[count + 1:]
        out_dot = None
        for k in range(count):
            if needs[k]:
                term = _einsum(inputs, output, *operands[:k], dots[k], *operands[k + 1:], optimize=optimize)
                out_dot = term if out_dot is None else out_dot + term
        return out_dot

    def flops(out, *operands, inputs, output, optimize):
        # Without reordering: (operands - 1) multiplications and one addition per term of the full sum.
        sizes = {}
        for subscripts, operand in zip(inputs, operands):
            sizes.update(zip(subscripts, np.shape(operand)))
        return len(operands) * math.prod(sizes.values())


_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _rule_optimize(optimize):
    # A contraction path belongs to the forward's operands; the rules' einsums find their own.
    return optimize if isinstance(optimize, (bool, str)) else "greedy"


def _einsum(inputs, output, *operands, optimize=False):
    return Einsum.apply(*operands, inputs=tuple(inputs), output=output, optimize=optimize)


def _einsum_cotangent(k, grad_out, operands, inputs, output, optimize):
    """The VJP of einsum with respect to operand k (see Einsum)."""
    target = inputs[k]
    shape = np.shape(_raw(operands[k]))
    used = set("".join(inputs)) | set(output)
    fresh = (letter for letter in _LETTERS if letter not in used)
    dtype = _raw(grad_out).dtype
    renamed, delta_inputs, deltas = [], [], []
    for letter, n in zip(target, shape):
        if letter in renamed:
            new = next(fresh, None)
            if new is None:
                raise ValueError(f"einsum: the derivative of {','.join(inputs)}->{output} needs more than 52 letters")
            delta_inputs.append(letter + new)
            deltas.append(np.eye(n, dtype=dtype))
            letter = new
        renamed.append(letter)
    others = [j for j in range(len(inputs)) if j != k]
    available = set(output).union(*(inputs[j] for j in others), *delta_inputs)
    kept = "".join(letter for letter in renamed if letter in available)
    grad = _einsum([output, *(inputs[j] for j in others), *delta_inputs], kept,
                   grad_out, *(operands[j] for j in others), *deltas, optimize=_rule_optimize(optimize))
    if len(kept) == len(renamed):
        return grad
    # Letters only operand k has were summed: the cotangent is the same all along them.
    sizes = dict(zip(kept, np.shape(_raw(grad))))
    grad = reshape(grad, tuple(sizes.get(letter, 1) for letter in renamed))
    return broadcast_to(grad, tuple(sizes.get(letter, n) for letter, n in zip(renamed, shape)))


def _sublist_subscripts(sublist) -> str:
    """numpy.einsum's interleaved form: integers 0-51 name the letters A-Z, a-z, Ellipsis is "..."."""
    letters = []
    for item in sublist:
        if item is Ellipsis:
            letters.append("...")
            continue
        label = operator.index(item)
        if not 0 <= label < len(_LETTERS):
            raise ValueError(f"subscript is not within the valid range [0, 52), got {label}")
        letters.append(_LETTERS[label])
    return "".join(letters)


def _split_operands(operands):
    """(subscripts string, operands) from either of numpy.einsum's calling forms."""
    if not operands:
        raise ValueError("einsum: no subscripts given")
    if isinstance(operands[0], str):
        return operands[0], list(operands[1:])
    arrays = list(operands[0::2])
    sublists = list(operands[1::2])
    subscripts = ",".join(_sublist_subscripts(s) for s in sublists)
    if len(arrays) > len(sublists):
        subscripts += "->" + _sublist_subscripts(arrays.pop())
    return subscripts, arrays


def _parse_subscripts(subscripts: str, shapes: list, optimize) -> tuple[list, str]:
    """Explicit, ellipsis-free (inputs, output) for numpy.einsum's subscripts and the operands' shapes.

    An ellipsis becomes letters unused elsewhere, right-aligned as broadcasting aligns dimensions; an
    implicit output is the ellipsis followed by the letters used once, in alphabetical (ASCII) order.
    """
    subscripts = subscripts.replace(" ", "")
    explicit = "->" in subscripts
    if subscripts.count("->") > 1 or subscripts.replace("->", "").count("-") or subscripts.replace("->", "").count(">"):
        if subscripts.count("->") > 1:
            raise ValueError("einstein sum subscripts string includes output subscript more than once ('->')")
        raise ValueError("einstein sum subscript string does not contain proper '->' output specified")
    left, _, right = subscripts.partition("->")
    inputs = left.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: the subscripts name {len(inputs)} operands, but {len(shapes)} were given")
    for part in [*inputs, right]:
        for char in part.replace("...", ""):
            if char == ".":
                raise ValueError("einstein sum subscripts string contains a '.' that is not part of an ellipsis ('...')")
            if char not in _LETTERS:
                raise ValueError(f"invalid subscript {char!r} in einstein sum subscripts string, subscripts must be letters")
    used = set(left.replace("...", "").replace(",", "")) | set(right.replace("...", ""))
    ellipsis_letters = "".join(letter for letter in _LETTERS if letter not in used)
    widths = []
    for k, (part, shape) in enumerate(zip(inputs, shapes)):
        letters = part.replace("...", "")
        if part.count("...") > 1:
            raise ValueError(f"einstein sum subscripts string contains more than one ellipsis in operand {k}")
        width = len(shape) - len(letters) if "..." in part else 0
        if width < 0 or ("..." not in part and len(letters) != len(shape)):
            if len(letters) > len(shape):
                raise ValueError(f"einstein sum subscripts string contains too many subscripts for operand {k}")
            raise ValueError("operand has more dimensions than subscripts given in einstein sum, but no '...' "
                             "ellipsis provided to broadcast the extra dimensions.")
        widths.append(width)
    broadcast_width = max(widths, default=0)
    if broadcast_width > len(ellipsis_letters):
        raise ValueError("einsum: too many dimensions under the ellipsis for the 52 letters")
    ellipsis_letters = ellipsis_letters[:broadcast_width]
    inputs = [part.replace("...", ellipsis_letters[broadcast_width - width:]) for part, width in zip(inputs, widths)]
    if not explicit:
        counts = "".join(inputs)
        once = sorted(letter for letter in set(counts) if counts.count(letter) == 1 and letter not in ellipsis_letters)
        return inputs, ellipsis_letters + "".join(once)
    if "..." not in right and broadcast_width and optimize is False:
        raise ValueError("output has more dimensions than subscripts given in einstein sum, but no '...' ellipsis "
                         "provided to broadcast the extra dimensions.")
    output = right.replace("...", ellipsis_letters)
    for letter in output:
        if output.count(letter) > 1:
            raise ValueError(f"einstein sum subscripts string includes output subscript {letter!r} multiple times")
        if letter not in "".join(inputs):
            raise ValueError(f"einstein sum subscripts string included output subscript {letter!r} which never "
                             "appeared in an input")
    return inputs, output


@_numpy_without_tensors(np.einsum)
def einsum(*operands, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    """Einstein summation, as numpy.einsum: any subscripts NumPy accepts (implicit or explicit output,
    ellipsis broadcasting, repeated letters for diagonals, the interleaved operand-sublist form).

    ``optimize`` (False, True, "greedy", "optimal" or a path from numpy.einsum_path) chooses the
    contraction order, as in NumPy; the derivative rules are einsums themselves (see Einsum). ``dtype``
    converts the operands first (where ``casting`` allows); ``order`` only concerns memory layout.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor, grad
        >>> a = Tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> np.einsum("ii", a), np.einsum("ij,j->i", a, np.array([1.0, -1.0]))
        (Tensor(5.), Tensor([-1., -1.]))
        >>> grad(lambda m: np.einsum("ij,ij", m, m))(np.array([[1.0, 2.0]]))
        array([[2., 4.]])
    """
    _refuse_out("einsum", out)
    subscripts, arrays = _split_operands(operands)
    arrays = [_operand(a) for a in arrays]
    if dtype is not None:
        dtype = np.dtype(dtype)
        for a in arrays:
            if not np.can_cast(_raw(a).dtype, dtype, casting):
                raise TypeError(f"einsum: cannot cast an operand of dtype {_raw(a).dtype} to {dtype} "
                                f"according to the rule {casting!r}")
        arrays = [a if _raw(a).dtype == dtype else astype(a, dtype) for a in arrays]
    inputs, output = _parse_subscripts(subscripts, [_shape(a) for a in arrays], optimize)
    return _einsum(inputs, output, *arrays, optimize=optimize)


def matmul(x1, x2, /):
    """Matrix product with NumPy's rules: 1-D operands are promoted (and the promotion removed from the
    result), the batch axes of stacked operands broadcast. As numpy.matmul.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.matmul(Tensor(np.ones((2, 1, 3, 4))), np.ones((5, 4, 2))).shape
        (2, 5, 3, 2)
    """
    for k, x in enumerate((x1, x2)):
        if np.ndim(_raw(x)) == 0:
            raise ValueError(f"matmul: Input operand {k} does not have enough dimensions (has 0, gufunc core with "
                             "signature (n?,k),(k,m?)->(n?,m?) requires 1)")
    return MatMul.apply(_operand(x1), _operand(x2))


@_numpy_without_tensors(np.dot)
def dot(a, b, out=None):
    """numpy.dot for every rank: a scalar multiplies; otherwise the sum over a's last axis and b's
    second-to-last (its only one, if 1-D), of shape a.shape[:-1] + b.shape[:-2] + b.shape[-1:].

    Operands of at most two dimensions are a matrix product (matmul); of more, a tensordot.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.dot(Tensor(np.ones((2, 3, 4))), np.ones((5, 4, 6))).shape
        (2, 3, 5, 6)
    """
    _refuse_out("dot", out)
    a, b = _operand(a), _operand(b)
    nda, ndb = len(_shape(a)), len(_shape(b))
    if nda == 0 or ndb == 0:
        return multiply(a, b)
    if nda <= 2 and ndb <= 2 or ndb == 1:
        _check_aligned(_shape(a), _shape(b), nda - 1, max(ndb - 2, 0))
        return matmul(a, b)
    _check_aligned(_shape(a), _shape(b), nda - 1, ndb - 2)
    return tensordot(a, b, axes=([nda - 1], [ndb - 2]))


def _check_aligned(shape_a, shape_b, axis_a, axis_b):
    if shape_a[axis_a] != shape_b[axis_b]:
        raise ValueError(f"shapes {shape_a} and {shape_b} not aligned: {shape_a[axis_a]} (dim {axis_a}) != "
                         f"{shape_b[axis_b]} (dim {axis_b})")


@_numpy_without_tensors(np.vdot)
def vdot(a, b, /):
    """The dot product of the flattened a and b, conjugating a if complex: sum(conj(a) * b), as numpy.vdot.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.vdot(Tensor([1j, 2.0]), np.array([1j, 1.0]))
        Tensor(3.+0.j)
    """
    a, b = ravel(_operand(a)), ravel(_operand(b))
    if _shape(a) != _shape(b):
        raise ValueError("vectors have different lengths")
    return matmul(conj(a), b)


@_numpy_without_tensors(np.inner)
def inner(a, b, /):
    """The sum over the last axes of a and b, of shape a.shape[:-1] + b.shape[:-1]; a scalar multiplies.
    As numpy.inner (for matrices, A B^T).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.inner(Tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        Tensor([[1., 2., 3.],
                [3., 4., 7.]])
    """
    a, b = _operand(a), _operand(b)
    nda, ndb = len(_shape(a)), len(_shape(b))
    if nda == 0 or ndb == 0:
        return multiply(a, b)
    _check_aligned(_shape(a), _shape(b), nda - 1, ndb - 1)
    return tensordot(a, b, axes=([-1], [-1]))


@_numpy_without_tensors(np.outer)
def outer(a, b, out=None):
    """The outer product of the flattened a and b: out[i, j] = a[i] b[j], as numpy.outer.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.outer(Tensor([1.0, 2.0]), np.array([[1.0, 10.0]]))
        Tensor([[ 1., 10.],
                [ 2., 20.]])
    """
    _refuse_out("outer", out)
    return multiply(reshape(_operand(a), (-1, 1)), reshape(_operand(b), (1, -1)))


def _tensordot_axes(axes) -> tuple[list, list]:
    try:
        iter(axes)
    except TypeError:
        count = operator.index(axes)
        return list(range(-count, 0)), list(range(0, count))
    axes_a, axes_b = axes
    axes_a = list(axes_a) if np.ndim(axes_a) else [axes_a]
    axes_b = list(axes_b) if np.ndim(axes_b) else [axes_b]
    return axes_a, axes_b


@_numpy_without_tensors(np.tensordot)
def tensordot(a, b, axes=2):
    """The sum of a * b over the axes pairs given (an int N: a's last N with b's first N), as numpy.tensordot.

    Computed as NumPy does: both operands are transposed and reshaped to matrices and multiplied.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.tensordot(Tensor(np.ones((3, 4, 5))), np.ones((4, 3, 2)), axes=([1, 0], [0, 1])).shape
        (5, 2)
    """
    a, b = _operand(a), _operand(b)
    axes_a, axes_b = _tensordot_axes(axes)
    shape_a, shape_b = _shape(a), _shape(b)
    if len(axes_a) != len(axes_b) or any(shape_a[i] != shape_b[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError("shape-mismatch for sum")
    axes_a = [i + len(shape_a) if i < 0 else i for i in axes_a]
    axes_b = [j + len(shape_b) if j < 0 else j for j in axes_b]
    free_a = [i for i in range(len(shape_a)) if i not in axes_a]
    free_b = [j for j in range(len(shape_b)) if j not in axes_b]
    summed = math.prod(shape_a[i] for i in axes_a)
    matrix_a = reshape(transpose(a, free_a + axes_a), (math.prod(shape_a[i] for i in free_a), summed))
    matrix_b = reshape(transpose(b, axes_b + free_b), (summed, math.prod(shape_b[j] for j in free_b)))
    return reshape(matmul(matrix_a, matrix_b), tuple(shape_a[i] for i in free_a) + tuple(shape_b[j] for j in free_b))


@_numpy_without_tensors(np.kron)
def kron(a, b):
    """The Kronecker product: blocks a[i, j, ...] * b, of shape a.shape * b.shape (the shorter shape
    padded with leading ones), as numpy.kron.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.kron(Tensor([1.0, 10.0]), np.array([1.0, 2.0]))
        Tensor([ 1.,  2., 10., 20.])
    """
    b = _operand(b)
    a = _operand(a)
    ndb = len(_shape(b))
    # As NumPy: a gets at least b's number of dimensions; a scalar b multiplies.
    if len(_shape(a)) < ndb:
        a = reshape(a, (1,) * (ndb - len(_shape(a))) + _shape(a))
    if ndb == 0 or len(_shape(a)) == 0:
        return multiply(a, b)
    ndim = len(_shape(a))
    shape_a = _shape(a)
    shape_b = (1,) * (ndim - ndb) + _shape(b)
    # a's axes interleaved with length-1 ones, b's on the other positions: the product tiles b.
    product = multiply(reshape(a, tuple(n for length in shape_a for n in (length, 1))),
                       reshape(b, tuple(n for length in shape_b for n in (1, length))))
    return reshape(product, tuple(m * n for m, n in zip(shape_a, shape_b)))


@_numpy_without_tensors(np.cross)
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors along axisa of a and axisb of b (the result's along axisc; axis sets
    all three), broadcast over the other axes, as numpy.cross. 2-vectors are accepted with NumPy's
    DeprecationWarning (their third component is zero; two 2-vectors give the z component alone).

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.cross(Tensor([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        Tensor([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _operand(a), _operand(b)
    if len(_shape(a)) < 1 or len(_shape(b)) < 1:
        raise ValueError("At least one array has zero dimension")
    axisa = normalize_axis_index(axisa, len(_shape(a)), "axisa")
    axisb = normalize_axis_index(axisb, len(_shape(b)), "axisb")
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    length_a, length_b = _shape(a)[-1], _shape(b)[-1]
    if length_a not in (2, 3) or length_b not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    if length_a == 2 or length_b == 2:
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of 3-dimensional vectors "
                      "instead. (deprecated in NumPy 2.0)", DeprecationWarning, stacklevel=3)
    dtype = np.promote_types(_raw(a).dtype, _raw(b).dtype)
    a = a if _raw(a).dtype == dtype else astype(a, dtype)
    b = b if _raw(b).dtype == dtype else astype(b, dtype)
    a0, a1 = getitem(a, (Ellipsis, 0)), getitem(a, (Ellipsis, 1))
    b0, b1 = getitem(b, (Ellipsis, 0)), getitem(b, (Ellipsis, 1))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if length_a == 2 and length_b == 2:
        return z
    if length_a == 3 and length_b == 3:
        a2, b2 = getitem(a, (Ellipsis, 2)), getitem(b, (Ellipsis, 2))
        x = subtract(multiply(a1, b2), multiply(a2, b1))
        y = subtract(multiply(a2, b0), multiply(a0, b2))
    elif length_a == 2:
        b2 = getitem(b, (Ellipsis, 2))
        x, y = multiply(a1, b2), -multiply(a0, b2)
    else:
        a2 = getitem(a, (Ellipsis, 2))
        x, y = -multiply(a2, b1), multiply(a2, b0)
    x, y, z = broadcast_arrays(x, y, z)
    result = stack([x, y, z], axis=-1)
    axisc = normalize_axis_index(axisc, len(_shape(result)), "axisc")
    return moveaxis(result, -1, axisc)


def _core_axis_to_end(x, axis: int):
    return moveaxis(x, normalize_axis_index(axis, len(_shape(x))), -1)


def vecdot(x1, x2, /, *, axis=-1):
    """The dot product of vectors along axis, conjugating x1: sum(conj(x1) * x2, axis), broadcast over the
    other axes, as numpy.vecdot.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.vecdot(Tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0]))
        Tensor([3., 7.])
    """
    x1 = _core_axis_to_end(_operand(x1), axis)
    x2 = _core_axis_to_end(_operand(x2), axis)
    if _shape(x1)[-1] != _shape(x2)[-1]:
        raise ValueError(f"vecdot: Input operand 1 has a mismatch in its core dimension 0, with gufunc signature "
                         f"(n),(n)->() (size {_shape(x2)[-1]} is different from {_shape(x1)[-1]})")
    return getitem(matmul(expand_dims(conj(x1), -2), expand_dims(x2, -1)), (Ellipsis, 0, 0))


def matvec(x1, x2, /):
    """Matrix-vector products over stacks: out[..., i] = sum_j x1[..., i, j] x2[..., j], as numpy.matvec.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.matvec(Tensor([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0]))
        Tensor([-1., -1.])
    """
    x1, x2 = _operand(x1), _operand(x2)
    if len(_shape(x1)) < 2 or len(_shape(x2)) < 1:
        raise ValueError("matvec: the first operand needs at least 2 dimensions and the second at least 1")
    return getitem(matmul(x1, expand_dims(x2, -1)), (Ellipsis, 0))


def vecmat(x1, x2, /):
    """Vector-matrix products over stacks, conjugating the vector: out[..., j] = sum_i conj(x1[..., i])
    x2[..., i, j], as numpy.vecmat.

    Example:
        >>> import nablanet.numpy as np
        >>> from nablanet import Tensor
        >>> np.vecmat(Tensor([1.0, -1.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
        Tensor([-2., -2.])
    """
    x1, x2 = _operand(x1), _operand(x2)
    if len(_shape(x1)) < 1 or len(_shape(x2)) < 2:
        raise ValueError("vecmat: the first operand needs at least 1 dimension and the second at least 2")
    return getitem(matmul(expand_dims(conj(x1), -2), x2), (Ellipsis, 0, slice(None)))

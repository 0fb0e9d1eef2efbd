"""nablanet.jit's programs: retracing on a new signature, the error on data-dependent control flow,
the printed program in the notes' notation, count_ops and to_dot on a program, folding and freeing,
a loss fused with its VJP."""

import numpy
import pytest

import nablanet
from nablanet import numpy as nnp
from nablanet.autodiff.jit import TracingError


def f(x):
    """The notes' f(x) = sqrt(x^2 + exp(x^2)), with a = x^2 computed once."""
    a = x ** 2
    return nnp.sqrt(a + nnp.exp(a))


def f_prime_closed_form(x):
    a = x ** 2
    return x * (1 + numpy.exp(a)) / numpy.sqrt(a + numpy.exp(a))


def test_compiled_derivative_equals_the_closed_form_and_retraces_on_a_new_shape_or_dtype():
    df = nablanet.jit(nablanet.elementwise_grad(f))
    for x in (numpy.array([0.5, -1.0]), numpy.array([2.0, 0.1]), numpy.array([0.3, 0.7, 1.1]),
              numpy.array([0.3, 0.7, 1.1], dtype=numpy.float32), numpy.array([1.5, -0.2])):
        numpy.testing.assert_allclose(df(x), f_prime_closed_form(x), rtol=1e-6 if x.dtype == numpy.float32 else 1e-12)
    # (2,) float64 once, (3,) float64 once, (3,) float32 once: three traces for five calls.
    assert df.traces == 3


def test_a_python_branch_on_a_traced_value_names_the_line():
    def step(x):
        if nnp.sum(x) > 0:
            return x * 2.0
        return x

    line = step.__code__.co_firstlineno + 1
    with pytest.raises(TracingError, match=rf"bool\(\).*test_program\.py:{line} \(if nnp\.sum\(x\) > 0:\)"):
        nablanet.jit(step)(numpy.ones(3))
    with pytest.raises(TracingError, match=r"float\(\).*test_program\.py:\d+ \(nablanet\.jit\(lambda x: float\(x\.sum\(\)\)\)"):
        nablanet.jit(lambda x: float(x.sum()))(numpy.ones(3))
    with pytest.raises(TracingError, match=r"\.item\(\)"):
        nablanet.jit(lambda x: nablanet.Tensor(x).sum().item())(numpy.ones(3))


def test_the_program_prints_in_the_notes_notation():
    program = nablanet.make_program(f, numpy.array([0.5, 1.0]))
    assert str(program) == "\n".join([
        "{ lambda x:f64[2] .",
        "  t1:f64[2] = square x",
        "  a1:f64[2] = exp t1",
        "  t2:f64[2] = add t1 a1",
        "  t3:f64[2] = sqrt t2",
        "  in (t3) }",
    ])


def _training_step(model, optimizer):
    """A user's training step with softmax cross-entropy: (X, y) -> the batch's cost."""
    from nablanet.nn import functional as F

    def step(X, y):
        model.zero_grad()
        cost = F.cross_entropy(model(X), y)
        cost.backward()
        return optimizer.step() or cost

    return step


def test_a_training_step_prints_with_z_and_a_and_the_parameters_as_inputs():
    import nablanet.nn as nn
    from nablanet import optim

    model = nn.Sequential(nn.Dense(4, 3, activation="relu", rng=0), nn.Dense(3, 2, rng=1))
    step = _training_step(model, optim.Adam(model.parameters(), lr=1e-2))
    text = str(nablanet.make_program(step, numpy.ones((5, 4), numpy.float32), numpy.array([0, 1, 0, 1, 1])))
    assert text.splitlines()[0] == "{ lambda x:f32[5,4] y:i64[5] ; W1:f32[4,3] b1:f32[3] W2:f32[3,2] b2:f32[2] ."
    assert "  z1:f32[5,3] = dense x W1 b1 activation='relu' alpha=0.0" in text
    assert "  _ = _step_with_grads Adam" in text and text.endswith("in (t1) }")
    # The loss and its VJP (seeded with 1) are one call, which computes the softmax once.
    assert "  t1:f32[] t2:f32[5,2] = softmax_cross_entropy+vjp z2 targets=y" in text
    assert "softmax_cross_entropy_vjp" not in text


@pytest.mark.parametrize("labels", [[0, 2, 1, 2, 0, 1], [0, -100, 1, 2, -100, 1]])
def test_a_loss_fused_with_its_vjp_gives_eager_values_bit_for_bit(labels):
    """The fused call of softmax cross-entropy and its VJP (with ignored labels: the two rules one after
    the other) gives the losses, gradients and updated weights of eager steps exactly."""
    import nablanet.nn as nn
    from nablanet import optim

    eager_model, model = nn.Dense(4, 3, rng=0), nn.Dense(4, 3, rng=0)
    eager = _training_step(eager_model, optim.Adam(eager_model.parameters(), lr=1e-1))
    compiled = _training_step(model, optim.Adam(model.parameters(), lr=1e-1))
    compiled = nablanet.jit(compiled)
    rng = numpy.random.default_rng(3)
    for k in range(4):
        # Logits far apart late on: the gradient's subnormal entries are flushed in both.
        X = (rng.standard_normal((6, 4)) * (1 + 30 * k)).astype(numpy.float32)
        y = numpy.array(labels if k % 2 else sorted(labels, reverse=True))
        assert float(compiled(X, y)) == float(eager(X, y))
        numpy.testing.assert_array_equal(model.W.data, eager_model.W.data)
        numpy.testing.assert_array_equal(model.b.data, eager_model.b.data)
    assert compiled.traces == 1


def test_count_ops_and_to_dot_accept_a_program():
    x = numpy.array([0.5, 1.0, 2.0])
    program = nablanet.make_program(nablanet.elementwise_grad(f), x)
    counts = nablanet.count_ops(program)
    # The forward pass keeps what the reverse pass reads: x^2, exp, add, sqrt, one op per element.
    assert counts.forward == {"power": 3, "exp": 3, "add": 3, "sqrt": 3}
    assert counts.reverse_total > 0 and sum(counts.reverse_calls.values()) == len(program.equations) - 4
    dot = nablanet.to_dot(program)
    assert dot.startswith("digraph {") and dot.count("shape=box") == len(program.equations)
    assert 'label="x\\nf64[3]"' in dot and "in0 -> e0;" in dot


def test_constants_are_folded_dead_equations_dropped_and_values_freed():
    program = nablanet.make_program(nablanet.grad(lambda x: nnp.sum(nnp.tanh(x) ** 2)), numpy.array([0.5, -1.0]))
    # The reverse pass's seed, ones of the output's shape, depends on shapes alone: computed once.
    assert program.folded >= 1 and "ones_like" not in str(program)
    # One equation per primitive's VJP, the notes' backward pass.
    assert [e.name for e in program.equations if e.phase == "reverse"] == ["sum_vjp", "power_vjp", "tanh_vjp"]
    unused = nablanet.make_program(lambda x: (nnp.exp(x), x * 2.0)[1], numpy.ones(3))
    assert [e.name for e in unused.equations] == ["multiply"] and unused.traced_equations == 2
    freed = [index for frees in program._frees for index in frees]
    assert len(freed) == len(set(freed)) and program.inputs[0].index in freed


@pytest.mark.parametrize("reduce", ["mean", "var", "std"])
def test_a_full_reduction_divided_in_place_replays(reduce):
    """ndarray.mean (var, std) divides its 0-d sum with out=: replayed, that sum is still an array."""
    compiled = nablanet.jit(lambda x: getattr(x * x, reduce)())
    for x in numpy.random.default_rng(2).standard_normal((3, 4, 2)):
        numpy.testing.assert_allclose(compiled(x), getattr(x * x, reduce)(), rtol=1e-14)
    assert compiled.traces == 1

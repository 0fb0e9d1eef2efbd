"""The activation registry: every registered activation has a case (values against a reference, a
float64 gradient check to second order, PyTorch where it has the activation), and every field of its
record is checked against what the function, the fused kernel, the layers and Dense do."""

import math

import numpy
import pytest
import torch
from scipy import special

import nablanet.nn as nn
from nablanet import Tensor, elementwise_grad, grad
from nablanet.autodiff.ops.nn import DENSE_ACTIVATIONS, HeavisideDerivativeError
from nablanet.nn import functional as F
from nablanet.nn.init import get_initializer, make_rng
from nablanet.testing import check_grads

TF = torch.nn.functional

# name -> (sigma(z) written in NumPy/SciPy, torch's sigma or None).
# Adding an activation: its function and register_activation call in nn/functional.py + one line here.
CASES = {
    "identity": (lambda z: z, lambda z: z),
    "sigmoid": (special.expit, torch.sigmoid),
    "tanh": (numpy.tanh, torch.tanh),
    "relu": (lambda z: numpy.maximum(z, 0.0), torch.relu),
    "leaky_relu": (lambda z: numpy.where(z > 0, z, 0.01 * z), TF.leaky_relu),
    "elu": (lambda z: numpy.where(z > 0, z, numpy.expm1(z)), TF.elu),
    "softplus": (lambda z: numpy.log1p(numpy.exp(z)), TF.softplus),
    "gelu": (lambda z: z * special.ndtr(z), TF.gelu),
    "softmax": (lambda z: special.softmax(z, axis=-1), lambda z: torch.softmax(z, dim=-1)),
    "heaviside": (lambda z: numpy.heaviside(z, 1.0), lambda z: torch.heaviside(z, torch.tensor(1.0, dtype=z.dtype))),
}

# Away from every kink (all of them are at 0).
Z = numpy.array([[-2.3, -0.7, -0.05, 0.4, 1.9], [3.1, -1.2, 0.8, -4.0, 0.15]])
SHIPPED = [name for name, record in nn.ACTIVATIONS.records.items() if record.function.__module__.startswith("nablanet.")]


def test_every_registered_activation_has_a_case():
    assert set(SHIPPED) == set(CASES), "a registered activation without a line in CASES (or the reverse)"


@pytest.mark.parametrize("name", SHIPPED)
def test_value_equals_the_reference(name):
    reference, _ = CASES[name]
    numpy.testing.assert_allclose(nn.activation_record(name).apply(Z), reference(Z), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", SHIPPED)
def test_gradients_match_finite_differences_to_second_order(name):
    record = nn.activation_record(name)
    if name == "heaviside":
        with pytest.raises(HeavisideDerivativeError):
            grad(lambda z: record.apply(z).sum())(Z)
        return
    check_grads(record.apply, [Z], order=2, rtol=1e-6)


@pytest.mark.parametrize("name", [name for name in SHIPPED if CASES[name][1] is not None])
def test_value_and_gradient_equal_torch(name):
    record, torch_sigma = nn.activation_record(name), CASES[name][1]
    weights = numpy.random.default_rng(3).standard_normal(Z.shape)
    theirs = torch.tensor(Z, requires_grad=name != "heaviside")
    out = torch_sigma(theirs)
    numpy.testing.assert_allclose(record.apply(Z), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    if name == "heaviside":
        return
    (out * torch.tensor(weights)).sum().backward()
    ours = Tensor(Z, requires_grad=True)
    (record.apply(ours) * weights).sum().backward()
    numpy.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", [name for name in SHIPPED if nn.activation_record(name).derivative is not None])
def test_registered_derivative_equals_autodiff(name):
    record = nn.activation_record(name)
    for alpha in ([None, 0.3] if record.alpha is not None else [None]):
        by_autodiff = elementwise_grad(lambda z: record.apply(z, alpha))(Z)
        numpy.testing.assert_allclose(record.slope(Z, alpha), by_autodiff, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", SHIPPED)
def test_output_range_holds_and_is_tight(name):
    record = nn.activation_record(name)
    for alpha in ([None, 0.5, 1.0, 2.0] if record.alpha is not None else [None]):
        low, high = record.range_at(alpha)
        z = numpy.linspace(-40.0, 40.0, 80001)
        # softmax acts on rows: pairs (z, -z) reach towards both of its bounds.
        a = numpy.asarray(record.apply(numpy.stack([z, -z], axis=-1) if name == "softmax" else z, alpha))
        assert low <= a.min() and a.max() <= high, (name, alpha)
        for bound, extreme, z_far in ((low, a.min(), -1e6), (high, a.max(), 1e6)):
            if math.isfinite(bound):
                assert abs(extreme - bound) < 1e-4, (name, alpha, bound, extreme)
            elif record.function is not F.softmax:
                far = float(numpy.asarray(record.apply(numpy.array([z_far]), alpha))[0])
                assert abs(far) > 1e3 and numpy.sign(far) == numpy.sign(bound), (name, alpha, bound, far)


@pytest.mark.parametrize("name", [name for name in SHIPPED if name not in ("heaviside", "softmax")])
def test_kinks_are_where_the_slope_jumps(name):
    record = nn.activation_record(name)
    for alpha in ([None, 0.5, 1.0] if record.alpha is not None else [None]):
        slope = elementwise_grad(lambda z: record.apply(z, alpha))
        kinks = record.kinks_at(alpha)
        for point in (0.0, -1.0, 1.5):
            left, right = slope(numpy.array([point - 1e-7, point + 1e-7]))
            jumps = abs(left - right) > 1e-3
            assert jumps == (point in kinks), (name, alpha, point, left, right)


def test_heaviside_is_discontinuous_at_its_kink():
    assert nn.activation_record("heaviside").kinks == (0.0,)
    assert F.heaviside(numpy.array([-1e-12, 0.0])).tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name", [name for name in SHIPPED if nn.activation_record(name).fused is not None])
def test_fused_kernel_equals_the_function_in_dense_and_conv(name):
    record = nn.activation_record(name)
    assert record.kernel is DENSE_ACTIVATIONS[record.fused]
    rng = numpy.random.default_rng(4)
    dense = nn.Dense(3, 4, activation=name, rng=0, dtype=numpy.float64)
    x = rng.standard_normal((5, 3))
    assert dense._after is None
    numpy.testing.assert_allclose(dense(x).data, record.apply(x @ dense.W.data + dense.b.data), rtol=1e-13, atol=1e-15)
    conv = nn.Conv2d(2, 3, 2, activation=name, rng=0, dtype=numpy.float64)
    images = rng.standard_normal((2, 2, 4, 4))
    plain = nn.Conv2d(2, 3, 2, rng=0, dtype=numpy.float64)
    numpy.testing.assert_allclose(conv(images).data, record.apply(plain(images).data), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_layer_of_each_record_applies_it_with_its_defaults(name):
    record = nn.activation_record(name)
    layer = record.layer()
    assert nn.LAYERS.of_class(record.layer) is not None
    numpy.testing.assert_allclose(numpy.asarray(layer(Z)), numpy.asarray(record.apply(Z)), rtol=0, atol=0)
    if record.alpha is not None:
        assert layer.alpha == record.alpha


@pytest.mark.parametrize("name", SHIPPED)
def test_dense_draws_its_weights_from_the_records_initializer_family(name):
    record = nn.activation_record(name)
    expected = get_initializer(record.initializer)((6, 5), make_rng(7), numpy.float32)
    numpy.testing.assert_array_equal(nn.Dense(6, 5, activation=name, rng=7).W.data, expected)


def test_the_relu_family_gets_he_initialization_gelu_included():
    # The notes' textbook (Geron, table 11-1) and Keras: He for ReLU and its variants (leaky ReLU,
    # ELU, GELU, ...), Glorot for none, tanh, logistic and softmax. Dense once chose He for gelu while
    # a config with batchnorm = true chose Glorot; both now read this field.
    families = {name: nn.activation_record(name).init for name in SHIPPED}
    assert {name for name, family in families.items() if family == "he"} == {"relu", "leaky_relu", "elu", "softplus",
                                                                               "gelu"}
    assert nn.activation_record("gelu").initializer == "he_uniform"
    assert nn.activation_record("logistic").initializer == "glorot_uniform"


def test_functional_and_layer_alpha_defaults_agree():
    x = numpy.array([[-1.0, 0.5]])
    W = numpy.eye(2)
    # elu's alpha is 1.0 everywhere it is a default: the function, the layers, dense and conv.
    assert F.elu.__defaults__ == (1.0,) and nn.ELU().alpha == 1.0 and nn.Dense(2, 2, activation="elu").alpha == 1.0
    assert nn.Conv1d(1, 1, 1, activation="elu").alpha == 1.0 and nn.LeakyReLU().alpha == 0.01
    numpy.testing.assert_allclose(F.dense(x, W, activation="elu"), F.elu(x), rtol=1e-15)
    numpy.testing.assert_allclose(F.dense(x, W, activation="leaky_relu"), F.leaky_relu(x), rtol=1e-15)
    kernel = numpy.ones((1, 1, 1))
    numpy.testing.assert_allclose(F.conv(x[:, None, :], kernel, activation="elu")[:, 0], F.elu(x), rtol=1e-15)
    # An unfused activation through F.dense is applied after the product, with its options' defaults.
    numpy.testing.assert_allclose(F.dense(x, W, activation="gelu"), F.gelu(x), rtol=1e-15)


def test_the_primitives_default_alpha_is_the_activations_own():
    # The fused primitives (nablanet.numpy.dense, the convolution) once defaulted elu's scale to 0.01, a
    # factor 100 below the layers': both now read DEFAULT_ALPHAS, as the functions and the registry do.
    import nablanet.numpy as nnp
    from nablanet.autodiff.ops.conv import convolution
    from nablanet.autodiff.ops.nn import DEFAULT_ALPHAS

    assert DEFAULT_ALPHAS == {"leaky_relu": 0.01, "elu": 1.0}
    x = numpy.linspace(-3.0, 2.0, 6).reshape(2, 3)
    for name, reference in (("elu", torch.nn.functional.elu), ("leaky_relu", torch.nn.functional.leaky_relu)):
        assert nn.activation_record(name).alpha == DEFAULT_ALPHAS[name]
        expected = reference(torch.tensor(x)).numpy()
        numpy.testing.assert_allclose(nnp.dense(x, numpy.eye(3), activation=name), expected, rtol=1e-15)
        signal = x[:, None, :]
        numpy.testing.assert_allclose(convolution(signal, numpy.ones((1, 1, 1)), activation=name)[:, 0], expected,
                                      rtol=1e-15)
        numpy.testing.assert_allclose(nnp.dense(x, numpy.eye(3), activation=name, alpha=0.5),
                                      reference(torch.tensor(x), 0.5).numpy(), rtol=1e-15)


def test_aliases_and_functions_find_their_record_and_its_kernel():
    assert nn.activation_record("logistic") is nn.activation_record(F.sigmoid) is nn.ACTIVATIONS.records["sigmoid"]
    # Given by alias or as the function itself, Dense fuses and initializes as by the name.
    for spec in ("logistic", F.sigmoid):
        layer = nn.Dense(3, 2, activation=spec, rng=0)
        assert layer._fused == "sigmoid" and layer._after is None
    assert nn.Dense(3, 2, activation=F.relu, rng=0).W.data.tolist() == nn.Dense(3, 2, activation="relu", rng=0).W.data.tolist()


def test_functional_activations_mapping_and_lookup_keep_their_old_behaviour():
    assert list(F.ACTIVATIONS) == ["identity", "linear", "sigmoid", "logistic", "tanh", "relu", "leaky_relu", "elu",
                                   "softplus", "gelu", "softmax", "heaviside", "step"]
    assert F.ACTIVATIONS is nn.ACTIVATIONS and F.ACTIVATIONS["step"] is F.heaviside and F.get_activation(None) is F.identity
    custom = numpy.cos
    assert F.get_activation(custom) is custom and F.get_activation("linear") is F.identity
    with pytest.raises(ValueError, match=r"unknown activation 'swishy'; choose one of \['elu', 'gelu'"):
        F.get_activation("swishy")
    with pytest.raises(ValueError, match="unknown activation 'swishy'; known: identity, sigmoid"):
        nn.Dense(2, 2, activation="swishy")
    record = nn.activation_record("gelu")
    assert record.options == {"approximate": "none"} and nn.activation_record("softmax").options == {"axis": -1}


def _square(z):
    return z * z


def test_register_activation_refuses_what_it_cannot_honour():
    with pytest.raises(ValueError, match="init must be one of he, glorot, lecun, got 'kaiming'"):
        nn.register_activation("square", _square, init="kaiming")
    with pytest.raises(ValueError, match="fused must be a kernel of .*DENSE_ACTIVATIONS"):
        nn.register_activation("square", _square, fused="square")
    with pytest.raises(ValueError, match="alpha=0.5 given, but _square takes no alpha"):
        nn.register_activation("square", _square, alpha=0.5)
    with pytest.raises(ValueError, match="alpha=0.5 disagrees with the function's default alpha=0.01"):
        nn.register_activation("leaky", F.leaky_relu, alpha=0.5)
    with pytest.raises(ValueError, match="output_range must be \\(low, high\\)"):
        nn.register_activation("square", _square, output_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="the activation name 'relu' is taken by nablanet.nn.functional.relu"):
        nn.register_activation("relu", _square)
    with pytest.raises(TypeError, match="layer must be a subclass of nablanet.nn.Module"):
        nn.register_activation("square", _square, layer=dict)
    assert "square" not in nn.ACTIVATIONS

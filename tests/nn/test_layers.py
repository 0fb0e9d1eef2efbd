"""Layers: output shapes, whole-layer gradient checks in float64, and equality with PyTorch's modules."""

import numpy
import pytest
import torch

import nablanet.nn as nn
import nablanet.numpy as np
from nablanet import Tensor
from nablanet.nn import functional as F
from nablanet.testing import check_grads


def layer_as_function(layer, x):
    """f(x, *params) = layer(x) with the given parameter values, for check_grads."""
    names = [name for name, _ in layer.named_parameters()]

    def f(x_value, *values):
        return nn.functional_call(layer, dict(zip(names, values)), x_value)

    return f, [x] + [p.data for p in layer.parameters()]


# Each entry: a float64 layer and an input; the whole layer (input and every parameter) is checked.
LAYERS = {
    "dense-relu": (lambda: nn.Dense(3, 4, activation="relu", rng=0, dtype=numpy.float64), (5, 3)),
    "dense-tanh-nobias": (lambda: nn.Dense(3, 4, activation="tanh", bias=False, rng=0, dtype=numpy.float64), (5, 3)),
    "dense-softplus": (lambda: nn.Dense(3, 2, activation="softplus", rng=0, dtype=numpy.float64), (4, 3)),
    "dense-gelu": (lambda: nn.Dense(3, 2, activation="gelu", rng=0, dtype=numpy.float64), (4, 3)),
    "rbf": (lambda: nn.RBF(2, 3, rng=0, dtype=numpy.float64), (6, 2)),
    "batchnorm-2d": (lambda: nn.BatchNorm(3, dtype=numpy.float64), (8, 3)),
    "batchnorm-4d": (lambda: nn.BatchNorm(2, dtype=numpy.float64), (4, 2, 3, 3)),
    "sequential": (lambda: nn.Sequential(nn.Dense(2, 3, activation="elu", rng=1, dtype=numpy.float64),
                                         nn.Dense(3, 1, activation="sigmoid", rng=2, dtype=numpy.float64)), (4, 2)),
}

ACTIVATION_LAYERS = {
    "Sigmoid": nn.Sigmoid(), "Tanh": nn.Tanh(), "ReLU": nn.ReLU(), "LeakyReLU": nn.LeakyReLU(0.1), "ELU": nn.ELU(0.7),
    "Softplus": nn.Softplus(), "GELU": nn.GELU(), "GELU-tanh": nn.GELU("tanh"), "Softmax": nn.Softmax(),
    "Identity": nn.Identity(), "Activation": nn.Activation("leaky_relu", alpha=0.2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_match_finite_differences(name):
    make, shape = LAYERS[name]
    layer = make()
    x = numpy.random.default_rng(5).standard_normal(shape)
    f, args = layer_as_function(layer, x)
    check_grads(f, args, order=1, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTIVATION_LAYERS))
def test_activation_layers_gradients_to_second_order(name):
    # Away from the kink at 0, where ReLU-family derivatives are undefined.
    x = numpy.array([[-1.3, -0.4, 0.3, 2.1], [0.7, -2.2, 1.1, -0.05]])
    check_grads(ACTIVATION_LAYERS[name], [x], order=2, rtol=1e-6)


TORCH_ACTIVATIONS = {
    "Sigmoid": torch.nn.Sigmoid(), "Tanh": torch.nn.Tanh(), "ReLU": torch.nn.ReLU(), "LeakyReLU": torch.nn.LeakyReLU(0.1),
    "ELU": torch.nn.ELU(0.7), "Softplus": torch.nn.Softplus(), "GELU": torch.nn.GELU(),
    "GELU-tanh": torch.nn.GELU(approximate="tanh"), "Softmax": torch.nn.Softmax(dim=-1), "Identity": torch.nn.Identity(),
    "Activation": torch.nn.LeakyReLU(0.2),
}


@pytest.mark.parametrize("name", sorted(ACTIVATION_LAYERS))
def test_activations_equal_torch_values_and_gradients(name):
    x = numpy.random.default_rng(6).standard_normal((4, 5)) * 3
    weights = numpy.random.default_rng(7).standard_normal((4, 5))
    ours = Tensor(x, requires_grad=True)
    (ACTIVATION_LAYERS[name](ours) * weights).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    out = TORCH_ACTIVATIONS[name](theirs)
    (out * torch.tensor(weights)).sum().backward()
    numpy.testing.assert_allclose(ACTIVATION_LAYERS[name](x), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_relu_gradient_at_zero_is_zero_like_torch():
    ours = Tensor(numpy.zeros(3), requires_grad=True)
    F.relu(ours).sum().backward()
    assert ours.grad.tolist() == [0.0, 0.0, 0.0]


def test_dense_equals_torch_linear():
    rng = numpy.random.default_rng(8)
    layer = nn.Dense(4, 3, activation="tanh", rng=0, dtype=numpy.float64)
    linear = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(layer.W.data.T))  # torch stores (out, in)
        linear.bias.copy_(torch.tensor(layer.b.data))
    x = rng.standard_normal((6, 4))
    out = layer(x)
    (out ** 2).sum().backward()
    reference = torch.tanh(linear(torch.tensor(x)))
    (reference ** 2).sum().backward()
    numpy.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(layer.W.grad, linear.weight.grad.numpy().T, rtol=1e-12)
    numpy.testing.assert_allclose(layer.b.grad, linear.bias.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(16, 3), (8, 3, 5), (4, 3, 5, 6)])
def test_batchnorm_equals_torch_in_training_and_evaluation(shape):
    rng = numpy.random.default_rng(9)
    ours = nn.BatchNorm(3, momentum=0.1, eps=1e-5, dtype=numpy.float64)
    theirs = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}[len(shape)](3).double()
    ours.gamma.data[:] = rng.standard_normal(3)
    ours.beta.data[:] = rng.standard_normal(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.gamma.data))
        theirs.bias.copy_(torch.tensor(ours.beta.data))
    for step in range(3):
        x = rng.normal(2.0, 3.0, shape)
        weights = rng.standard_normal(shape)
        x_ours = Tensor(x, requires_grad=True)
        (ours(x_ours) * weights).sum().backward()
        x_theirs = torch.tensor(x, requires_grad=True)
        (theirs(x_theirs) * torch.tensor(weights)).sum().backward()
        numpy.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    numpy.testing.assert_allclose(ours.gamma.grad, theirs.weight.grad.numpy(), rtol=1e-9)
    numpy.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    numpy.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    numpy.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14)



def _composite_batchnorm(x, gamma, beta, eps):
    """Training-mode batch normalization written with elementary ops (the layer before it was one primitive)."""
    axes = (0,) + tuple(range(2, len(x.shape)))
    broadcast = (1, -1) + (1,) * (len(x.shape) - 2)
    centred = x - np.mean(x, axis=axes, keepdims=True)
    x_hat = centred / np.sqrt(np.mean(centred * centred, axis=axes, keepdims=True) + eps)
    return x_hat * np.reshape(gamma, broadcast) + np.reshape(beta, broadcast)


@pytest.mark.parametrize("layout", ["2d", "3d", "3d-channels-last", "4d", "4d-channels-last"])
def test_batchnorm_primitive_equals_composite_formula(layout):
    from nablanet import grad

    rng = numpy.random.default_rng(11)
    shape = {"2d": (16, 3), "3d": (8, 3, 5), "3d-channels-last": (8, 5, 3), "4d": (4, 3, 5, 6),
             "4d-channels-last": (4, 5, 6, 3)}[layout]
    x = rng.normal(-4.0, 3.0, shape)
    if layout.endswith("channels-last"):
        x = numpy.moveaxis(x, -1, 1)
    layer = nn.BatchNorm(3, eps=1e-3, dtype=numpy.float64)
    layer.gamma.data[:] = rng.standard_normal(3)
    layer.beta.data[:] = rng.standard_normal(3)
    gamma, beta = layer.gamma.data.copy(), layer.beta.data.copy()
    weights = rng.standard_normal(x.shape)
    fused = numpy.asarray(layer(x).data)
    numpy.testing.assert_allclose(fused, _composite_batchnorm(x, gamma, beta, 1e-3), rtol=1e-10, atol=1e-12)
    # The output keeps x's memory layout (a convolution's channels-last output stays channels-last).
    assert numpy.argsort(fused.strides).tolist() == numpy.argsort(x.strides).tolist()

    def loss(fn):
        return lambda x, gamma, beta: np.sum(fn(x, gamma, beta) * weights)

    def primitive(x, gamma, beta):
        return np.batch_norm(x, gamma, beta, eps=1e-3)

    ours = grad(loss(primitive), argnums=(0, 1, 2))(x, gamma, beta)
    composite = grad(loss(lambda x, g, b: _composite_batchnorm(x, g, b, 1e-3)), argnums=(0, 1, 2))(x, gamma, beta)
    for name, a, b in zip(["x", "gamma", "beta"], ours, composite):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"gradient with respect to {name}")
    # The layer's own gradients (Tensor.backward through the module) are the primitive's.
    x_tensor = Tensor(x, requires_grad=True)
    layer.gamma.grad = layer.beta.grad = None
    (layer(x_tensor) * weights).sum().backward()
    numpy.testing.assert_allclose(x_tensor.grad, ours[0], rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(layer.gamma.grad, ours[1], rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(layer.beta.grad, ours[2], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype, rtol", [(numpy.float64, 1e-12), (numpy.float32, 1e-5)])
def test_batchnorm_running_statistics_match_torch_after_several_steps(dtype, rtol):
    # Channels-last batches (as after a convolution) of changing mean and spread, momentum 0.3: after
    # six steps the running estimates (unbiased variance) and the evaluation-mode output equal torch's.
    rng = numpy.random.default_rng(12)
    ours = nn.BatchNorm(4, momentum=0.3, eps=1e-4, dtype=dtype)
    theirs = torch.nn.BatchNorm1d(4, momentum=0.3, eps=1e-4).to(torch.float64 if dtype == numpy.float64 else torch.float32)
    for step in range(6):
        x = numpy.moveaxis(rng.normal(step - 2.0, 1.0 + step, (10, 7, 4)), -1, 1).astype(dtype)
        ours(x)
        theirs(torch.tensor(x))
        numpy.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=rtol, err_msg=f"step {step}")
        numpy.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=rtol, err_msg=f"step {step}")
    assert ours.running_mean.dtype == ours.running_var.dtype == dtype
    ours.eval()
    theirs.eval()
    x = rng.normal(0.5, 2.0, (3, 4, 7)).astype(dtype)
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    numpy.testing.assert_allclose(numpy.asarray(ours(x).data), expected, rtol=rtol, atol=rtol)

def test_dropout_is_inverted_and_off_in_evaluation():
    layer = nn.Dropout(0.25, rng=0)
    out = layer(numpy.ones((200, 100)))
    kept = numpy.asarray(out) != 0
    assert abs(kept.mean() - 0.75) < 0.01
    numpy.testing.assert_allclose(numpy.asarray(out)[kept], 1 / 0.75)
    assert abs(numpy.asarray(out).mean() - 1.0) < 0.02
    layer.eval()
    numpy.testing.assert_array_equal(layer(numpy.ones(5)), numpy.ones(5))
    with pytest.raises(ValueError, match=r"Dropout: p must be a number in \[0, 1\], got 1.01"):
        nn.Dropout(1.01)


def test_dropout_gradient_uses_the_same_mask():
    layer = nn.Dropout(0.5, rng=3)
    x = Tensor(numpy.ones((4, 6)), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    numpy.testing.assert_array_equal(x.grad, out.data)


def test_same_seed_same_network():
    first = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=42), nn.Dropout(0.2, rng=42))
    second = nn.Sequential(nn.Dense(4, 8, activation="relu", rng=42), nn.Dropout(0.2, rng=42))
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        numpy.testing.assert_array_equal(a, b, err_msg=name)


def test_train_eval_switch_reaches_nested_layers():
    model = nn.Sequential(nn.Dense(2, 2, rng=0), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm(2)))
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_custom_module_finds_parameters_in_attributes_lists_and_dicts():
    class Custom(nn.Module):
        def __init__(self):
            self.blocks = [nn.Dense(2, 2, rng=0), nn.Dense(2, 2, rng=1)]
            self.heads = {"mean": nn.Dense(2, 1, rng=2)}
            self.scale = nn.Parameter(numpy.ones(1))
            self.shared = self.blocks[0]

        def forward(self, x):
            return self.heads["mean"](self.blocks[1](self.blocks[0](x))) * self.scale

    model = Custom()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["blocks.0.W", "blocks.0.b", "blocks.1.W", "blocks.1.b", "heads.mean.W", "heads.mean.b", "scale"]
    model(numpy.ones((3, 2), dtype=numpy.float32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_state_dict_round_trip_and_clear_errors():
    model = nn.Sequential(nn.Dense(3, 2, rng=0), nn.BatchNorm(2))
    other = nn.Sequential(nn.Dense(3, 2, rng=1), nn.BatchNorm(2))
    other.load_state_dict(model.state_dict())
    for (name, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        numpy.testing.assert_array_equal(a, b, err_msg=name)
    assert "layers.1.running_var" in model.state_dict()
    with pytest.raises(ValueError, match=r"layers.0.W has shape \(2, 2\) in the state but \(3, 2\) in the model"):
        other.load_state_dict({**model.state_dict(), "layers.0.W": numpy.zeros((2, 2))})
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({})


def test_dense_rejects_inputs_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"inputs of shape \(5, 4\) do not fit weights of shape \(3, 2\)"):
        nn.Dense(3, 2, rng=0)(numpy.ones((5, 4), dtype=numpy.float32))


def test_heaviside_layer_refuses_gradients():
    from nablanet.autodiff.ops.nn import HeavisideDerivativeError

    x = Tensor(numpy.array([-1.0, 1.0]), requires_grad=True)
    with pytest.raises(HeavisideDerivativeError):
        nn.Heaviside()(x).sum().backward()


ARCHITECTURES = {
    "mlp": lambda: nn.Sequential(nn.Dense(4, 8, activation="relu", rng=0), nn.BatchNorm(8), nn.Dropout(0.1, rng=1),
                                 nn.Dense(8, 3, activation="gelu", rng=2), nn.Activation("leaky_relu", alpha=0.2)),
    "cnn": lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding="same", rng=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Dense(2 * 2 * 2, 3, rng=1)),
    "rnn": lambda: nn.GRU(4, 3, num_layers=2, bidirectional=True, return_sequences=False, rng=0),
    "rbf": lambda: nn.Sequential(nn.RBF(4, 5, width=0.5, rng=0), nn.Dense(5, 1, bias=False, rng=1, dtype=numpy.float64)),
}
ARCHITECTURE_INPUTS = {"mlp": (6, 4), "cnn": (2, 1, 4, 4), "rnn": (2, 5, 4), "rbf": (6, 4)}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_config_round_trips_through_json(name):
    import json

    model = ARCHITECTURES[name]()
    rebuilt = nn.module_from_config(json.loads(json.dumps(model.config())))
    rebuilt.load_state_dict(model.state_dict())
    x = numpy.random.default_rng(0).standard_normal(ARCHITECTURE_INPUTS[name]).astype(numpy.float32)
    model.eval()
    rebuilt.eval()
    numpy.testing.assert_array_equal(numpy.asarray(model(x).data), numpy.asarray(rebuilt(x).data))
    assert repr(rebuilt) == repr(model)


def test_config_refuses_what_it_cannot_record_or_rebuild():
    with pytest.raises(TypeError, match="give activations, losses and initializers by name"):
        nn.Dense(2, 2, activation=lambda z: z, rng=0).config()
    with pytest.raises(ValueError, match="unknown module class 'Evil'"):
        nn.module_from_config({"class": "Evil", "arguments": {}})


def test_layers_added_later_are_part_of_the_config():
    model = nn.Sequential(nn.Dense(2, 3, rng=0))
    model.add(nn.ReLU()).add(nn.Dense(3, 1, rng=1))
    rebuilt = nn.module_from_config(model.config())
    assert repr(rebuilt) == repr(model)


@pytest.mark.parametrize("alpha", [1.0, 0.7])
def test_elu_derivative_at_zero_is_alpha_like_torch(alpha):
    from nablanet import grad

    assert grad(lambda z: F.elu(z, alpha))(0.0) == pytest.approx(alpha)
    reference = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.elu(reference, alpha).backward()
    assert reference.grad.item() == pytest.approx(alpha)


def test_models_deep_copy_and_pickle_with_their_weights():
    import copy
    import pickle

    model = nn.Sequential(nn.Dense(3, 4, activation="relu", rng=0), nn.BatchNorm(4), nn.Dense(4, 2, rng=1))
    x = numpy.random.default_rng(0).standard_normal((5, 3)).astype(numpy.float32)
    model.eval()
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        numpy.testing.assert_array_equal(numpy.asarray(clone(x).data), numpy.asarray(model(x).data))
        assert clone[0].W is not model[0].W and clone[0].b.regularize is False
        assert [p.requires_grad for p in clone.parameters()] == [True] * 6

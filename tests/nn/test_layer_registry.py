"""The layer registry: every registered layer built from its record with its input size read from the
input's shape, gradient-checked as a whole (input and parameters) and rebuilt from its config; lookups
and errors; a layer registered from outside the library, built by name and rebuilt from a config."""

import json
from typing import NamedTuple

import numpy
import pytest

import nablanet.nn as nn
from nablanet.io.architecture import architecture_spec
from nablanet.testing import check_grads


class Case(NamedTuple):
    """A batch shape (N, ...), the arguments other than the inferred size (float64 and a seed are added
    where the layer takes them), positional arguments, whether gradients exist (Heaviside: none), and for a
    layer of integer inputs (Embedding) how many values they take (its gradients are its parameters')."""

    shape: tuple
    arguments: dict = {}
    args: tuple = ()
    gradients: bool = True
    integers: int = 0
    pair: bool = False  # the layer returns (output, more): MultiheadAttention's (output, weights)


def _first(case, output):
    return output[0] if case.pair else output


def _input(case, seed):
    rng = numpy.random.default_rng(seed)
    return rng.integers(0, case.integers, case.shape) if case.integers else rng.standard_normal(case.shape)


def _sequential_layers():
    return (nn.Dense(3, 2, activation="tanh", rng=0, dtype=numpy.float64), nn.Dense(2, 1, rng=1, dtype=numpy.float64))


# Adding a layer: its class with @register_layer in its family's file + one line here.
CASES = {
    "activation": Case((3, 4), dict(activation="leaky_relu", alpha=0.2)),
    "identity": Case((3, 4)),
    "sigmoid": Case((3, 4)),
    "tanh": Case((3, 4)),
    "relu": Case((3, 4)),
    "leakyrelu": Case((3, 4), dict(alpha=0.1)),
    "elu": Case((3, 4), dict(alpha=0.7)),
    "softplus": Case((3, 4)),
    "gelu": Case((3, 4), dict(approximate="tanh")),
    "softmax": Case((3, 4)),
    "heaviside": Case((3, 4), gradients=False),
    "sequential": Case((4, 3), args=_sequential_layers()),
    "graph": Case((4, 3), args=(["x"], {"h": (nn.Dense(3, 3, activation="tanh", rng=2, dtype=numpy.float64), "x"),
                                        "g": (nn.Dense(3, 2, rng=3, dtype=numpy.float64), "h"),
                                        "y": (nn.Concatenate(), ["x", "h", "g"])}, "y")),
    "add": Case((3, 4)),
    "concatenate": Case((3, 4), dict(axis=0)),
    "residual": Case((4, 3), args=(nn.Dense(3, 3, activation="tanh", rng=0, dtype=numpy.float64),),
                     arguments=dict(shortcut=nn.Dense(3, 3, bias=False, rng=1, dtype=numpy.float64))),
    "conv1d": Case((2, 3, 7), dict(out_channels=6, kernel_size=3, padding=1, groups=3)),
    "conv2d": Case((2, 2, 5, 5), dict(out_channels=3, kernel_size=2, stride=2)),
    "convtranspose1d": Case((2, 2, 4), dict(out_channels=4, kernel_size=3, stride=2, groups=2)),
    "convtranspose2d": Case((2, 3, 3, 2), dict(out_channels=2, kernel_size=2, stride=2, output_padding=1)),
    "dense": Case((2, 4, 3), dict(out_features=2, activation="elu")),  # in_features = 3, the last axis
    "rbf": Case((5, 2), dict(units=3)),
    "dropout": Case((4, 3), dict(p=0.3)),
    "dropout1d": Case((2, 3, 4), dict(p=0.3)),
    "dropout2d": Case((2, 3, 2, 2), dict(p=0.3)),
    "multiheadattention": Case((2, 3, 4), dict(num_heads=2, batch_first=True), pair=True),  # embed_dim = 4
    "transformerencoderlayer": Case((3, 2, 4), dict(nhead=2, dim_feedforward=5, activation="gelu")),
    "embedding": Case((2, 5), dict(num_embeddings=7, embedding_dim=3), integers=7),  # checked in evaluation mode, where it is the identity
    "batchnorm": Case((6, 3, 2)),  # num_features = 3 channels, axis 1
    "layernorm": Case((2, 3, 4)),  # normalized_shape = 4, the last axis
    "groupnorm": Case((2, 4, 3), dict(num_groups=2)),  # num_channels = 4, axis 1
    "instancenorm1d": Case((2, 3, 5), dict(affine=True, track_running_stats=True)),
    "instancenorm2d": Case((2, 2, 3, 3), dict(affine=True)),
    "maxpool1d": Case((2, 3, 6), dict(kernel_size=2)),
    "maxpool2d": Case((2, 2, 4, 4), dict(kernel_size=2)),
    "avgpool1d": Case((2, 3, 6), dict(kernel_size=3)),
    "avgpool2d": Case((2, 2, 4, 4), dict(kernel_size=2, stride=1)),
    "globalavgpool": Case((2, 3, 4, 4)),
    "adaptiveavgpool1d": Case((2, 3, 7), dict(output_size=3)),
    "adaptiveavgpool2d": Case((2, 2, 5, 4), dict(output_size=3)),
    "adaptivemaxpool1d": Case((2, 3, 6), dict(output_size=4)),
    "adaptivemaxpool2d": Case((2, 2, 5, 5), dict(output_size=2)),
    "upsample": Case((2, 2, 3, 3), dict(scale_factor=1.5, mode="bilinear")),
    "flatten": Case((2, 3, 4)),
    "rnn": Case((2, 4, 3), dict(hidden_size=2)),  # input_size = 3 features, the last axis
    "gru": Case((2, 4, 3), dict(hidden_size=2, bidirectional=True)),
    "lstm": Case((2, 4, 3), dict(hidden_size=2, return_sequences=False)),
}


def _build(name):
    case = CASES[name]
    record = nn.layer_record(name)
    arguments = dict(case.arguments)
    if "rng" in record.arguments:
        arguments["rng"] = 0
    if "dtype" in record.arguments:
        arguments["dtype"] = numpy.float64
    return record, record.build(case.shape, *case.args, **arguments)


def test_every_registered_layer_has_a_case():
    shipped = {name for name, record in nn.LAYERS.items() if record.cls.__module__.startswith("nablanet.")}
    assert shipped == set(CASES), "a registered layer without a line in CASES (or the reverse)"


@pytest.mark.parametrize("name", CASES)
def test_layer_built_from_its_record_reads_its_size_and_passes_a_gradient_check(name):
    record, layer = _build(name)
    case = CASES[name]
    assert type(layer) is record.cls
    if record.size_argument is not None:
        assert layer.config()["arguments"][record.size_argument] == case.shape[record.size_axis]
    layer.eval()
    x = _input(case, 3)
    if not case.gradients:
        assert numpy.asarray(layer(x).data).shape == case.shape
        return
    names = [parameter_name for parameter_name, _ in layer.named_parameters()]
    if case.integers:
        check_grads(lambda *values: _first(case, nn.functional_call(layer, dict(zip(names, values)), x)),
                    [p.data for p in layer.parameters()], order=1, rtol=1e-6)
        return

    def f(x_value, *values):
        return _first(case, nn.functional_call(layer, dict(zip(names, values)), x_value))

    check_grads(f, [x] + [p.data for p in layer.parameters()], order=1, rtol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_layer_round_trips_through_its_config(name):
    _, layer = _build(name)
    rebuilt = nn.module_from_config(json.loads(json.dumps(layer.config())))
    rebuilt.load_state_dict(layer.state_dict())
    layer.eval()
    rebuilt.eval()
    x = _input(CASES[name], 4)
    case = CASES[name]
    numpy.testing.assert_array_equal(_first(case, rebuilt(x)).data, _first(case, layer(x)).data)
    assert repr(rebuilt) == repr(layer)


@pytest.mark.parametrize("name", CASES)
def test_repr_is_a_constructor_call_that_eval_turns_into_the_same_layer(name):
    # As PyTorch prints modules; eval with nablanet.nn's names gives the same architecture (fresh weights).
    _, layer = _build(name)
    text = repr(layer)
    assert text.startswith(f"{type(layer).__name__}(") and "_Weights" not in text and "rng" not in text
    rebuilt = eval(text, vars(nn))
    assert type(rebuilt) is type(layer)
    assert repr(rebuilt) == text
    rebuilt.load_state_dict(layer.state_dict())  # the same arrays under the same names, shapes and dtypes
    assert {k: v.dtype for k, v in rebuilt.state_dict().items()} == {k: v.dtype for k, v in layer.state_dict().items()}
    layer.eval()
    rebuilt.eval()
    x = _input(CASES[name], 4)
    case = CASES[name]
    numpy.testing.assert_array_equal(_first(case, rebuilt(x)).data, _first(case, layer(x)).data)


@pytest.mark.parametrize("name", CASES)
def test_a_layer_that_holds_arrays_declares_them_exactly_in_its_state_spec(name):
    # Model files are sized from state_spec before anything is allocated (nablanet.io.architecture); a layer
    # without one is built to find out, which is cheap only for a layer without arrays of its own.
    _, layer = _build(name)
    arrays = {key: (value.shape, value.dtype) for key, value in layer.state_dict().items()}
    declares = type(layer).state_spec.__func__ is not nn.Module.state_spec.__func__
    assert declares or not arrays, f"{type(layer).__name__} holds arrays but declares no state_spec"
    spec = architecture_spec(json.loads(json.dumps(layer.config())), None, max_arrays=len(arrays), max_bytes=0)
    assert {key: (value.shape, value.dtype) for key, value in spec.items()} == arrays


def test_lookups_in_any_case_and_clear_errors():
    assert nn.LAYERS["Conv2d"] is nn.LAYERS["conv2d"] is nn.LAYERS["CONV2D"] is nn.layer_record(nn.Conv2d)
    assert (nn.LAYERS["batchnorm"].size_argument, nn.LAYERS["batchnorm"].size_axis) == ("num_features", 1)
    assert nn.LAYERS["maxpool2d"].size_argument is None and "Module" not in nn.LAYERS
    assert nn.build_layer("Dense", (8, 5), 2, rng=0).W.shape == (5, 2)  # Dense(5, 2): positional after the size
    with pytest.raises(ValueError, match="unknown layer 'ResidualBlock'; known: activation, identity"):
        nn.build_layer("ResidualBlock", (2, 3))
    with pytest.raises(ValueError, match=r"layer 'dense' \(Dense\) needs out_features"):
        nn.build_layer("dense", (2, 3))
    with pytest.raises(ValueError, match=r"layer 'dropout' \(Dropout\) takes no argument 'rate'; it takes p, rng"):
        nn.build_layer("dropout", (2, 3), rate=0.5)
    with pytest.raises(ValueError, match="Dense: in_features is read from the input shape; do not give it too"):
        nn.build_layer("dense", (2, 3), in_features=3, out_features=1)
    with pytest.raises(ValueError, match=r"Conv2d reads in_channels from axis 1 of a batch of inputs \(N, ...\), "
                                         r"but got the shape \(4,\)"):
        nn.build_layer("conv2d", (4,), out_channels=1, kernel_size=1)


class Scale(nn.Module):
    """a = s * x with one learnable scale per feature: a layer defined outside nablanet."""

    def __init__(self, num_features, *, init=1.0, dtype=numpy.float32):
        self.s = nn.Parameter(numpy.full(num_features, init, dtype=dtype))

    def forward(self, x):
        return x * self.s


@pytest.fixture
def scale_registered():
    nn.register_layer("scale", aliases=("feature_scale",), size_argument="num_features", size_axis=-1)(Scale)
    yield
    nn.LAYERS.remove("scale")


def test_a_registered_layer_is_built_by_name_and_rebuilt_from_its_config(scale_registered):
    layer = nn.build_layer("feature_scale", (5, 3), init=2.0, dtype=numpy.float64)
    assert type(layer) is Scale and layer.s.data.tolist() == [2.0, 2.0, 2.0]
    model = nn.Sequential(nn.Dense(2, 3, rng=0, dtype=numpy.float64), layer)
    rebuilt = nn.module_from_config(json.loads(json.dumps(model.config())))  # no custom_objects needed
    rebuilt.load_state_dict(model.state_dict())
    x = numpy.random.default_rng(5).standard_normal((4, 2))
    numpy.testing.assert_array_equal(numpy.asarray(rebuilt(x).data), numpy.asarray(model(x).data))
    assert list(nn.LAYERS)[-1] == "scale"
    with pytest.raises(ValueError, match="the layer name 'dense' is taken by nablanet.nn.layers.dense.Dense"):
        nn.register_layer("dense")(Scale)
    with pytest.raises(ValueError, match="give size_argument and size_axis together"):
        nn.register_layer("scale2", size_argument="num_features")(Scale)
    with pytest.raises(ValueError, match="Scale has no constructor argument 'in_features'"):
        nn.register_layer("scale2", size_argument="in_features", size_axis=-1)(Scale)
    with pytest.raises(TypeError, match="expected a subclass of nablanet.nn.Module"):
        nn.register_layer("not_a_layer")(dict)


def test_register_layer_bare_decorator_names_the_layer_by_its_class():
    @nn.register_layer
    class Doubling(nn.Module):
        def forward(self, x):
            return x * 2.0

    try:
        assert nn.layer_record("doubling").cls is Doubling and nn.build_layer("Doubling")(numpy.ones(2)).tolist() == [2, 2]
    finally:
        nn.LAYERS.remove("doubling")
    with pytest.raises(ValueError, match="unknown layer 'doubling'"):
        nn.layer_record("doubling")

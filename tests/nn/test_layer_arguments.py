"""Layer constructors check their arguments: a wrong type is a TypeError, a wrong value a ValueError, each
in one sentence naming the layer, the argument, the value and what is allowed (nablanet.checks); good
arguments at the edges of what is allowed still build a layer. The functions the layers call refuse the
same arguments in the same words."""

import inspect
import math
import typing

import numpy
import pytest

import nablanet.nn as nn
from nablanet.nn import functional as F

NAN, INF = math.nan, math.inf

# (constructor call, exception type, fragment of the message)
BAD_CALLS = {
    # issue 12, defect 5, as filed
    "batchnorm-eps-negative": (lambda: nn.BatchNorm(3, eps=-1), ValueError,
                               "BatchNorm: eps must be a positive finite number, got -1"),
    "batchnorm-momentum-2": (lambda: nn.BatchNorm(3, momentum=2), ValueError,
                             "BatchNorm: momentum must be a number in [0, 1], got 2"),
    "rbf-width-nan": (lambda: nn.RBF(2, 3, width=NAN), ValueError, "RBF: width must be a positive finite number, got nan"),
    "maxpool2d-kernel-0": (lambda: nn.MaxPool2d(0), ValueError,
                           "MaxPool2d: kernel_size must be a positive integer or 2 of them, got 0"),
    "conv2d-kernel-0": (lambda: nn.Conv2d(1, 2, 0), ValueError,
                        "Conv2d: kernel_size must be a positive integer or 2 of them, got 0"),
    "dense-float-size": (lambda: nn.Dense(2.5, 3), TypeError,
                         "Dense: in_features must be a positive integer, got 2.5 (a float)"),
    "dense-bool-size": (lambda: nn.Dense(True, 3), TypeError,
                        "Dense: in_features must be a positive integer, got True (a bool)"),
    # Dense
    "dense-zero-size": (lambda: nn.Dense(2, 0), ValueError, "Dense: out_features must be a positive integer, got 0"),
    "dense-string-size": (lambda: nn.Dense("2", 3), TypeError, "in_features must be a positive integer, got '2' (a str)"),
    "dense-integral-float": (lambda: nn.Dense(2, 3.0), TypeError, "out_features must be a positive integer, got 3.0"),
    "dense-unknown-activation": (lambda: nn.Dense(2, 3, activation="relux"), ValueError,
                                 "unknown activation 'relux'; known: identity"),
    "dense-activation-number": (lambda: nn.Dense(2, 3, activation=3), TypeError,
                                "activation must be a name, a function or None, got 3"),
    "dense-alpha-string": (lambda: nn.Dense(2, 3, activation="leaky_relu", alpha="x"), TypeError,
                           "leaky_relu: alpha must be a finite number, got 'x' (a str)"),
    "dense-alpha-nan": (lambda: nn.Dense(2, 3, activation="elu", alpha=NAN), ValueError,
                        "elu: alpha must be a finite number, got nan"),
    "dense-bias-int": (lambda: nn.Dense(2, 3, bias=1), TypeError, "Dense: bias must be True or False, got 1 (an int)"),
    "dense-init-list": (lambda: nn.Dense(2, 3, init=[1]), TypeError,
                        "an initializer must be a name, a number or a function, got [1]"),
    "dense-init-nan": (lambda: nn.Dense(2, 3, init=NAN), ValueError, "a constant initializer must be a finite number"),
    "dense-unknown-init": (lambda: nn.Dense(2, 3, bias_init="glorot"), ValueError, "unknown initializer 'glorot'"),
    "dense-int-dtype": (lambda: nn.Dense(2, 3, dtype=numpy.int64), ValueError,
                        "Dense: dtype must be a floating-point dtype such as float32 or float64, got int64"),
    "dense-no-dtype": (lambda: nn.Dense(2, 3, dtype="foo"), TypeError, "Dense: dtype must be a floating-point dtype"),
    "dense-negative-seed": (lambda: nn.Dense(2, 3, rng=-1), ValueError,
                            "rng, a seed, must be a non-negative integer, got -1"),
    "dense-bool-seed": (lambda: nn.Dense(2, 3, rng=True), TypeError, "rng must be a numpy.random.Generator"),
    # RBF
    "rbf-width-inf": (lambda: nn.RBF(2, 3, width=INF), ValueError, "RBF: width must be a positive finite number, got inf"),
    "rbf-width-0": (lambda: nn.RBF(2, 3, width=0.0), ValueError, "RBF: width must be a positive finite number, got 0.0"),
    "rbf-width-string": (lambda: nn.RBF(2, 3, width="1"), TypeError, "RBF: width must be a positive finite number"),
    "rbf-units-float": (lambda: nn.RBF(2, 2.5), TypeError, "RBF: units must be a positive integer, got 2.5"),
    "rbf-in-features-0": (lambda: nn.RBF(0, 3), ValueError, "RBF: in_features must be a positive integer, got 0"),
    "rbf-centers-nan": (lambda: nn.RBF(2, 1, centers=[[NAN, 0.0]]), ValueError, "RBF: centers must be finite numbers"),
    "rbf-centers-strings": (lambda: nn.RBF(2, 1, centers=[["a", "b"]]), TypeError,
                            "RBF: centers must be an array of numbers of shape (1, 2)"),
    "rbf-centers-shape": (lambda: nn.RBF(2, 3, centers=numpy.zeros((3, 3))), ValueError,
                          "RBF: centers must have shape (3, 2), got (3, 3)"),
    # BatchNorm
    "batchnorm-eps-0": (lambda: nn.BatchNorm(3, eps=0.0), ValueError, "eps must be a positive finite number, got 0.0"),
    "batchnorm-eps-inf": (lambda: nn.BatchNorm(3, eps=INF), ValueError, "eps must be a positive finite number, got inf"),
    "batchnorm-eps-string": (lambda: nn.BatchNorm(3, eps="1e-5"), TypeError,
                             "BatchNorm: eps must be a positive finite number, got '1e-5' (a str)"),
    "batchnorm-momentum-nan": (lambda: nn.BatchNorm(3, momentum=NAN), ValueError,
                               "momentum must be a number in [0, 1], got nan"),
    "batchnorm-momentum-negative": (lambda: nn.BatchNorm(3, momentum=-0.1), ValueError,
                                    "momentum must be a number in [0, 1], got -0.1"),
    "batchnorm-momentum-bool": (lambda: nn.BatchNorm(3, momentum=True), TypeError,
                                "momentum must be a number in [0, 1], got True (a bool)"),
    "batchnorm-no-features": (lambda: nn.BatchNorm(0), ValueError, "num_features must be a positive integer, got 0"),
    "batchnorm-float-features": (lambda: nn.BatchNorm(2.5), TypeError, "num_features must be a positive integer, got 2.5"),
    "batchnorm-int-dtype": (lambda: nn.BatchNorm(3, dtype=int), ValueError, "BatchNorm: dtype must be a floating-point"),
    # Dropout
    "dropout-2": (lambda: nn.Dropout(2), ValueError, "Dropout: p must be a number in [0, 1], got 2"),
    "dropout-above-1": (lambda: nn.Dropout(1.001), ValueError, "Dropout: p must be a number in [0, 1], got 1.001"),
    "dropout-negative": (lambda: nn.Dropout(-0.1), ValueError, "Dropout: p must be a number in [0, 1], got -0.1"),
    "dropout-nan": (lambda: nn.Dropout(NAN), ValueError, "Dropout: p must be a number in [0, 1], got nan"),
    "dropout-string": (lambda: nn.Dropout("0.5"), TypeError,
                       "Dropout: p must be a number in [0, 1], got '0.5' (a str)"),
    "dropout-bool": (lambda: nn.Dropout(True), TypeError, "Dropout: p must be a number in [0, 1], got True (a bool)"),
    "dropout-seed": (lambda: nn.Dropout(0.5, rng="a"), TypeError, "rng must be a numpy.random.Generator"),
    # Conv1d, Conv2d
    "conv2d-stride-0": (lambda: nn.Conv2d(1, 2, 3, stride=0), ValueError,
                        "Conv2d: stride must be a positive integer or 2 of them, got 0"),
    "conv2d-stride-pair-0": (lambda: nn.Conv2d(1, 2, 3, stride=(1, 0)), ValueError,
                             "Conv2d: stride must be a positive integer or 2 of them, got (1, 0)"),
    "conv2d-dilation-0": (lambda: nn.Conv2d(1, 2, 3, dilation=0), ValueError,
                          "Conv2d: dilation must be a positive integer or 2 of them, got 0"),
    "conv2d-padding-negative": (lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError,
                                "Conv2d: padding must be a non-negative integer or 2 of them, got -1"),
    "conv2d-padding-name": (lambda: nn.Conv2d(1, 2, 3, padding="full"), ValueError,
                            "Conv2d: padding must be 'valid', 'same' or non-negative integers, got 'full'"),
    "conv2d-padding-float": (lambda: nn.Conv2d(1, 2, 3, padding=1.5), TypeError,
                             "Conv2d: padding must be a non-negative integer or 2 of them, got 1.5 (a float)"),
    "conv2d-same-strided": (lambda: nn.Conv2d(1, 2, 3, padding="same", stride=2), ValueError,
                            "Conv2d: padding='same' needs stride 1"),
    "conv2d-kernel-triple": (lambda: nn.Conv2d(1, 2, (3, 3, 3)), ValueError,
                             "Conv2d: kernel_size must be a positive integer or 2 of them, got (3, 3, 3)"),
    "conv2d-kernel-float": (lambda: nn.Conv2d(1, 2, 2.5), TypeError,
                            "Conv2d: kernel_size must be a positive integer or 2 of them, got 2.5 (a float)"),
    "conv2d-channels-0": (lambda: nn.Conv2d(0, 2, 3), ValueError, "Conv2d: in_channels must be a positive integer, got 0"),
    "conv2d-bias-int": (lambda: nn.Conv2d(1, 2, 3, bias=0), TypeError, "Conv2d: bias must be True or False, got 0"),
    "conv2d-unknown-activation": (lambda: nn.Conv2d(1, 2, 3, activation="relux"), ValueError,
                                  "unknown activation 'relux'"),
    "conv1d-kernel-float": (lambda: nn.Conv1d(1, 2, 2.5), TypeError,
                            "Conv1d: kernel_size must be a positive integer, got 2.5 (a float)"),
    "conv1d-channels-float": (lambda: nn.Conv1d(1.5, 2, 2), TypeError,
                              "Conv1d: in_channels must be a positive integer, got 1.5 (a float)"),
    "conv1d-stride-0": (lambda: nn.Conv1d(1, 2, 3, stride=0), ValueError,
                        "Conv1d: stride must be a positive integer, got 0"),
    "conv1d-dtype": (lambda: nn.Conv1d(1, 2, 3, dtype=numpy.complex64), ValueError,
                     "Conv1d: dtype must be a floating-point dtype such as float32 or float64, got complex64"),
    # pooling
    "maxpool2d-stride-0": (lambda: nn.MaxPool2d(2, stride=0), ValueError,
                           "MaxPool2d: stride must be a positive integer or 2 of them, got 0"),
    "maxpool2d-padding-negative": (lambda: nn.MaxPool2d(2, padding=-1), ValueError,
                                   "MaxPool2d: padding must be a non-negative integer or 2 of them, got -1"),
    "maxpool2d-padding-over-half": (lambda: nn.MaxPool2d(2, padding=2), ValueError,
                                    "MaxPool2d: padding must be at most half the kernel size"),
    "maxpool2d-bool-kernel": (lambda: nn.MaxPool2d(True), TypeError,
                              "MaxPool2d: kernel_size must be a positive integer or 2 of them, got True (a bool)"),
    "maxpool1d-float-kernel": (lambda: nn.MaxPool1d(2.5), TypeError,
                               "MaxPool1d: kernel_size must be a positive integer, got 2.5 (a float)"),
    "avgpool2d-kernel-pair-0": (lambda: nn.AvgPool2d((2, 0)), ValueError,
                                "AvgPool2d: kernel_size must be a positive integer or 2 of them, got (2, 0)"),
    "avgpool1d-kernel-0": (lambda: nn.AvgPool1d(0), ValueError, "AvgPool1d: kernel_size must be a positive integer, got 0"),
    # recurrent
    "rnn-float-size": (lambda: nn.RNN(2.5, 3), TypeError, "RNN: input_size must be a positive integer, got 2.5 (a float)"),
    "gru-bool-size": (lambda: nn.GRU(True, 3), TypeError, "GRU: input_size must be a positive integer, got True (a bool)"),
    "lstm-hidden-0": (lambda: nn.LSTM(2, 0), ValueError, "LSTM: hidden_size must be a positive integer, got 0"),
    "lstm-layers-0": (lambda: nn.LSTM(2, 3, num_layers=0), ValueError, "LSTM: num_layers must be a positive integer, got 0"),
    "lstm-layers-float": (lambda: nn.LSTM(2, 3, num_layers=1.5), TypeError, "LSTM: num_layers must be a positive integer"),
    "lstm-bidirectional-int": (lambda: nn.LSTM(2, 3, bidirectional=2), TypeError,
                               "LSTM: bidirectional must be True or False, got 2 (an int)"),
    "gru-return-sequences-string": (lambda: nn.GRU(2, 3, return_sequences="yes"), TypeError,
                                    "GRU: return_sequences must be True or False, got 'yes' (a str)"),
    "rnn-int-dtype": (lambda: nn.RNN(2, 3, dtype=numpy.int32), ValueError, "RNN: dtype must be a floating-point dtype"),
    # activation layers
    "leakyrelu-alpha-string": (lambda: nn.LeakyReLU(alpha="x"), TypeError,
                               "leaky_relu: alpha must be a finite number, got 'x' (a str)"),
    "leakyrelu-alpha-nan": (lambda: nn.LeakyReLU(alpha=NAN), ValueError, "leaky_relu: alpha must be a finite number"),
    "elu-alpha-inf": (lambda: nn.ELU(alpha=INF), ValueError, "elu: alpha must be a finite number, got inf"),
    "gelu-unknown-form": (lambda: nn.GELU("foo"), ValueError,
                          "GELU: approximate must be one of 'none', 'tanh', got 'foo'"),
    "gelu-form-number": (lambda: nn.GELU(3), TypeError, "GELU: approximate must be one of 'none', 'tanh', got 3 (an int)"),
    "softmax-float-axis": (lambda: nn.Softmax(1.5), TypeError, "Softmax: axis must be an integer, got 1.5 (a float)"),
    "activation-unknown": (lambda: nn.Activation("relux"), ValueError, "unknown activation 'relux'"),
    "activation-number": (lambda: nn.Activation(3), TypeError, "activation must be a name, a function or None, got 3"),
    "activation-unknown-option": (lambda: nn.Activation("relu", evil=1), TypeError,
                                  "Activation('relu'): got an unexpected keyword argument 'evil'"),
    "activation-alpha-string": (lambda: nn.Activation("leaky_relu", alpha="x"), TypeError,
                                "leaky_relu: alpha must be a finite number, got 'x'"),
    "activation-gelu-form": (lambda: nn.Activation("gelu", approximate="foo"), ValueError,
                             "GELU: approximate must be one of 'none', 'tanh', got 'foo'"),
    "activation-softmax-axis": (lambda: nn.Activation("softmax", axis="last"), TypeError,
                                "Softmax: axis must be an integer, got 'last'"),
    # containers
    "sequential-not-a-module": (lambda: nn.Sequential(nn.Dense(2, 3), 3), TypeError, "Sequential: layer 1 is a int"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_constructor_arguments_are_refused_in_one_sentence(name):
    make, error, fragment = BAD_CALLS[name]
    with pytest.raises(error) as caught:
        make()
    assert type(caught.value) is error  # not a subclass raised from deep inside (ZeroDivisionError is none)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


# Arguments at the edges of what is allowed, and in every form a caller may give them.
GOOD_CALLS = {
    "dense-numpy-sizes": lambda: nn.Dense(numpy.int64(2), numpy.int32(3), bias=numpy.True_, rng=numpy.int64(0)),
    "dense-float64": lambda: nn.Dense(2, 3, activation="leaky_relu", alpha=numpy.float32(0.2), dtype="float64"),
    "dense-constant-init": lambda: nn.Dense(2, 3, init=0.5, bias_init=0),
    "rbf-small-width": lambda: nn.RBF(2, 3, width=1e-30, centers=numpy.zeros((3, 2))),
    "batchnorm-edges": lambda: nn.BatchNorm(1, momentum=0, eps=1e-300),
    "batchnorm-momentum-1": lambda: nn.BatchNorm(4, momentum=1, eps=numpy.float32(1e-3)),
    "dropout-0": lambda: nn.Dropout(0),
    "dropout-almost-1": lambda: nn.Dropout(numpy.float64(0.999)),
    "conv2d-pairs": lambda: nn.Conv2d(1, 2, [3, 2], stride=(1, 2), padding=(1, 0), dilation=(2, 1), bias=False),
    "conv2d-same": lambda: nn.Conv2d(1, 2, 3, padding="same", dilation=2),
    "conv1d-valid": lambda: nn.Conv1d(2, 3, 1, padding="valid", stride=3),
    "maxpool2d-overlapping": lambda: nn.MaxPool2d((3, 2), stride=1, padding=(1, 1)),
    "avgpool1d-pair-form": lambda: nn.AvgPool1d(3, stride=(2,), padding=1),
    "lstm-stacked": lambda: nn.LSTM(1, 1, num_layers=3, bidirectional=True, return_sequences=False, return_state=True),
    "elu-negative-alpha": lambda: nn.ELU(alpha=-1),  # PyTorch allows it too
    "softmax-axis-0": lambda: nn.Softmax(0),
    "activation-options": lambda: nn.Activation("gelu", approximate="tanh"),
    "activation-function": lambda: nn.Activation(numpy.cos),
}


@pytest.mark.parametrize("name", GOOD_CALLS)
def test_good_arguments_at_the_edges_still_build_a_layer(name):
    assert isinstance(GOOD_CALLS[name](), nn.Module)


def test_checked_arguments_are_kept_as_plain_python_numbers():
    layer = nn.BatchNorm(numpy.int64(3), momentum=numpy.float32(0.5), eps=1)
    assert (type(layer.num_features), type(layer.momentum), type(layer.eps)) == (int, float, float)
    assert nn.Dense(numpy.int64(2), 3).W.shape == (2, 3)


# Arguments that every registered layer taking them must receive for the sweep below to reach the argument
# under test (the layer's other required arguments).
REQUIRED = {
    "dense": dict(in_features=3, out_features=2), "rbf": dict(in_features=2, units=3),
    "batchnorm": dict(num_features=3), "conv1d": dict(in_channels=1, out_channels=2, kernel_size=3),
    "conv2d": dict(in_channels=1, out_channels=2, kernel_size=3), "maxpool1d": dict(kernel_size=2),
    "maxpool2d": dict(kernel_size=2), "avgpool1d": dict(kernel_size=2), "avgpool2d": dict(kernel_size=2),
    "rnn": dict(input_size=2, hidden_size=3), "gru": dict(input_size=2, hidden_size=3),
    "lstm": dict(input_size=2, hidden_size=3), "activation": dict(activation="relu"),
    "multiheadattention": dict(embed_dim=4, num_heads=2), "transformerencoderlayer": dict(d_model=4, nhead=2),
    "convtranspose1d": dict(in_channels=1, out_channels=2, kernel_size=3),
    "convtranspose2d": dict(in_channels=1, out_channels=2, kernel_size=3), "residual": dict(layer=nn.Identity()),
    "graph": dict(inputs=["x"], nodes={}, outputs="x"), "adaptiveavgpool1d": dict(output_size=2),
    "adaptiveavgpool2d": dict(output_size=2), "adaptivemaxpool1d": dict(output_size=2),
    "adaptivemaxpool2d": dict(output_size=2), "layernorm": dict(normalized_shape=3),
    "embedding": dict(num_embeddings=4, embedding_dim=2), "groupnorm": dict(num_groups=1, num_channels=2),
    "instancenorm1d": dict(num_features=3), "instancenorm2d": dict(num_features=3),
}


def _annotated_arguments():
    """(layer name, argument, its annotation) of every annotated constructor argument of the shipped layers."""
    found = []
    for name, record in nn.LAYERS.items():
        if not record.cls.__module__.startswith("nablanet."):
            continue
        hints = typing.get_type_hints(record.cls.__init__)
        for argument in record.arguments:
            if argument in hints and argument != "return":
                found.append((name, argument, hints[argument]))
    return found


ANNOTATED = _annotated_arguments()
# A value of the wrong type for each annotation; a bool is never an int nor a float.
WRONG_TYPE = {int: [2.5, True, "2"], int | None: [2.5, True, "2"], float: ["0.5", True], float | None: ["0.5", False],
              bool: [1, "yes"], bool | None: [1, "yes"], str: [3]}


def test_every_shipped_layer_with_required_arguments_is_in_the_sweep():
    needing = {name for name, record in nn.LAYERS.items() if record.cls.__module__.startswith("nablanet.")
               and any(default is inspect.Parameter.empty for default in record.arguments.values())}
    assert needing == set(REQUIRED)
    assert {hint for _, _, hint in ANNOTATED} <= set(WRONG_TYPE)


@pytest.mark.parametrize("layer, argument, hint", ANNOTATED, ids=[f"{n}-{a}" for n, a, _ in ANNOTATED])
def test_every_annotated_argument_refuses_a_value_of_the_wrong_type(layer, argument, hint):
    for wrong in WRONG_TYPE[hint]:
        arguments = {**REQUIRED.get(layer, {}), argument: wrong}
        with pytest.raises(TypeError, match=f"{argument} must be"):
            nn.LAYERS[layer].cls(**arguments)


@pytest.mark.parametrize("layer, argument, hint",
                         [case for case in ANNOTATED if case[2] in (float, float | None)],
                         ids=[f"{n}-{a}" for n, a, h in ANNOTATED if h in (float, float | None)])
def test_every_real_argument_refuses_nan_and_infinity(layer, argument, hint):
    arguments = dict(REQUIRED.get(layer, {}))
    if argument == "alpha" and layer in ("dense", "conv1d", "conv2d"):
        arguments["activation"] = "leaky_relu"
    for wrong in (NAN, INF, -INF):
        with pytest.raises(ValueError, match=f"{argument} must be"):
            nn.LAYERS[layer].cls(**{**arguments, argument: wrong})


@pytest.mark.parametrize("layer, argument, hint",
                         [case for case in ANNOTATED if case[2] is int and case[1] != "axis"],
                         ids=[f"{n}-{a}" for n, a, h in ANNOTATED if h is int and a != "axis"])
def test_every_size_argument_refuses_zero_and_negative_values(layer, argument, hint):
    for wrong in (0, -3):
        with pytest.raises(ValueError, match=f"{argument} must be a positive integer, got {wrong}"):
            nn.LAYERS[layer].cls(**{**REQUIRED.get(layer, {}), argument: wrong})


FUNCTIONAL_CALLS = {
    "conv-stride-float": (lambda x, w: F.conv(x, w, stride=1.5), TypeError,
                          "conv: stride must be a positive integer or 2 of them, got 1.5 (a float)"),
    "conv-dilation-0": (lambda x, w: F.conv(x, w, dilation=0), ValueError, "conv: dilation must be a positive integer"),
    "conv-padding-negative": (lambda x, w: F.conv(x, w, padding=(0, -1)), ValueError,
                              "conv: padding must be a non-negative integer or 2 of them, got (0, -1)"),
    "max-pool-kernel-0": (lambda x, w: F.max_pool(x, 0), ValueError,
                          "max_pool: kernel_size must be a positive integer or 2 of them, got 0"),
    "avg-pool-stride-0": (lambda x, w: F.avg_pool(x, 2, stride=0), ValueError,
                          "avg_pool: stride must be a positive integer or 2 of them, got 0"),
    "gelu-unknown-form": (lambda x, w: F.gelu(x, "erf"), ValueError,
                          "gelu: approximate must be one of 'none', 'tanh', got 'erf'"),
}


@pytest.mark.parametrize("name", FUNCTIONAL_CALLS)
def test_the_functions_layers_call_refuse_the_same_arguments(name):
    call, error, fragment = FUNCTIONAL_CALLS[name]
    x, w = numpy.zeros((1, 1, 4, 4)), numpy.zeros((1, 1, 2, 2))
    with pytest.raises(error) as caught:
        call(x, w)
    assert type(caught.value) is error and fragment in str(caught.value)


def test_a_pool_refuses_inputs_of_another_number_of_axes():
    # The pool keeps one window size per spatial axis, so an int kernel does not quietly pool other axes.
    with pytest.raises(ValueError, match=r"MaxPool2d: expected input of shape \(N, C, H, W\), got \(1, 1, 4\)"):
        nn.MaxPool2d(2)(numpy.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=r"AvgPool1d: expected input of shape \(N, C, L\), got \(1, 1, 4, 4\)"):
        nn.AvgPool1d(2)(numpy.zeros((1, 1, 4, 4)))

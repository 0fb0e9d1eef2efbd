"""Fused neural-network primitives (``autodiff/ops/nn.py``)."""

import numpy

import nablanet.numpy as np
from op_cases import Case, unary

CASES = {
    "dense": [
        Case(lambda x, W, b, a=act: np.dense(x, W, b, activation=a), ((5, 3), (3, 4), (4,)), id=act)
        for act in ("identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh")
    ] + [
        Case(lambda x, W: np.dense(x, W, None, activation="tanh"), ((5, 3), (3, 4)), id="no-bias"),
        Case(lambda x, W, b: np.dense(x, W, b, activation="sigmoid"), ((2, 5, 3), (3, 4), (4,)), id="3d-input"),
    ],
    "softmax_cross_entropy": [
        Case(lambda z: np.softmax_cross_entropy(z, numpy.array([0, 2, 1, 2])), ((4, 3),), id="labels"),
        Case(lambda z: np.softmax_cross_entropy(z, numpy.array([[0.2, 0.8, 0.0], [0.1, 0.1, 0.8]])), ((2, 3),), id="probabilities"),
        Case(lambda z: np.softmax_cross_entropy(z, numpy.array([0, -100, 1, 2]), ignore_index=-100), ((4, 3),),
             id="ignored-label"),
    ],
    # gamma and beta are drawn like x (standard normal): scales of either sign, shifts away from 0.
    "batch_norm": [
        Case(lambda x, g, b: np.batch_norm(x, g, b), ((6, 3), (3,), (3,)), id="2d"),
        Case(lambda x, g, b: np.batch_norm(x, g, b, eps=0.1), ((4, 3, 5), (3,), (3,)), id="3d-eps"),
        Case(lambda x, g, b: np.batch_norm(x, g, b), ((3, 2, 3, 4), (2,), (2,)), id="4d"),
        # Channels-last in memory, as a convolution's output: the passes run in that order.
        Case(lambda x, g, b: np.batch_norm(np.moveaxis(x, -1, 1), g, b), ((4, 5, 3), (3,), (3,)), id="channels-last"),
    ],
    "relu": unary(np.relu, "nonzero"),
}

# Its derivative is refused with an error (see test_heaviside_refuses_derivatives).
FORWARD_ONLY_OPS = {"heaviside"}

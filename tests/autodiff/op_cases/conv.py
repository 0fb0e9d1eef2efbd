"""Convolution and pooling primitives (``autodiff/ops/conv.py``)."""

import numpy

import nablanet.numpy as np
from op_cases import Case

CASES = {
    "max_pool": [
        Case(lambda x: np.max_pool_windows(x, (2, 2)), ((2, 3, 4, 6),), ("distinct",), id="2d"),
        Case(lambda x: np.max_pool_windows(x, (3,)), ((2, 2, 9),), ("distinct",), id="1d"),
    ],
    # Every window chooses a different offset (row-major index inside the window).
    "window_select": [Case(lambda x: np.window_select(x, (2, 2), numpy.array([[[[0, 2], [3, 1]]]], dtype=numpy.uint8)),
                           ((1, 1, 4, 4),), id="2d")],
    "window_spread": [Case(lambda g: np.window_spread(g, (2,), numpy.array([[[0, 1]]], dtype=numpy.uint8), (1, 1, 4)),
                           ((1, 1, 2),), id="1d")],
    "avg_pool": [
        Case(lambda x: np.avg_pool_windows(x, (2, 3)), ((2, 3, 4, 6),), id="2d"),
        Case(lambda x: np.avg_pool_windows(x, (2,)), ((1, 2, 8),), id="1d"),
    ],
    "im2col": [
        Case(lambda x: np.im2col(x, 3), ((2, 2, 7),), id="1d"),
        Case(lambda x: np.im2col(x, (2, 3), stride=(2, 1), dilation=(1, 2)), ((2, 3, 5, 7),), id="2d-stride-dilation"),
        # One channel: the patch matrix is built offset-major and returned in column order.
        Case(lambda x: np.im2col(x, (3, 2), stride=(1, 2)), ((2, 1, 5, 6),), id="2d-one-channel"),
        # Channels-last in memory: the last kernel axis is copied with the channels in one run.
        Case(lambda x: np.im2col(np.moveaxis(x, -1, 1), (2, 3), stride=(1, 2)), ((2, 4, 7, 3),), id="2d-channels-last"),
    ],
    "convolution": [
        Case(lambda x, W, b: np.convolution(x, W, b, activation="tanh"), ((2, 3, 5, 6), (4, 3, 3, 2), (4,)), id="2d-tanh"),
        Case(lambda x, W: np.convolution(x, W, stride=(2, 1), dilation=(1, 2)), ((2, 2, 6, 7), (3, 2, 2, 3)),
             id="2d-stride-dilation-no-bias"),
        Case(lambda x, W, b: np.convolution(x, W, b, stride=2, activation="elu"), ((2, 3, 9), (2, 3, 3), (2,)),
             id="1d-stride-elu"),
        # x channels-last in memory (as a convolution's output): patch rows are copied in longer runs.
        Case(lambda x, W, b: np.convolution(np.moveaxis(x, -1, 1), W, b, activation="sigmoid"),
             ((2, 5, 6, 3), (2, 3, 2, 3), (2,)), id="2d-channels-last-input"),
        Case(lambda x, W, b: np.convolution(x, W, b, dilation=(2, 1), activation="tanh"), ((2, 1, 6, 5), (3, 1, 2, 3), (3,)),
             id="2d-one-channel"),
    ],
    "col2im": [
        Case(lambda c: np.col2im(c, (2, 3, 5, 6), (3, 2), stride=(2, 2)), ((2, 6, 18),), id="2d-stride"),
        Case(lambda c: np.col2im(c, (1, 2, 6), 3, dilation=2), ((1, 2, 6),), id="1d-dilation"),
    ],
    # The public functions of the pool ops, with windows of unequal sides.
    "max_pool_windows": [Case(lambda x: np.max_pool_windows(x, (1, 3)), ((1, 2, 4, 6),), ("distinct",), id="2d-1x3")],
    "avg_pool_windows": [Case(lambda x: np.avg_pool_windows(x, (3, 1)), ((2, 1, 6, 2),), id="2d-3x1")],
}

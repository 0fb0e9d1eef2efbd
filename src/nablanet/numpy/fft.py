"""numpy.fft with derivatives: ``nablanet.numpy.fft.fft(x)`` (and ``numpy.fft.fft`` of a Tensor) can be differentiated.

The transforms and the shifts are nablanet's (``autodiff/ops/fft.py``); the other names of numpy.fft
(fftfreq, rfftfreq: sample frequencies, constants of the derivative) are NumPy's own.

Example:
    >>> import nablanet.numpy as np
    >>> from nablanet import grad
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> grad(lambda x: np.sum(np.fft.rfft(x).real))(x)   # Re(y_0 + y_1) = sum_j x_j (1 + cos(2 pi j/3))
    array([2. , 0.5, 0.5])
"""

import numpy as _numpy

from nablanet.autodiff.ops.fft import *  # noqa: F401,F403
from nablanet.autodiff.ops.fft import __all__


def __getattr__(name):
    try:
        return getattr(_numpy.fft, name)
    except AttributeError:
        raise AttributeError(f"module 'nablanet.numpy.fft' has no attribute {name!r} (nor has numpy.fft)") from None

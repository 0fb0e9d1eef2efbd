"""The primitives and the public functions built on them (each file: one family of ops)."""

from nablanet.autodiff.ops.shape import *  # noqa: F401,F403
from nablanet.autodiff.ops.elementwise import *  # noqa: F401,F403
from nablanet.autodiff.ops.reduce import *  # noqa: F401,F403
from nablanet.autodiff.ops.linalg import *  # noqa: F401,F403
from nablanet.autodiff.ops.nn import *  # noqa: F401,F403
from nablanet.autodiff.ops.conv import *  # noqa: F401,F403
from nablanet.autodiff.ops.recurrent import *  # noqa: F401,F403
from nablanet.autodiff.ops import conv, elementwise, linalg, nn, recurrent, reduce, shape
# Registered here, exported under their namespaces (nablanet.numpy.fft, nablanet.scipy.special), not at the top.
from nablanet.autodiff.ops import fft, special  # noqa: F401

__all__ = [*shape.__all__, *elementwise.__all__, *reduce.__all__, *linalg.__all__, *nn.__all__, *conv.__all__, *recurrent.__all__]

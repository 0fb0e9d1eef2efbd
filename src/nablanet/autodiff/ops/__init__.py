"""The primitives and the public functions built on them (each file: one family of ops)."""

from nablanet.autodiff.ops.shape import *  # noqa: F401,F403
from nablanet.autodiff.ops.elementwise import *  # noqa: F401,F403
from nablanet.autodiff.ops.trig import *  # noqa: F401,F403
from nablanet.autodiff.ops.reduce import *  # noqa: F401,F403
from nablanet.autodiff.ops.cumulative import *  # noqa: F401,F403
from nablanet.autodiff.ops.sorting import *  # noqa: F401,F403
from nablanet.autodiff.ops.linalg import *  # noqa: F401,F403
from nablanet.autodiff.ops.build import *  # noqa: F401,F403
from nablanet.autodiff.ops.nn import *  # noqa: F401,F403
from nablanet.autodiff.ops.norm import *  # noqa: F401,F403
from nablanet.autodiff.ops.conv import *  # noqa: F401,F403
from nablanet.autodiff.ops.recurrent import *  # noqa: F401,F403
from nablanet.autodiff.ops.control import *  # noqa: F401,F403
from nablanet.autodiff.ops import (build, control, conv, cumulative, elementwise, linalg, nn, norm, recurrent,
                                   reduce, shape, sorting, trig)

# The families whose public functions are NumPy's top-level names (nablanet.numpy re-exports them).
FAMILIES = (shape, elementwise, trig, reduce, cumulative, sorting, linalg, build, nn, norm, conv, recurrent,
            control)

__all__ = [name for family in FAMILIES for name in family.__all__]

# numpy.linalg's names: imported (so their ops register) but not spliced into the top level; the
# namespace nablanet.numpy.linalg re-exports them.
from nablanet.autodiff.ops import factor, linalg_composites, solve, spectral  # noqa: E402,F401

# numpy.fft's and scipy.special's names likewise: the namespaces nablanet.numpy.fft and
# nablanet.scipy.special re-export them.
from nablanet.autodiff.ops import fft, special  # noqa: E402,F401

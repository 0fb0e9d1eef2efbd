"""Layer families, one per file, and the layer registry; each file's __all__ is re-exported by nablanet.nn."""

from nablanet.nn.layers.activation import *  # noqa: F401,F403
from nablanet.nn.layers.attention import *  # noqa: F401,F403
from nablanet.nn.layers.container import *  # noqa: F401,F403
from nablanet.nn.layers.conv import *  # noqa: F401,F403
from nablanet.nn.layers.dense import *  # noqa: F401,F403
from nablanet.nn.layers.dropout import *  # noqa: F401,F403
from nablanet.nn.layers.embedding import *  # noqa: F401,F403
from nablanet.nn.layers.graph import *  # noqa: F401,F403
from nablanet.nn.layers.norm import *  # noqa: F401,F403
from nablanet.nn.layers.pool import *  # noqa: F401,F403
from nablanet.nn.layers.recurrent import *  # noqa: F401,F403
from nablanet.nn.layers.resample import *  # noqa: F401,F403
from nablanet.nn.layers.registry import *  # noqa: F401,F403
from nablanet.nn.layers import (activation, attention, container, conv, dense, dropout, embedding, graph, norm,
                                pool, recurrent, registry, resample)

__all__ = [*activation.__all__, *attention.__all__, *container.__all__, *conv.__all__, *dense.__all__,
           *dropout.__all__, *embedding.__all__, *graph.__all__, *norm.__all__, *pool.__all__, *recurrent.__all__,
           *resample.__all__, *registry.__all__]

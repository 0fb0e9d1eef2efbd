"""stop_gradient against torch's detach."""

import nablanet.numpy as np
from nablanet import stop_gradient
from torch_cases import TorchCase

TORCH_CASES = [
    TorchCase(("stop_gradient",), lambda x: x * stop_gradient(np.sin(x)), lambda x: x * x.sin().detach(),
              ((3, 2),), id="stop_gradient"),
]

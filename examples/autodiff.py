"""The notes' worked examples of automatic differentiation, f(x) = exp(x^2) and f(x) = sqrt(x^2 + exp(x^2)).

Runs nablanet.demos.autodiff: prints values, reverse- and forward-mode derivatives and operation counts.
Usage: python examples/autodiff.py
"""

import sys

from nablanet.demos import autodiff

if __name__ == "__main__":
    sys.exit(autodiff.main())

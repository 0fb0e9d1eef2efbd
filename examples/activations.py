"""The notes' activation functions and their derivatives, the derivatives computed by nablanet's autodiff.
=======================================================================================================

Runs nablanet.demos.activations: prints its tables and writes its PNG files.
Usage: python examples/activations.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import activations

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    activations.main(sys.argv[1:])

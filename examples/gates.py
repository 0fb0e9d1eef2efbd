"""The notes' AND, OR and XOR gates fitted by linear regression, logistic regression and a one-hidden-layer network.

Runs nablanet.demos.gates: prints its tables and writes its PNG files.
Usage: python examples/gates.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import gates

if __name__ == "__main__":
    sys.exit(gates.main(sys.argv[1:]))

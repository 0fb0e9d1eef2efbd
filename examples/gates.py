"""The notes' AND, OR and XOR gates fitted by linear regression, logistic regression and a one-hidden-layer network.
=================================================================================================================

Runs nablanet.demos.gates: prints its tables and writes its PNG files.
Usage: python examples/gates.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import gates

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    gates.main(sys.argv[1:])

"""Rosenblatt's perceptron: one Heaviside unit trained by the perceptron learning rule, which needs no gradient.
=============================================================================================================

Runs nablanet.demos.perceptron: prints its tables and writes its PNG files.
Usage: python examples/perceptron.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import perceptron

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    perceptron.main(sys.argv[1:])

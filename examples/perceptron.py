"""Rosenblatt's perceptron: one Heaviside unit trained by the perceptron learning rule, which needs no gradient.

Runs nablanet.demos.perceptron: prints its tables and writes its PNG files.
Usage: python examples/perceptron.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import perceptron

if __name__ == "__main__":
    sys.exit(perceptron.main(sys.argv[1:]))

"""The universal approximation theorem in numbers: one hidden sigmoid layer of growing width.

Runs nablanet.demos.universal_approximation: prints its tables and writes its PNG files.
Usage: python examples/universal_approximation.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import universal_approximation

if __name__ == "__main__":
    sys.exit(universal_approximation.main(sys.argv[1:]))

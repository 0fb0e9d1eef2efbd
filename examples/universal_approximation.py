"""The universal approximation theorem in numbers: one hidden sigmoid layer of growing width.
==========================================================================================

Runs nablanet.demos.universal_approximation: prints its tables and writes its PNG files.
Usage: python examples/universal_approximation.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import universal_approximation

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    universal_approximation.main(sys.argv[1:])

"""Glorot & Bengio (2010) as the notes tell it: sigmoid with N(0, 1) weights against Glorot's and He's initializations.
====================================================================================================================

Runs nablanet.demos.glorot_bengio: prints its tables and writes its PNG files.
Usage: python examples/glorot_bengio.py [--out DIR] [--quick] [--seed N]
"""

import sys

from nablanet.demos import glorot_bengio

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    glorot_bengio.main(sys.argv[1:])

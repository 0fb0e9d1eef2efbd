"""`python -m nablanet`: the `nablanet` command run as a module."""

import sys

from nablanet.cli.entry import main

sys.exit(main())

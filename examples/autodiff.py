"""The notes' worked examples of automatic differentiation, f(x) = exp(x^2) and f(x) = sqrt(x^2 + exp(x^2)).
=========================================================================================================

Runs nablanet.demos.autodiff: prints values, reverse- and forward-mode derivatives and operation counts.
Usage: python examples/autodiff.py
"""

from nablanet.demos import autodiff

# main raises on a mistake (the exit status is then 1); no sys.exit, so the documentation build can run this page.
if __name__ == "__main__":
    autodiff.main()

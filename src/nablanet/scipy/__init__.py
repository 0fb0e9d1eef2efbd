"""SciPy's names with derivatives: ``from nablanet.scipy import special`` makes scipy.special code differentiable."""

from nablanet.scipy import special

__all__ = ["special"]

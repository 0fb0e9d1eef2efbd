"""nablanet.jit: a function traced once into a flat program of primitive calls on ndarrays, then replayed."""

from nablanet.autodiff.jit.compile import Compiled, jit, make_program
from nablanet.autodiff.jit.program import Program
from nablanet.autodiff.jit.tracing import TracingError, call, clear_grads

__all__ = ["jit", "make_program", "Compiled", "Program", "TracingError", "call", "clear_grads"]

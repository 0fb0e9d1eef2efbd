"""The engine's few switches: gradient recording on/off, active forward-mode levels, op counting."""

from contextlib import contextmanager

# Ops record themselves for reverse mode only while this is True (see no_grad).
grad_enabled = True
# Forward-mode levels now active, outermost first; each jvp call pushes a fresh one.
jvp_levels: list = []
# Number of transforms (grad, jvp, ...) now running; an inner one keeps its results differentiable.
transform_depth = 0
# Whether recording was on where the outermost running transform was called: transforms record
# their own inputs' graph regardless, and keep results connected to closed-over Tensors only then.
outer_grad_enabled = True
# Number of vmap calls now running (each batches its own values); 0 keeps the engine's fast paths.
batch_depth = 0
# The level of the innermost vmap running (0: none): the transforms' new inputs are tagged with it.
batch_level = 0
# An OpCounter while count_ops runs, else None.
counter = None
# A jit Tracer while nablanet.jit records a call, else None.
tracer = None


@contextmanager
def no_grad():
    """Run a block without recording operations for reverse mode (evaluation, optimizer updates).

    Example:
        >>> import nablanet as nn_
        >>> w = nn_.Tensor([1.0, 2.0], requires_grad=True)
        >>> with nn_.no_grad():
        ...     y = w * 2.0
        >>> y.requires_grad
        False
    """
    global grad_enabled
    saved = grad_enabled
    grad_enabled = False
    try:
        yield
    finally:
        grad_enabled = saved


@contextmanager
def enable_grad():
    """Re-enable recording inside a no_grad block."""
    global grad_enabled
    saved = grad_enabled
    grad_enabled = True
    try:
        yield
    finally:
        grad_enabled = saved
